"""datasets.caption_data: users' Flickr8k and COCO copies, the saved split by image,
and one clear error for each fault in them."""

import hashlib
import json
import re

import numpy as np
import pytest
from PIL import Image

from datasets import caption_data
from datasets.caption_data import (
    CaptionData,
    CaptionExample,
    DataError,
    image_problem,
    load_coco,
    load_flickr8k,
    load_user_captions,
    main,
    split_flickr8k,
)

NAMES = [f"{1000 + i}_photo.jpg" for i in range(5)] + ["1005_photo.png"]


def _image(path, seed=0):
    """A small noisy picture, so a JPEG's scan data is longer than its headers."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (24, 32, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return path


def _captions(name):
    return [f"A dog number {k} runs on {name[:4]} ." for k in range(5)]


def _flickr(folder, names=NAMES, lines=None):
    """A Kaggle-layout Flickr8k: Images/ and captions.txt, 5 captions an image."""
    for i, name in enumerate(names):
        _image(folder / "Images" / name, i)
    if lines is None:
        lines = ["image,caption"] + [f"{n},{c}" for n in names for c in _captions(n)]
    (folder / "captions.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


@pytest.fixture
def flickr(tmp_path):
    return _flickr(tmp_path / "flickr8k")


def _coco_file(path, names, first_id, captions=None):
    images = [{"id": first_id + i, "file_name": n, "height": 8} for i, n in enumerate(names)]
    annotations = [
        {
            "image_id": image["id"],
            "id": 10 * image["id"] + k,
            "caption": f"  Photo {image['id']} {k}\n",
        }
        for image in images
        for k in range(5)
    ]
    document = {"info": {}, "images": images, "annotations": annotations}
    if captions is not None:
        captions(document)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document), encoding="utf-8")


def _coco(folder, year="2014", train=4, val=4, change=None):
    """A COCO layout: annotations/captions_{train,val}<year>.json and the image folders."""
    names = {}
    for part, count, first in (("train", train, 1), ("val", val, 100)):
        names[part] = [f"COCO_{part}{year}_{first + i:012d}.jpg" for i in range(count)]
        for i, name in enumerate(names[part]):
            _image(folder / f"{part}{year}" / name, i)
        _coco_file(
            folder / "annotations" / f"captions_{part}{year}.json",
            names[part],
            first,
            change if part == "val" else None,
        )
    return folder


@pytest.fixture
def coco(tmp_path):
    return _coco(tmp_path / "coco")


def _one_line(caught):
    message = str(caught.value)
    assert "\n" not in message
    return message


# ---------------------------------------------------------------------------
# CaptionData


def test_caption_data_counts_and_describe(tmp_path):
    one = CaptionExample(tmp_path / "a.jpg", ("a red circle", "one red circle here"))
    two = CaptionExample(tmp_path / "b.jpg", ("a blue square",))
    data = CaptionData([one, two], [two], [one], source="mine", notes=("a note",))
    assert data.splits() == {"train": [one, two], "validation": [two], "test": [one]}
    assert data.counts()["train"] == {"images": 2, "captions": 3, "words": 10}
    text = data.describe()
    assert text.splitlines()[0] == "source: mine"
    assert "split         images  captions      words  words/caption" in text
    assert re.search(r"^all +4 +6 +20 +3\.3$", text, re.MULTILINE)
    assert text.endswith("note: a note")


# ---------------------------------------------------------------------------
# Flickr8k


def test_flickr8k_kaggle_layout(flickr, data_root):
    data = load_flickr8k(flickr)
    assert {name: c["images"] for name, c in data.counts().items()} == {
        "train": 4,
        "validation": 1,
        "test": 1,
    }
    everything = data.train + data.validation + data.test
    assert sorted(e.image.name for e in everything) == sorted(NAMES)
    for example in everything:
        assert example.image.is_absolute() and example.image.is_file()
        assert example.image.parent == (flickr / "Images").resolve()
        assert example.captions == tuple(_captions(example.image.name))
    assert data.notes == ("captions per image: 5",)
    assert data.source == f"{flickr / 'captions.txt'}: 6 images in Images/"

    sha = hashlib.sha256((flickr / "captions.txt").read_bytes()).hexdigest()
    assert data.split_path == data_root / "captioning" / f"user-{sha[:8]}" / "split.json"
    saved = json.loads(data.split_path.read_text())
    assert saved["format"] == 1 and saved["seed"] == 1234
    assert saved["source"]["layout"] == "flickr8k" and saved["source"]["sha256"] == sha
    assert saved["source"]["files"] == ["captions.txt"]
    assert saved["counts"] == {"train": 4, "validation": 1, "test": 1}
    assert saved["test"] == [data.test[0].image.name]

    # Reused, not redrawn: the same split even when the seed would draw another.
    assert load_flickr8k(flickr).splits() == data.splits()
    assert load_user_captions(flickr).splits() == data.splits()
    with pytest.raises(DataError, match="drawn with seed 1234, not 5; delete .*split.json"):
        load_flickr8k(flickr, seed=5)
    saved["test"] = []
    data.split_path.write_text(json.dumps(saved))
    with pytest.raises(DataError, match=r"does not match the data \(1 images not in it"):
        load_flickr8k(flickr)


def test_flickr8k_captions_with_commas_and_quotes(tmp_path, data_root):
    lines = [
        "image,caption",
        '1000_photo.jpg,"A dog, brown and white, runs ."',
        "1000_photo.jpg,A dog , unquoted , runs .",
        '1001_photo.jpg, "Two ""quoted"" words"',
        '"1001_photo.jpg","A ""sign"" says ""stop"" ."',
        '1001_photo.jpg,"Stop" says the sign .',
        "",
        "1002_photo.jpg,A cat sits .\r",
    ]
    folder = _flickr(tmp_path / "f", NAMES[:3], lines)
    data = load_flickr8k(folder)
    by_name = {e.image.name: e.captions for e in data.train + data.validation + data.test}
    assert by_name == {
        "1000_photo.jpg": ("A dog, brown and white, runs .", "A dog , unquoted , runs ."),
        "1001_photo.jpg": (
            'Two "quoted" words',
            'A "sign" says "stop" .',
            '"Stop" says the sign .',
        ),
        "1002_photo.jpg": ("A cat sits .",),
    }
    assert data.notes[0] == "captions per image: 1 to 3, 2.00 on average"


def test_flickr8k_original_layout(tmp_path, data_root):
    folder = tmp_path / "original"
    for i, name in enumerate(NAMES[:4]):
        _image(folder / "Flicker8k_Dataset" / name, i)
    token = folder / "Flickr8k_text" / "Flickr8k.token.txt"
    token.parent.mkdir()
    token.write_text(
        "".join(f"{n}#{k}\t{c}\n" for n in NAMES[:4] for k, c in enumerate(_captions(n))),
        encoding="utf-8",
    )
    data = load_user_captions(folder)
    assert sum(c["captions"] for c in data.counts().values()) == 20
    assert data.train[0].captions == tuple(_captions(data.train[0].image.name))
    assert json.loads(data.split_path.read_text())["source"]["files"] == [
        "Flickr8k_text/Flickr8k.token.txt"
    ]


def test_flickr8k_prefers_captions_txt(flickr, data_root):
    (flickr / "Flickr8k.token.txt").write_text("not read\n")
    data = load_flickr8k(flickr)
    assert "read captions.txt; Flickr8k.token.txt was ignored" in data.notes


def test_split_flickr8k_sizes():
    sizes = lambda n: {k: len(v) for k, v in split_flickr8k([f"{i}.jpg" for i in range(n)]).items()}  # noqa: E731
    assert sizes(8091) == {"train": 6091, "validation": 1000, "test": 1000}
    assert sizes(8000) == {"train": 6000, "validation": 1000, "test": 1000}
    assert sizes(100) == {"train": 74, "validation": 13, "test": 13}
    assert sizes(3) == {"train": 1, "validation": 1, "test": 1}
    ids = [f"{i}.jpg" for i in range(50)]
    split = split_flickr8k(ids, seed=3)
    assert sorted(sum(split.values(), [])) == sorted(ids)
    assert split == split_flickr8k(list(reversed(ids)), seed=3)
    assert split != split_flickr8k(ids, seed=4)
    with pytest.raises(DataError, match="2 images; at least 3"):
        split_flickr8k(ids[:2])


# ---------------------------------------------------------------------------
# Flickr8k errors


def _body(names=NAMES):
    return ["image,caption"] + [f"{n},{c}" for n in names for c in _captions(n)]


@pytest.mark.parametrize(
    "lines,message",
    [
        (
            _body()[:3] + ["1002_photo.jpg A cat"] + _body()[3:],
            r"captions.txt:4: no comma; expected image,caption$",
        ),
        (
            ["filename,text"] + _body()[1:],
            r"captions.txt:1: 'filename' is not an image file name .*expected image,caption with that header",
        ),
        (
            _body()[:2] + ["x", "y"] + _body()[2:],
            r"captions.txt:3: no comma; expected image,caption \(1 more lines that do not parse\)$",
        ),
        (
            _body()[:5] + [",A caption"] + _body()[5:],
            r"captions.txt:6: the image name \(field 1\) is empty",
        ),
        (["image,caption", ""], r"captions.txt: no captions, only a header"),
        (["", "  "], r"captions.txt is empty"),
    ],
)
def test_flickr8k_lines_that_do_not_parse(tmp_path, data_root, lines, message):
    folder = _flickr(tmp_path / "f", NAMES, lines)
    with pytest.raises(DataError, match=message) as caught:
        load_flickr8k(folder)
    assert str(folder / "captions.txt") in _one_line(caught)
    # Structural faults are errors even when bad data is skipped.
    with pytest.raises(DataError, match=message):
        load_flickr8k(folder, skip_bad=True)


def test_flickr8k_token_line_that_does_not_parse(tmp_path, data_root):
    folder = tmp_path / "f"
    for name in NAMES[:3]:
        _image(folder / "Flicker8k_Dataset" / name)
    (folder / "Flickr8k.token.txt").write_text(
        "1000_photo.jpg#0\tA dog .\n1001_photo.jpg\tNo number .\n1002_photo.jpg#x\tBad .\n"
    )
    with pytest.raises(DataError) as caught:
        load_flickr8k(folder)
    assert _one_line(caught) == (
        f"{folder / 'Flickr8k.token.txt'}:2: expected name.jpg#N<TAB>caption "
        "(1 more lines that do not parse)"
    )


def test_flickr8k_not_utf8(tmp_path, data_root):
    folder = _flickr(tmp_path / "f")
    (folder / "captions.txt").write_bytes(b"image,caption\n1000_photo.jpg,Caf\xe9 .\n")
    with pytest.raises(DataError, match=r"captions.txt:2: not UTF-8: byte 0xe9"):
        load_flickr8k(folder)


def test_missing_folders_and_files(tmp_path, data_root):
    with pytest.raises(DataError, match=r"nowhere: no such folder$"):
        load_flickr8k(tmp_path / "nowhere")
    with pytest.raises(DataError, match=r"nowhere: no such folder$"):
        load_user_captions(tmp_path / "nowhere")
    empty = tmp_path / "empty"
    (empty / "Images").mkdir(parents=True)
    with pytest.raises(DataError) as caught:
        load_flickr8k(empty)
    assert _one_line(caught) == (
        f"{empty}: no Flickr8k captions file; looked for captions.txt, Flickr8k.token.txt, "
        "Flickr8k_text/Flickr8k.token.txt"
    )
    (empty / "Images").rmdir()
    (empty / "captions.txt").write_text("image,caption\n")
    with pytest.raises(DataError, match=r"no Flickr8k image folder; looked for Images/, images/"):
        load_flickr8k(empty)
    with pytest.raises(DataError) as caught:
        load_coco(empty)
    assert _one_line(caught) == (
        f"{empty}: no COCO captions files; looked for annotations/captions_train2014.json and "
        "annotations/captions_val2014.json or annotations/captions_train2017.json and "
        "annotations/captions_val2017.json"
    )
    (empty / "captions.txt").unlink()
    with pytest.raises(DataError) as caught:
        load_user_captions(empty)
    message = _one_line(caught)
    assert message.startswith(
        f"{empty}: neither a Flickr8k nor a COCO layout; expected captions.txt"
    )
    assert "annotations/captions_train2014.json" in message


def test_flickr8k_empty_caption(tmp_path, data_root):
    lines = _body()
    lines[3] = "1000_photo.jpg,  "
    lines[12] = '1001_photo.jpg,""'
    folder = _flickr(tmp_path / "f", NAMES, lines)
    with pytest.raises(DataError) as caught:
        load_flickr8k(folder)
    assert _one_line(caught) == (
        f"{folder / 'captions.txt'}:4: the caption is empty (1 more empty captions)"
    )
    data = load_flickr8k(folder, skip_bad=True)
    assert sum(c["captions"] for c in data.counts().values()) == 28
    assert f"skipped 2 empty captions (the first at {folder / 'captions.txt'}:4)" in data.notes
    assert data.notes[0] == "captions per image: 4 to 5, 4.67 on average"


def test_flickr8k_image_listed_but_missing(tmp_path, data_root):
    names = [f"{2000 + i}_photo.jpg" for i in range(12)]
    folder = _flickr(tmp_path / "f", names)
    train = {e.image.name for e in load_flickr8k(folder).train}
    gone = [n for n in names if n in train][1:3]
    for name in gone:
        (folder / "Images" / name).unlink()
    line = 2 + 5 * names.index(gone[0])
    with pytest.raises(DataError) as caught:
        load_flickr8k(folder)
    assert _one_line(caught) == (
        f"{folder / 'captions.txt'}: 2 listed images are not in {folder / 'Images'}; "
        f"the first is {gone[0]} (line {line})"
    )
    data = load_flickr8k(folder, skip_bad=True)
    assert {name: c["images"] for name, c in data.counts().items()} == {
        "train": 6,
        "validation": 2,
        "test": 2,
    }
    assert f"skipped 2 listed images not in {folder / 'Images'} (the first is {gone[0]})" in (
        data.notes
    )
    # The split is drawn over every listed image, so fixing the folder keeps it.
    for name in gone:
        _image(folder / "Images" / name)
    assert {e.image.name for e in load_flickr8k(folder).train} == train


@pytest.mark.parametrize(
    "content,problem",
    [
        (b"not an image at all", r"not a readable image \(cannot identify image file .*\)"),
        ("truncated", r"a truncated JPEG \(no end-of-image marker\)"),
        ("gif", r"a GIF image; JPEG or PNG expected"),
    ],
)
def test_flickr8k_broken_image(tmp_path, data_root, content, problem):
    folder = _flickr(tmp_path / "f")
    bad = folder / "Images" / NAMES[1]
    if content == "truncated":
        bad.write_bytes(bad.read_bytes()[:-40])
    elif content == "gif":
        Image.new("RGB", (4, 4)).save(bad, format="GIF")
    else:
        bad.write_bytes(content)
    with pytest.raises(DataError, match=rf"^{re.escape(str(bad))}: {problem}$") as caught:
        load_flickr8k(folder)
    _one_line(caught)
    data = load_flickr8k(folder, skip_bad=True)
    assert NAMES[1] not in {e.image.name for e in data.train + data.validation + data.test}
    assert any(n.startswith(f"skipped 1 broken images (the first is {bad}: ") for n in data.notes)


def test_broken_png_and_the_count(tmp_path, data_root):
    folder = _flickr(tmp_path / "f")
    png = folder / "Images" / NAMES[5]
    raw = bytearray(png.read_bytes())
    raw[40] ^= 0xFF  # inside the image data: its CRC no longer matches
    png.write_bytes(bytes(raw))
    (folder / "Images" / NAMES[0]).write_bytes(b"")
    with pytest.raises(DataError) as caught:
        load_flickr8k(folder)
    message = _one_line(caught)
    assert message.startswith(f"{folder / 'Images' / NAMES[0]}: not a readable image")
    assert message.endswith("(2 broken images in all)")
    assert image_problem(png).startswith("not a readable image")
    assert image_problem(folder / "Images" / NAMES[1]) == ""


def test_flickr8k_image_with_no_caption(flickr, data_root):
    _image(flickr / "Images" / "9999_extra.jpg")
    _image(flickr / "Images" / "zz" / "8888_nested.png")
    (flickr / "Images" / "readme.txt").write_text("not an image")
    with pytest.raises(DataError) as caught:
        load_flickr8k(flickr)
    assert _one_line(caught) == (
        f"{flickr / 'Images'}: 2 images have no caption in {flickr / 'captions.txt'}; "
        "the first is 9999_extra.jpg"
    )
    data = load_flickr8k(flickr, skip_bad=True)
    assert sum(c["images"] for c in data.counts().values()) == 6
    assert any(n.startswith("left out 2 images of") for n in data.notes)


def test_too_few_images(tmp_path, data_root):
    folder = _flickr(tmp_path / "f", NAMES[:2])
    with pytest.raises(DataError, match=r"captions.txt: 2 images; at least 3 are needed to split"):
        load_flickr8k(folder)
    folder = _flickr(tmp_path / "g", NAMES[:3])
    (folder / "Images" / NAMES[0]).unlink()
    (folder / "Images" / NAMES[1]).unlink()
    with pytest.raises(DataError, match="no usable image left in .* after skipping bad ones"):
        load_flickr8k(folder, skip_bad=True)


# ---------------------------------------------------------------------------
# COCO


def test_coco_layout(coco, data_root):
    data = load_coco(coco)
    assert {name: c["images"] for name, c in data.counts().items()} == {
        "train": 4,
        "validation": 2,
        "test": 2,
    }
    assert {e.image.parent.name for e in data.train} == {"train2014"}
    assert {e.image.parent.name for e in data.validation + data.test} == {"val2014"}
    assert all(len(e.captions) == 5 and e.image.is_file() for e in data.train + data.test)
    first = min(data.train, key=lambda e: e.image.name)
    assert first.captions == tuple(f"Photo 1 {k}" for k in range(5))
    assert data.source == f"{coco}: COCO 2014 captions, 4 train and 4 val images"
    raw = b"".join(
        (coco / "annotations" / f"captions_{p}2014.json").read_bytes() for p in ("train", "val")
    )
    sha = hashlib.sha256(raw).hexdigest()
    assert data.split_path == data_root / "captioning" / f"user-{sha[:8]}" / "split.json"
    saved = json.loads(data.split_path.read_text())
    assert saved["source"]["layout"] == "coco-2014"
    assert saved["train"] == sorted(f"train2014/{e.image.name}" for e in data.train)
    assert load_user_captions(coco).splits() == data.splits()
    with pytest.raises(DataError, match="drawn with seed 1234, not 9"):
        load_coco(coco, seed=9)


def test_coco_2017_and_an_odd_val_count(tmp_path, data_root):
    folder = _coco(tmp_path / "coco", year="2017", train=3, val=5)
    data = load_user_captions(folder)
    assert {name: c["images"] for name, c in data.counts().items()} == {
        "train": 3,
        "validation": 2,
        "test": 3,
    }
    assert {e.image.parent.name for e in data.test} == {"val2017"}


def _val_json(folder):
    return folder / "annotations" / "captions_val2014.json"


@pytest.mark.parametrize(
    "change,message",
    [
        (
            lambda d: d.pop("annotations"),
            r"captions_val2014.json: no 'annotations' list; expected a COCO",
        ),
        (
            lambda d: d["images"][1].pop("file_name"),
            r"captions_val2014.json: images\[1\] lacks 'id' or 'file_name'$",
        ),
        (
            lambda d: d["images"][2].update(id=100),
            r"captions_val2014.json: images\[2\] repeats image id 100$",
        ),
        (
            lambda d: d["annotations"][3].update(image_id=7),
            r"captions_val2014.json: annotations\[3\] \(id 1003\) names image 7, which is not in images$",
        ),
        (
            lambda d: d["annotations"][3].pop("caption"),
            r"captions_val2014.json: annotations\[3\] lacks a 'caption' string$",
        ),
    ],
)
def test_coco_files_that_do_not_fit(tmp_path, data_root, change, message):
    folder = _coco(tmp_path / "coco", change=change)
    with pytest.raises(DataError, match=message) as caught:
        load_coco(folder, skip_bad=True)
    assert _one_line(caught).startswith(str(_val_json(folder)))


def test_coco_not_json(coco, data_root):
    _val_json(coco).write_text('{"images": [\n{"id": 1,}\n]}')
    with pytest.raises(DataError) as caught:
        load_coco(coco)
    assert _one_line(caught) == (
        f"{_val_json(coco)}:2: not valid JSON "
        "(Expecting property name enclosed in double quotes, column 10)"
    )


def test_coco_empty_caption_names_the_annotation(tmp_path, data_root):
    folder = _coco(tmp_path / "coco", change=lambda d: d["annotations"][6].update(caption=" \n"))
    with pytest.raises(DataError) as caught:
        load_coco(folder)
    assert _one_line(caught) == (
        f"{_val_json(folder)}: annotation 1011 (image id 101): the caption is empty"
    )
    data = load_coco(folder, skip_bad=True)
    assert data.notes[0] == "captions per image: 4 to 5, 4.88 on average"


def test_coco_missing_image_and_image_with_no_caption(tmp_path, data_root):
    folder = _coco(tmp_path / "coco")
    missing = folder / "val2014" / "COCO_val2014_000000000102.jpg"
    missing.unlink()
    with pytest.raises(DataError) as caught:
        load_coco(folder)
    assert _one_line(caught) == (
        f"{_val_json(folder)}: 1 listed images are not in {folder / 'val2014'}; the first is "
        f"{missing.name} (image id 102)"
    )
    data = load_coco(folder, skip_bad=True)
    assert sum(c["images"] for c in data.counts().values()) == 7

    def drop(document):
        document["annotations"] = [a for a in document["annotations"] if a["image_id"] != 103]

    folder = _coco(tmp_path / "coco2", change=drop)
    with pytest.raises(DataError) as caught:
        load_coco(folder)
    assert _one_line(caught) == (
        f"{_val_json(folder)}: 1 images have no caption; the first is "
        "COCO_val2014_000000000103.jpg (image id 103)"
    )
    data = load_coco(folder, skip_bad=True)
    assert any(n.startswith("left out 1 images of captions_val2014.json") for n in data.notes)
    _image(folder / "train2014" / "stray.jpg")
    with pytest.raises(
        DataError, match=r"train2014: 1 images have no caption in .*; the first is stray.jpg$"
    ):
        load_coco(folder)


def test_coco_missing_image_folder(coco, data_root):
    for path in (coco / "val2014").iterdir():
        path.unlink()
    (coco / "val2014").rmdir()
    with pytest.raises(
        DataError, match=r"coco: no image folder val2014/ for captions_val2014.json$"
    ):
        load_coco(coco)


# ---------------------------------------------------------------------------
# The command line


def test_main_describes_or_reports_one_line(flickr, data_root, capsys):
    assert main([str(flickr)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^all +6 +30 ", out, re.MULTILINE)
    assert "note: captions per image: 5" in out
    (flickr / "Images" / NAMES[0]).unlink()
    assert main([str(flickr)]) == 2
    err = capsys.readouterr().err
    assert (
        err.startswith(f"error: {flickr / 'captions.txt'}: 1 listed images")
        and err.count("\n") == 1
    )
    assert main([str(flickr), "--skip-bad"]) == 0
    assert caption_data.SPLIT_SEED == 1234
