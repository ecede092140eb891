"""The three splits a loader returns, the table that describes them, and the loaders' command line.

Every loader of `datasets` but the stocks' (whose parts are cut by date, see
`datasets.stocks_data.StockData`) returns a `SplitData`: train, validation and
test, where they came from, the saved split file they follow, and notes. Each
loader's subclass says only what is its own: how one split is counted
(`count`), the columns of the table that `describe` prints, and the ratio in
its last column.

`run_main` is the `python -m datasets.<loader>` entry point they share: parse
the arguments, load, print `describe()`; a `DataError` is one line on stderr
and exit status 2.

Example:

```python
class TuneData(SplitData[list[Tune]]):
    COLUMNS = (Column("tunes", 8), Column("characters", 13, ","))
    RATIO = Column("chars/tune", 12, ".1f")

    def count(self, tunes):
        return {"tunes": len(tunes), "characters": sum(len(t.abc) for t in tunes)}

    def ratio(self, row):
        return row["characters"] / row["tunes"] if row["tunes"] else float("nan")
```
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import ClassVar, Generic, Protocol, TypeVar

from datasets.fetch import DataError
from datasets.saved_split import SPLITS

__all__ = ["ROOT_HELP", "SPLITS", "Column", "SplitData", "run_main"]

# The help of every loader's --root option.
ROOT_HELP = "data root (default $SEQLIB_DATA or <repo>/data)"

S = TypeVar("S")


@dataclasses.dataclass(frozen=True)
class Column:
    """One column of `SplitData.describe`'s table.

    Args:
        heading: the column's heading, right-aligned.
        width: the column's width in characters, the suffix included.
        spec: the format of its numbers after the width: `","` separates
            thousands, `".1f"` gives one decimal.
        suffix: written after each number, e.g. `"%"`.
        key: the key of `SplitData.count` it shows; `heading` when empty.
    """

    heading: str
    width: int
    spec: str = ""
    suffix: str = ""
    key: str = ""

    @property
    def name(self) -> str:
        return self.key or self.heading

    def head(self) -> str:
        return f"{self.heading:>{self.width}}"

    def cell(self, value: float) -> str:
        return format(value, f">{self.width - len(self.suffix)}{self.spec}") + self.suffix


@dataclasses.dataclass(frozen=True, eq=False)
class SplitData(Generic[S]):
    """The three splits of a dataset.

    Subclasses set `COLUMNS` and `RATIO` and define `count` and `ratio`.

    Args:
        train: the training split.
        validation: the validation split.
        test: the test split.
        source: where the data came from, in words.
        split_path: the saved split file these splits follow; None when the
            split is not saved (generated data).
        notes: what was dropped, skipped or converted while reading, one line each.
    """

    train: S
    validation: S
    test: S
    source: str = ""
    split_path: Path | None = None
    notes: tuple[str, ...] = ()

    # The counted columns of the table, in the order of `count`'s keys.
    COLUMNS: ClassVar[tuple[Column, ...]] = ()
    # The last column: `ratio` of each row.
    RATIO: ClassVar[Column]

    def splits(self) -> dict[str, S]:
        return {"train": self.train, "validation": self.validation, "test": self.test}

    def count(self, split: S) -> dict[str, int]:
        """What `describe` counts in one split, keyed by `COLUMNS`' keys."""
        raise NotImplementedError

    def ratio(self, row: dict[str, int]) -> float:
        """The last column of the table for one row of counts (NaN when it has no meaning)."""
        raise NotImplementedError

    def counts(self) -> dict[str, dict[str, int]]:
        """`count` of each split."""
        return {name: self.count(split) for name, split in self.splits().items()}

    def describe(self) -> str:
        """The source, the split file, a table of the counts per split and in all, the notes."""
        lines = [f"source: {self.source}"] if self.source else []
        if self.split_path is not None:
            lines.append(f"split:  {self.split_path}")
        lines.append(f"{'split':<11}" + "".join(c.head() for c in (*self.COLUMNS, self.RATIO)))
        counts = self.counts()
        total = {c.name: sum(row[c.name] for row in counts.values()) for c in self.COLUMNS}
        for name, row in (*counts.items(), ("all", total)):
            cells = "".join(c.cell(row[c.name]) for c in self.COLUMNS)
            lines.append(f"{name:<11}{cells}{self.RATIO.cell(self.ratio(row))}")
        lines.extend(f"note: {note}" for note in self.notes)
        return "\n".join(lines)


class Described(Protocol):
    def describe(self) -> str: ...


def run_main(
    argv: Sequence[str] | None,
    prog: str,
    description: str | None,
    add_arguments: Callable[[argparse.ArgumentParser], None],
    load: Callable[[argparse.Namespace], Described],
    errors: tuple[type[Exception], ...] = (DataError,),
) -> int:
    """A loader's command line: parse `argv`, `load(args)`, print its `describe()`.

    Args:
        argv: the arguments; `sys.argv[1:]` when None.
        prog: the program's name in the usage line, `"python -m datasets.<loader>"`.
        description: the help's description (the module's docstring).
        add_arguments: adds the loader's arguments to the parser (`--root`
            with `ROOT_HELP` among them).
        load: returns the data for the parsed arguments.
        errors: what `load` raises for data that cannot be used: printed as
            `error: <message>` on stderr, with exit status 2.

    Returns:
        0, or 2 after an error; argparse exits with 2 on bad arguments.
    """
    parser = argparse.ArgumentParser(prog=prog, description=description)
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        data = load(args)
    except errors as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(data.describe())
    return 0
