"""Splits saved as JSON beside the data, and the checks that make later loads reuse them safely.

Every loader in `datasets` draws its split once, saves it under the data root
with the SHA-256 of the data it was drawn for, and reuses the file from then
on, so the split never moves when code or library versions change. Data that
no longer matches the file is an error that names the file to delete. This
module holds what the loaders share: the atomic write, reading the file back,
the checks of its header (format, source hash, seed) and of the ids it lists,
and loading the file or making it when there is none. How the split is drawn,
and what a split file holds besides, stays with each loader.

A split file that lists ids per split reads, in this order of keys:

```
format, source, seed, <the loader's settings>, counts, train, validation, test
```

Example:

```python
saved_split = SavedSplit(root / "music" / "split.json", format=1)
split = saved_split.load_or_draw(
    source,  # a dict with the data's "sha256"
    seed,  # None: reuse the saved split whatever its seed
    SPLIT_SEED,  # the seed of a new split when `seed` is None
    ids,
    "tunes",
    draw=lambda seed: split_by_tune(ids, seed),
    settings={"validation_fraction": 0.05, "test_fraction": 0.05},
)
```
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from datasets.fetch import DataError

__all__ = ["SPLITS", "SavedSplit", "write_atomic"]

logger = logging.getLogger(__name__)

SPLITS = ("train", "validation", "test")


def write_atomic(path: str | os.PathLike, text: str) -> None:
    """Writes `text` (UTF-8) to `path` through a file beside it and a rename, so
    readers see the old file or the whole new one, never a part."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclasses.dataclass(frozen=True)
class SavedSplit:
    """One saved split file, and the words its error messages use.

    Args:
        path: the JSON file.
        format: the format number the loader writes and expects.
        made: how the split was made, in messages: `"drawn"`, `"cut"`.
        redo: what deleting the file leads to: `"draw a new split"`.
        source_words: how messages name the data: `("data", "the data")` reads
            "drawn for data with SHA-256 ..., but the data now has ...";
            `("a source", "the source")` reads "for a source ..., but the source ...".
    """

    path: Path
    format: int
    made: str = "drawn"
    redo: str = "draw a new split"
    source_words: tuple[str, str] = ("data", "the data")

    @property
    def delete(self) -> str:
        """The end of every message: `delete <path> to <redo>`."""
        return f"delete {self.path} to {self.redo}"

    def load(self, sha256: str, seed: int | None = None) -> dict | None:
        """The saved document after `check`, or None when there is no file yet."""
        if not self.path.is_file():
            return None
        try:
            saved = json.loads(self.path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise DataError(
                f"{self.path} is not a readable split file ({error}); delete it to draw a new split"
            ) from None
        self.check(saved, sha256, seed)
        return saved

    def check(self, saved: dict, sha256: str, seed: int | None = None) -> None:
        """Raises DataError unless `saved` has this format, was made for data with
        `sha256` (`saved["source"]["sha256"]`) and, when `seed` is given, with that seed."""
        if saved.get("format") != self.format:
            raise DataError(
                f"{self.path} has format {saved.get('format')!r}, expected {self.format}"
            )
        saved_sha = saved.get("source", {}).get("sha256")
        if saved_sha != sha256:
            made_for, now = self.source_words
            raise DataError(
                f"{self.path} was {self.made} for {made_for} with SHA-256 {saved_sha}, "
                f"but {now} now has {sha256}; {self.delete}"
            )
        if seed is not None and saved.get("seed") != seed:
            raise DataError(
                f"{self.path} was {self.made} with seed {saved.get('seed')}, not {seed}; "
                f"{self.delete}"
            )

    def check_ids(
        self,
        saved: dict,
        names: Sequence[str],
        ids: Iterable,
        what: str,
        count_repeated: bool = True,
    ) -> None:
        """Raises DataError unless the lists `saved[name]` for `names` hold every id
        of `ids` exactly once and nothing else.

        Args:
            what: the data's items in the message, e.g. `"tunes"`.
            count_repeated: also say how many ids are listed more than once.
        """
        listed = [i for name in names for i in saved.get(name, [])]
        present, unique = set(ids), set(listed)
        if len(listed) != len(unique) or unique != present:
            detail = (
                f"{len(present - unique)} {what} not in it, "
                f"{len(unique - present)} ids not in the data"
            )
            if count_repeated:
                detail += f", {len(listed) - len(unique)} repeated"
            raise self.mismatch(detail)

    def mismatch(self, detail: str) -> DataError:
        """`<path> does not match the data (<detail>); delete <path> to <redo>`."""
        return DataError(f"{self.path} does not match the data ({detail}); {self.delete}")

    def save(self, document: dict, ensure_ascii: bool = False) -> None:
        """Writes `document` as indented JSON, atomically (see `write_atomic`)."""
        text = json.dumps(document, indent=1, ensure_ascii=ensure_ascii) + "\n"
        write_atomic(self.path, text)

    def load_or_create(
        self,
        source: dict,
        make: Callable[[], dict],
        seed: int | None = None,
        check: Callable[[dict], None] | None = None,
        ensure_ascii: bool = False,
    ) -> dict:
        """The saved document, or a new one when there is no file yet.

        A saved file goes through `load` (its format, `source["sha256"]`, and
        `seed` when given), then `check(saved)`. Otherwise the new document is
        `{"format": ..., "source": source, **make()}`, saved (see `save`) and
        returned.
        """
        saved = self.load(source["sha256"], seed)
        if saved is not None:
            if check is not None:
                check(saved)
            return saved
        document = {"format": self.format, "source": source, **make()}
        self.save(document, ensure_ascii=ensure_ascii)
        logger.info("saved a new split to %s", self.path)
        return document

    def load_or_draw(
        self,
        source: dict,
        seed: int | None,
        default_seed: int,
        ids: Iterable,
        what: str,
        draw: Callable[[int], dict[str, list]],
        settings: dict | None = None,
        count_repeated: bool = True,
        check: Callable[[dict], None] | None = None,
        names: Sequence[str] = SPLITS,
    ) -> dict[str, list]:
        """The ids of each split: the saved ones, or drawn now and saved.

        A saved file must match `seed` when it is given, and list every id of
        `ids` once (`check_ids`); `check(saved)` may add the loader's own checks.
        Without a file, `draw(seed)` (`default_seed` when `seed` is None) gives
        `{name: ids}` for `names`, saved as `{"format", "source", "seed",
        **settings, "counts", **split}`.

        Args:
            source: what the split is drawn from, with its `"sha256"`.
            what: the data's items in messages, e.g. `"tunes"`.
            settings: what the draw used besides the seed (fractions, say), saved
                in this order after the seed.
            count_repeated: as in `check_ids`.
        """
        ids = list(ids)

        def make() -> dict:
            used = default_seed if seed is None else seed
            split = draw(used)
            counts = {name: len(split[name]) for name in names}
            return {"seed": used, **(settings or {}), "counts": counts, **split}

        def check_saved(saved: dict) -> None:
            self.check_ids(saved, names, ids, what, count_repeated)
            if check is not None:
                check(saved)

        document = self.load_or_create(source, make, seed, check_saved)
        return {name: document[name] for name in names}
