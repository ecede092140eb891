"""Images with captions for the captioning app: the common type, and users' Flickr8k and COCO copies.

A captioning set is three lists of `CaptionExample`: an image file's path and
its reference captions. Nothing here keeps pixels: the loaders only check
that the files are there and are whole JPEG or PNG images (decoding each once,
see `image_problem`), and the app decodes them in the TF graph. The default
data, generated scenes of coloured shapes, is in `datasets.scenes`; this
module reads the two common real layouts, for users who bring their own copy
(nothing is downloaded):

- Flickr8k, as on Kaggle: `Images/` beside `captions.txt`, a CSV file with the
  header `image,caption` and one caption a line (5 per image). The original
  release is read as well: `Flickr8k.token.txt` (`name.jpg#0<TAB>caption`, at
  the top or in `Flickr8k_text/`) beside `Flicker8k_Dataset/` (sic). When both
  caption files are there, `captions.txt` is read and the other ignored.
  Any set of your own in this layout works too, with any number of captions
  per image.
- COCO captions: `annotations/captions_train2014.json` and
  `annotations/captions_val2014.json` (the `images` and `annotations` keys)
  beside the image folders `train2014/` and `val2014/`; or the same with 2017.
  When both years are there, 2014 is read.

Rules applied here:

- files are UTF-8 (a byte-order mark is allowed). In `captions.txt` a caption
  may hold commas, quoted or not: everything after the first comma is the
  caption. Captions and names are stripped; blank lines are skipped;
- a line that does not parse is always an error naming `path:line` (the
  first one; the others are counted). So are a caption file that is missing
  (the message lists the files looked for) and a COCO file that is not JSON or
  lacks its keys;
- the data's own faults fail the load by default, each with a one-line
  `DataError` naming the file, the line or the image: an empty caption
  (`path:line`, or the COCO annotation), an image listed but missing (the
  first and a count), an image that is not a whole JPEG or PNG (checked with
  Pillow's `Image.open(...).verify()`, a JPEG must end with its end-of-image
  marker and a PNG with its IEND chunk, which catches truncated downloads, and
  Pillow must decode the pixels, see `image_problem`), an image file with
  no caption. With `skip_bad=True` each of these is left out instead, with a
  warning and one line in `notes` per kind;
- the split is by image, so an image's captions stay together. Flickr8k's is
  drawn at random with a seed: validation and test take 1,000 images each,
  the sizes of the standard 6,000 / 1,000 / 1,000 split, or an eighth of the
  images each (at least 1) when there are fewer than 8,000; train gets the
  rest. COCO's train split is the train file; the images of the val file are
  shuffled with the seed and cut in half, validation then test. The split
  is drawn over every image the caption files name, before any is skipped,
  and saved as `<root>/captioning/user-<first 8 hex of the caption files'
  SHA-256>/split.json`. Later loads reuse the saved file, so the split never
  moves when code or library versions change; data that no longer matches it
  is an error. Delete the file to draw a new one.

The data root is `$SEQLIB_DATA` when set, else `<repo>/data` (git-ignored).
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from datasets.fetch import DataError, data_root, path_text, read_utf8, split_lines
from datasets.saved_split import SPLITS, SavedSplit
from datasets.splits import ROOT_HELP, Column, SplitData, run_main

__all__ = [
    "CaptionData",
    "CaptionExample",
    "DataError",
    "SPLIT_SEED",
    "data_root",
    "image_problem",
    "load_coco",
    "load_flickr8k",
    "load_user_captions",
    "split_flickr8k",
]

logger = logging.getLogger(__name__)

SPLIT_SEED = 1234
SPLIT_FORMAT = 1
# Flickr8k's standard split is 6,000 / 1,000 / 1,000 images.
HELD_IMAGES = 1000
HELD_FRACTION = 1 / 8
# Fewer images cannot give every split one.
MIN_IMAGES = 3

FLICKR_CAPTIONS = ("captions.txt", "Flickr8k.token.txt", "Flickr8k_text/Flickr8k.token.txt")
FLICKR_IMAGES = ("Images", "images", "Flicker8k_Dataset", "Flickr8k_Dataset")
COCO_YEARS = ("2014", "2017")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
# A JPEG ends with FF D9, a PNG with its IEND chunk (and that chunk's CRC); a
# few writers append padding, so look for them in the last 4 KiB.
_TAIL = 4096
_PNG_END = b"IEND\xaeB`\x82"

_CSV_LAYOUT = "image,caption"
_TOKEN_LAYOUT = "name.jpg#N<TAB>caption"


@dataclasses.dataclass(frozen=True)
class CaptionExample:
    """One image and its reference captions.

    Args:
        image: the image file, an absolute path (JPEG or PNG).
        captions: its captions, in file order; at least one.
    """

    image: Path
    captions: tuple[str, ...]


class CaptionData(SplitData[list[CaptionExample]]):
    """The three splits of a set of captioned images.

    Args:
        train: list of `CaptionExample`.
        validation: list of `CaptionExample`.
        test: list of `CaptionExample`; no image is in two splits.
        source: where the images came from, in words.
        split_path: the saved split file these splits follow; None for
            generated data.
        notes: what was skipped while reading, and how the data was made,
            one line each.
    """

    COLUMNS = (Column("images", 9, ","), Column("captions", 10, ","), Column("words", 11, ","))
    RATIO = Column("words/caption", 15, ".1f")

    def count(self, examples: list[CaptionExample]) -> dict[str, int]:
        """Images, captions, and words (runs without spaces) of the captions, of one split."""
        return {
            "images": len(examples),
            "captions": sum(len(e.captions) for e in examples),
            "words": sum(len(c.split()) for e in examples for c in e.captions),
        }

    def ratio(self, row: dict[str, int]) -> float:
        """Words per caption."""
        return row["words"] / row["captions"] if row["captions"] else float("nan")


# ---------------------------------------------------------------------------
# Images


def image_problem(path: str | os.PathLike) -> str:
    """What is wrong with an image file, `""` when it is a whole JPEG or PNG.

    Pillow reads the header and runs `verify()` (for PNG that checks every
    chunk's CRC); a JPEG must end with its end-of-image marker and a PNG with
    its IEND chunk, which a truncated file lacks; then Pillow decodes the
    pixels (a JPEG at an eighth of its size, which still reads every block), as
    the headers and the checksums leave a broken Huffman table or a corrupt
    deflate stream for the TF graph to fail on.
    """
    path = Path(path)
    try:
        with Image.open(path) as image:
            kind = image.format
            image.verify()
    except Exception as error:  # Pillow raises many kinds for a broken file.
        return f"not a readable image ({_one_line(error)})"
    if kind not in ("JPEG", "PNG"):
        return f"a {kind} image; JPEG or PNG expected"
    with open(path, "rb") as f:
        f.seek(max(0, path.stat().st_size - _TAIL))
        tail = f.read()
    if kind == "JPEG" and b"\xff\xd9" not in tail:
        return "a truncated JPEG (no end-of-image marker)"
    if kind == "PNG" and _PNG_END not in tail:
        return "a truncated PNG (no IEND chunk)"
    try:
        with Image.open(path) as image:
            image.draft("RGB", (max(1, image.width // 8), max(1, image.height // 8)))
            image.load()
    except Exception as error:
        return f"not a readable image ({_one_line(error)})"
    return ""


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text or type(error).__name__


def _image_files(folder: Path) -> list[str]:
    """Every JPEG or PNG under `folder`, by suffix, as paths relative to it, sorted."""
    return sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()
    )


# ---------------------------------------------------------------------------
# Reading caption files


@dataclasses.dataclass
class _Captions:
    """What one caption file says: each image's captions in order, where each image
    is first named (`"line 12"`, `"image id 9"`), and the empty captions found as
    `(image, "<path>:<line>")`."""

    path: Path
    by_image: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    where: dict[str, str] = dataclasses.field(default_factory=dict)
    empty: list[tuple[str, str]] = dataclasses.field(default_factory=list)

    def add(self, name: str, caption: str, where: str, at: str) -> None:
        self.by_image.setdefault(name, [])
        self.where.setdefault(name, where)
        if caption:
            self.by_image[name].append(caption)
        else:
            self.empty.append((name, at))


def _read_text(path: Path) -> tuple[bytes, str]:
    raw, text = read_utf8(path)
    if not text.strip():
        raise DataError(f"{path} is empty")
    return raw, text


def _csv_line(line: str) -> tuple[str, str] | str:
    """`(image, caption)` from a line of captions.txt, or what is wrong with it.

    The caption is everything after the first comma. A caption in double
    quotes (as pandas and Python's csv write one that holds a comma or a
    quote) is unquoted; other quote marks are kept as text.
    """
    name, comma, caption = line.partition(",")
    if not comma:
        return f"no comma; expected {_CSV_LAYOUT}"
    name, caption = _unquote(name.strip()), _unquote(caption.strip())
    if not name:
        return "the image name (field 1) is empty"
    if not name.lower().endswith(IMAGE_SUFFIXES):
        return (
            f"{name[:40]!r} is not an image file name ({', '.join(IMAGE_SUFFIXES)}); "
            f"expected {_CSV_LAYOUT} with that header"
        )
    return name, caption.strip()


def _unquote(text: str) -> str:
    """`text` without its CSV quotes when it is exactly one quoted field, else as it is."""
    if not text.startswith('"'):
        return text
    try:
        fields = next(csv.reader([text], strict=True))
    except csv.Error:
        return text
    return fields[0] if len(fields) == 1 else text


def _token_line(line: str) -> tuple[str, str] | str:
    """`(image, caption)` from a line of Flickr8k.token.txt, or what is wrong with it."""
    key, tab, caption = line.partition("\t")
    name, hash_sign, number = key.strip().rpartition("#")
    if not tab or not hash_sign or not number.isdigit() or not name:
        return f"expected {_TOKEN_LAYOUT}"
    return name, caption.strip()


def _read_flickr_captions(path: Path) -> tuple[bytes, _Captions]:
    raw, text = _read_text(path)
    token = path.name.endswith(".token.txt")
    parse = _token_line if token else _csv_line
    captions, bad, first = _Captions(path), [], True
    for number, line in enumerate(split_lines(text), start=1):
        if not line.strip():
            continue
        if first and not token and "".join(line.split()).lower() == _CSV_LAYOUT:
            first = False
            continue
        first = False
        parsed = parse(line)
        if isinstance(parsed, str):
            bad.append((number, parsed))
            continue
        captions.add(*parsed, f"line {number}", f"{path}:{number}")
    if bad:
        number, problem = bad[0]
        more = f" ({len(bad) - 1} more lines that do not parse)" if len(bad) > 1 else ""
        raise DataError(f"{path}:{number}: {problem}{more}")
    if not captions.by_image:
        raise DataError(f"{path}: no captions, only a header")
    return raw, captions


def _read_json(path: Path) -> tuple[bytes, dict]:
    raw, text = _read_text(path)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise DataError(
            f"{path}:{error.lineno}: not valid JSON ({error.msg}, column {error.colno})"
        ) from None
    except ValueError as error:  # an integer of more digits than Python reads
        raise DataError(f"{path}: not valid JSON ({error})") from None
    except RecursionError:
        raise DataError(f"{path}: not valid JSON (lists or objects nested too deeply)") from None
    return raw, document


def _is_id(value) -> bool:
    # JSON numbers and strings; lists and objects cannot be looked up.
    return isinstance(value, (int, float, str)) and not isinstance(value, bool)


def _json_shown(value, limit: int = 40) -> str:
    """A JSON value for a message: as JSON writes it (on one line), cut after `limit`."""
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"


def _read_coco_captions(path: Path) -> tuple[bytes, _Captions]:
    """The captions of one COCO file, by `file_name`."""
    raw, document = _read_json(path)
    expected = "a COCO captions file with images and annotations lists"
    for key in ("images", "annotations"):
        if not isinstance(document, dict) or not isinstance(document.get(key), list):
            raise DataError(f"{path}: no {key!r} list; expected {expected}")
    captions, names = _Captions(path), {}
    for i, image in enumerate(document["images"]):
        if not isinstance(image, dict) or "id" not in image or "file_name" not in image:
            raise DataError(f"{path}: images[{i}] lacks 'id' or 'file_name'")
        if not _is_id(image["id"]):
            raise DataError(
                f"{path}: images[{i}] has the id {_json_shown(image['id'])}; "
                "expected a number or a string"
            )
        if not isinstance(image["file_name"], str):
            raise DataError(
                f"{path}: images[{i}] has the file_name {_json_shown(image['file_name'])}; "
                "expected a string"
            )
        name = image["file_name"].strip()
        if image["id"] in names:
            raise DataError(f"{path}: images[{i}] repeats image id {_json_shown(image['id'])}")
        names[image["id"]] = name
        captions.by_image.setdefault(name, [])
        captions.where.setdefault(name, f"image id {_json_shown(image['id'])}")
    for i, annotation in enumerate(document["annotations"]):
        if not isinstance(annotation, dict) or not isinstance(annotation.get("caption"), str):
            raise DataError(f"{path}: annotations[{i}] lacks a 'caption' string")
        image_id = annotation.get("image_id")
        if not _is_id(image_id) or image_id not in names:
            raise DataError(
                f"{path}: annotations[{i}] (id {_json_shown(annotation.get('id'))}) names image "
                f"{_json_shown(image_id)}, which is not in images"
            )
        at = (
            f"{path}: annotation {_json_shown(annotation.get('id', i))} "
            f"(image id {_json_shown(image_id)})"
        )
        captions.add(names[image_id], annotation["caption"].strip(), "", at)
    if not names:
        raise DataError(f"{path}: no images")
    return raw, captions


# ---------------------------------------------------------------------------
# Checking the images


def _check_images(
    captions: _Captions, folder: Path, prefix: str, skip_bad: bool, notes: list[str]
) -> dict[str, CaptionExample]:
    """Checks the images one caption file names against `folder`.

    Returns `{prefix + name: CaptionExample}` for the usable images; raises
    DataError for the first kind of fault unless `skip_bad`, when it adds a
    note per kind instead.
    """

    def fault(message: str, note: str) -> None:
        if not skip_bad:
            raise DataError(message)
        logger.warning("%s", note)
        notes.append(note)

    if captions.empty:
        count, at = len(captions.empty), captions.empty[0][1]
        more = f" ({count - 1} more empty captions)" if count > 1 else ""
        fault(
            f"{at}: the caption is empty{more}",
            f"skipped {count} empty captions (the first at {at})",
        )
        emptied = {name for name, _ in captions.empty if not captions.by_image[name]}
        if emptied:
            notes.append(f"left out {len(emptied)} images whose every caption is empty")
    else:
        emptied = set()
    uncaptioned = [
        name for name, texts in captions.by_image.items() if not texts and name not in emptied
    ]
    if uncaptioned:
        count, first = len(uncaptioned), uncaptioned[0]
        fault(
            f"{captions.path}: {count} images have no caption; the first is {first} "
            f"({captions.where[first]})",
            f"left out {count} images of {captions.path.name} with no caption "
            f"(the first is {first})",
        )
    names = [name for name, texts in captions.by_image.items() if texts]

    missing = [name for name in names if not (folder / name).is_file()]
    if missing:
        count, first = len(missing), missing[0]
        fault(
            f"{captions.path}: {count} listed images are not in {folder}; the first is "
            f"{first} ({captions.where[first]})",
            f"skipped {count} listed images not in {folder} (the first is {first})",
        )
    absent = set(missing)
    broken = []
    for name in names:
        if name not in absent:
            problem = image_problem(folder / name)
            if problem:
                broken.append((name, problem))
    if broken:
        (first, problem), count = broken[0], len(broken)
        in_all = f" ({count} broken images in all)" if count > 1 else ""
        fault(
            f"{folder / first}: {problem}{in_all}",
            f"skipped {count} broken images (the first is {folder / first}: {problem})",
        )
    listed = set(captions.by_image)
    unlisted = [name for name in _image_files(folder) if name not in listed]
    if unlisted:
        count, first = len(unlisted), unlisted[0]
        fault(
            f"{folder}: {count} images have no caption in {captions.path}; the first is {first}",
            f"left out {count} images of {folder} with no caption (the first is {first})",
        )
    bad = absent | {name for name, _ in broken}
    base = folder.resolve()
    return {
        prefix + name: CaptionExample(base / name, tuple(captions.by_image[name]))
        for name in names
        if name not in bad
    }


# ---------------------------------------------------------------------------
# The split


def _held_size(n: int) -> int:
    return min(HELD_IMAGES, max(1, int(n * HELD_FRACTION + 0.5)))


def split_flickr8k(ids: Sequence[str], seed: int = SPLIT_SEED) -> dict[str, list[str]]:
    """Splits image ids at random: 1,000 each for validation and test, or an eighth
    of the ids each (at least 1) below 8,000 ids; train gets the rest.

    Returns:
        `{"train": [...], "validation": [...], "test": [...]}`, each sorted.

    Raises:
        DataError: fewer than 3 ids.
    """
    ids = sorted(ids)
    if len(ids) < MIN_IMAGES:
        raise DataError(f"{len(ids)} images; at least {MIN_IMAGES} are needed to split")
    held = _held_size(len(ids))
    order = np.random.default_rng(seed).permutation(len(ids))
    parts = {"test": order[:held], "validation": order[held : 2 * held], "train": order[2 * held :]}
    return {name: sorted(ids[i] for i in parts[name]) for name in SPLITS}


def _split_coco(train: Sequence[str], val: Sequence[str], seed: int) -> dict[str, list[str]]:
    """Train is `train`; `val` is shuffled and cut in half, validation then test."""
    val = sorted(val)
    order = np.random.default_rng(seed).permutation(len(val))
    half = len(val) // 2
    return {
        "train": sorted(train),
        "validation": sorted(val[i] for i in order[:half]),
        "test": sorted(val[i] for i in order[half:]),
    }


def _make_data(
    examples: dict[str, CaptionExample],
    split: dict[str, list[str]],
    source: str,
    split_path: Path,
    notes: list[str],
) -> CaptionData:
    chosen = {name: [examples[i] for i in split[name] if i in examples] for name in SPLITS}
    empty = [name for name in SPLITS if not chosen[name]]
    if empty:
        raise DataError(
            f"{source}: no usable image left in {' or '.join(empty)} after skipping bad ones"
        )
    per_image = [len(e.captions) for e in examples.values()]
    low, high = min(per_image), max(per_image)
    counted = f"{low}" if low == high else f"{low} to {high}, {np.mean(per_image):.2f} on average"
    return CaptionData(
        **chosen,
        source=source,
        split_path=split_path,
        notes=(f"captions per image: {counted}", *notes),
    )


def _folder(directory: str | os.PathLike) -> Path:
    directory = Path(directory)
    if not directory.is_dir():
        raise DataError(f"{directory}: no such folder")
    return directory


# ---------------------------------------------------------------------------
# Public loaders


def _flickr_files(directory: Path) -> tuple[Path | None, Path | None]:
    captions = next((directory / c for c in FLICKR_CAPTIONS if (directory / c).is_file()), None)
    images = next((directory / d for d in FLICKR_IMAGES if (directory / d).is_dir()), None)
    return captions, images


def load_flickr8k(
    directory: str | os.PathLike,
    seed: int = SPLIT_SEED,
    root: str | os.PathLike | None = None,
    skip_bad: bool = False,
) -> CaptionData:
    """Loads a Flickr8k copy (or a set of your own in its layout), split by image.

    Args:
        directory: the folder with `captions.txt` (or `Flickr8k.token.txt`)
            and `Images/` (or `Flicker8k_Dataset/`).
        seed: the seed of a new split. A saved split is always reused; a seed
            that differs from the saved one is an error rather than a silent
            reshuffle.
        root: the data root; `data_root()` when None.
        skip_bad: leave out empty captions, missing or broken images and
            images with no caption (with a note each) instead of failing.

    Returns:
        A `CaptionData`.

    Raises:
        DataError: one line naming the file (and line) at fault; see the
            module's docstring.
    """
    directory = _folder(directory)
    captions_path, images = _flickr_files(directory)
    if captions_path is None:
        raise DataError(
            f"{directory}: no Flickr8k captions file; looked for {', '.join(FLICKR_CAPTIONS)}"
        )
    if images is None:
        raise DataError(
            f"{directory}: no Flickr8k image folder; looked for "
            f"{', '.join(d + '/' for d in FLICKR_IMAGES)}"
        )
    raw, captions = _read_flickr_captions(captions_path)
    notes = []
    if captions_path.name == "captions.txt" and any(
        (directory / c).is_file() for c in FLICKR_CAPTIONS[1:]
    ):
        notes.append("read captions.txt; Flickr8k.token.txt was ignored")
    ids = list(captions.by_image)
    if len(ids) < MIN_IMAGES:
        raise DataError(
            f"{captions_path}: {len(ids)} images; at least {MIN_IMAGES} are needed to split"
        )
    examples = _check_images(captions, images, "", skip_bad, notes)
    digest = hashlib.sha256(raw).hexdigest()
    source = {
        "layout": "flickr8k",
        "directory": path_text(directory.resolve()),
        "files": [captions_path.relative_to(directory).as_posix()],
        "sha256": digest,
        "images": len(ids),
    }
    split_path = data_root(root) / "captioning" / f"user-{digest[:8]}" / "split.json"
    split = SavedSplit(split_path, SPLIT_FORMAT).load_or_draw(
        source, seed, SPLIT_SEED, ids, "images", draw=lambda seed: split_flickr8k(ids, seed)
    )
    return _make_data(
        examples,
        split,
        f"{captions_path}: {len(ids):,} images in {images.name}/",
        split_path,
        notes,
    )


def _coco_files(directory: Path) -> tuple[str, Path, Path] | None:
    for year in COCO_YEARS:
        train = directory / "annotations" / f"captions_train{year}.json"
        val = directory / "annotations" / f"captions_val{year}.json"
        if train.is_file() and val.is_file():
            return year, train, val
    return None


def _coco_expected() -> str:
    return " or ".join(
        f"annotations/captions_train{y}.json and annotations/captions_val{y}.json"
        for y in COCO_YEARS
    )


def load_coco(
    directory: str | os.PathLike,
    seed: int = SPLIT_SEED,
    root: str | os.PathLike | None = None,
    skip_bad: bool = False,
) -> CaptionData:
    """Loads a COCO captions copy: train from the train file, validation and test
    half each of the val file's images.

    Args:
        directory: the folder with `annotations/captions_{train,val}2014.json`
            and `train2014/`, `val2014/` (or the same with 2017).
        seed: the seed that cuts the val images in half; as in `load_flickr8k`.
        root: the data root; `data_root()` when None.
        skip_bad: as in `load_flickr8k`.

    Returns:
        A `CaptionData`; image ids are `<folder>/<file_name>`.

    Raises:
        DataError: one line naming the file at fault; see the module's docstring.
    """
    directory = _folder(directory)
    found = _coco_files(directory)
    if found is None:
        raise DataError(f"{directory}: no COCO captions files; looked for {_coco_expected()}")
    year, train_path, val_path = found
    digest, notes, examples, ids = hashlib.sha256(), [], {}, {}
    for part, path in (("train", train_path), ("val", val_path)):
        raw, captions = _read_coco_captions(path)
        digest.update(raw)
        folder = directory / f"{part}{year}"
        if not folder.is_dir():
            raise DataError(f"{directory}: no image folder {folder.name}/ for {path.name}")
        ids[part] = [f"{folder.name}/{name}" for name in captions.by_image]
        examples.update(_check_images(captions, folder, f"{folder.name}/", skip_bad, notes))
    if len(ids["val"]) < 2:
        raise DataError(f"{val_path}: {len(ids['val'])} images; validation and test need 2")
    digest = digest.hexdigest()
    source = {
        "layout": f"coco-{year}",
        "directory": path_text(directory.resolve()),
        "files": [p.relative_to(directory).as_posix() for p in (train_path, val_path)],
        "sha256": digest,
        "images": len(ids["train"]) + len(ids["val"]),
    }
    split_path = data_root(root) / "captioning" / f"user-{digest[:8]}" / "split.json"
    split = SavedSplit(split_path, SPLIT_FORMAT).load_or_draw(
        source,
        seed,
        SPLIT_SEED,
        ids["train"] + ids["val"],
        "images",
        draw=lambda seed: _split_coco(ids["train"], ids["val"], seed),
    )
    return _make_data(
        examples,
        split,
        f"{directory}: COCO {year} captions, {len(ids['train']):,} train and "
        f"{len(ids['val']):,} val images",
        split_path,
        notes,
    )


def load_user_captions(
    directory: str | os.PathLike,
    seed: int = SPLIT_SEED,
    root: str | os.PathLike | None = None,
    skip_bad: bool = False,
) -> CaptionData:
    """Loads a folder in the Flickr8k or the COCO layout, whichever it holds
    (Flickr8k's caption file is looked for first).

    Raises:
        DataError: the folder holds neither layout (the message says what was
            looked for), or as `load_flickr8k` and `load_coco`.
    """
    folder = _folder(directory)
    if _flickr_files(folder)[0] is not None:
        return load_flickr8k(folder, seed, root, skip_bad)
    if _coco_files(folder) is not None:
        return load_coco(folder, seed, root, skip_bad)
    raise DataError(
        f"{folder}: neither a Flickr8k nor a COCO layout; expected "
        f"{' or '.join(FLICKR_CAPTIONS)} beside Images/, or {_coco_expected()}"
    )


def _arguments(parser) -> None:
    parser.add_argument("folder", help="a Flickr8k or COCO folder")
    parser.add_argument("--root", help=ROOT_HELP)
    parser.add_argument(
        "--skip-bad", action="store_true", help="leave out bad images and captions, with a note"
    )


def _load(args) -> CaptionData:
    return load_user_captions(args.folder, root=args.root, skip_bad=args.skip_bad)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m datasets.caption_data FOLDER`: check, split, describe a Flickr8k or COCO copy."""
    return run_main(argv, "python -m datasets.caption_data", __doc__, _arguments, _load)


if __name__ == "__main__":
    raise SystemExit(main())
