"""One canonical ABC text per tune: the form the music model trains on.

Tunes in the wild write their headers in many orders, often leave out fields
to which ABC 2.1 gives defaults, and carry prose (notes, history, sources,
lyrics) beside the music. A character model learns all of it, and from the
prefix `X:1\\n` it then writes headers that music21 cannot read: a note before
any `L:` or `M:` field. `normalize_tune` rewrites a tune so that every header
has the same shape:

```
X:1
T:<the first title>
R:<rhythm, when given>
M:<meter; `none` when the tune has none>
L:<unit note length; ABC 2.1's default written out when the tune has none>
Q:<tempo, when given>
P:<parts, when given>
K:<key>
<the body>
```

Rules:

- the header is every line up to and including the first `K:` field (ABC
  2.1: `K:` ends the header); a header line that is not a field (or a `%`
  comment) makes the tune unusable, since a reader would take it for notes;
- `X:` becomes `X:1`: the number only orders tunes within their file;
- of the fields that occur more than once in the header, the first `T:` and
  the last `M:`, `L:`, `Q:`, `R:`, `P:`, `K:` are kept (a later field
  overrides an earlier one);
- a missing `M:` is written `M:none` (free meter, ABC 2.1's meaning of no
  `M:`), a missing `L:` is ABC 2.1's default: 1/16 when the meter is below
  3/4 (as a fraction), 1/8 otherwise and for `C`, `C|` and `none`;
- the fields that carry no music (`TEXT_FIELDS`: composer, origin, area,
  book, discography, file, group, history, instruction, notes, source,
  transcription, lyrics) and `%` comments and `%%` directives are dropped,
  in the header and in the body, unless `keep_text=True`, which keeps them
  (the header fields after `T:`, in their order) and drops only comments;
- in a field, the space after the colon goes; in the body, a `%` comment at
  the end of a line goes, runs of spaces become one and lines lose their
  trailing and leading spaces (spaces in ABC only break beams, which no
  measure here reads); empty lines go.

`same_notes` is the check that normalisation kept the music: music21 reads
both texts, and the sequences of (pitches, duration) of their notes must be
equal. `datasets.music_data.normalize` applies both to a whole corpus.
"""

from __future__ import annotations

import re
from fractions import Fraction

__all__ = [
    "HEADER_ORDER",
    "NORMAL_FORM",
    "TEXT_FIELDS",
    "NotNormalizable",
    "canonical_prefix",
    "default_unit_length",
    "normalize_tune",
    "note_sequence",
    "same_notes",
]

# The version of the rules above; saved with every normalised corpus.
NORMAL_FORM = 1

# Fields that hold words about a tune, not its music.
TEXT_FIELDS = frozenset("ABCDFGHINOSWZrw")
# Music fields of the header, in the order they are written.
HEADER_ORDER = ("X", "T", "R", "M", "L", "Q", "P", "K")
_MUSIC_FIELDS = frozenset(HEADER_ORDER) | {"V", "U", "m", "s"}
_FIELD = re.compile(r"^([A-Za-z+]):\s*(.*)$")
_SPACES = re.compile(r"[ \t]+")


class NotNormalizable(ValueError):
    """A tune whose text cannot be put in the canonical form (the reason is the message)."""


def default_unit_length(meter: str) -> str:
    """ABC 2.1's unit note length for a tune without `L:`, from its meter `M:` value.

    Example: `default_unit_length("2/4") == "1/16"`, `default_unit_length("6/8") == "1/8"`.

    Raises:
        NotNormalizable: a number of more than 6 digits in the meter (no meter
            has one; Python would refuse to read one of thousands).
    """
    value = meter.strip()
    if re.search(r"[0-9]{7,}", value):
        raise NotNormalizable(f"the meter M:{value[:12]}... has a number of more than 6 digits")
    if value in ("", "C", "C|", "none"):
        return "1/8"
    match = re.fullmatch(r"\(?([0-9+ ]+)\)?\s*/\s*([0-9]+)", value)
    if not match:
        return "1/8"
    numerator = sum(int(part) for part in match.group(1).split("+") if part.strip())
    denominator = int(match.group(2))
    if denominator == 0:
        return "1/8"
    return "1/16" if Fraction(numerator, denominator) < Fraction(3, 4) else "1/8"


def _strip_comment(line: str) -> str:
    """`line` without a `%` comment that starts outside a quoted string (`\\%` is kept)."""
    quoted = False
    for i, char in enumerate(line):
        if char == '"':
            quoted = not quoted
        elif char == "%" and not quoted and (i == 0 or line[i - 1] != "\\"):
            return line[:i]
    return line


def normalize_tune(abc: str, keep_text: bool = False) -> str:
    """The canonical text of one tune (see the module docstring).

    Args:
        abc: one tune, its `X:` line first.
        keep_text: keep the fields that carry no music (`TEXT_FIELDS`).

    Returns:
        The tune's lines, each ending in `\\n`, header first.

    Raises:
        NotNormalizable: the tune has no `X:` first, no `K:` field, or a header
            line that is not a field.
    """
    lines = abc.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if not lines or not lines[0].startswith("X:"):
        raise NotNormalizable("the tune does not start with an X: line")
    header: dict[str, list[str]] = {}
    text_fields: list[tuple[str, str]] = []
    body_start = None
    for number, line in enumerate(lines):
        line = line.strip()
        if not line or line.startswith("%"):
            continue
        match = _FIELD.match(line)
        if not match:
            raise NotNormalizable(f"header line {number + 1} is not a field: {line[:40]!r}")
        letter, value = match.group(1), _strip_comment(match.group(2)).strip()
        if letter == "+":  # ABC 2.1's field continuation; only ever seen after text fields
            if text_fields:
                text_fields.append(("+", value))
            continue
        if letter in TEXT_FIELDS:
            text_fields.append((letter, value))
        else:
            header.setdefault(letter, []).append(value)
        if letter == "K":
            body_start = number + 1
            break
    if body_start is None:
        raise NotNormalizable("no K: field")
    unknown = sorted(set(header) - set(HEADER_ORDER) - {"V", "U", "m", "s"})
    if unknown:
        raise NotNormalizable(f"unexpected header fields {', '.join(unknown)}:")
    if "T" not in header:
        header["T"] = [""]
    meter = header.get("M", ["none"])[-1] or "none"
    fields = {
        "X": "1",
        "T": header["T"][0],
        "M": meter,
        "L": header["L"][-1] if header.get("L") else default_unit_length(meter),
    }
    for letter in ("R", "Q", "P", "K"):
        if header.get(letter):
            fields[letter] = header[letter][-1]
    out = [f"{letter}:{fields[letter]}" for letter in HEADER_ORDER[:2] if letter in fields]
    if keep_text:
        out += [f"{letter}:{value}" for letter, value in text_fields]
    out += [f"{letter}:{fields[letter]}" for letter in HEADER_ORDER[2:] if letter in fields]
    # Fields a header rarely holds (voices, user symbols, macros) come just before K:.
    out[-1:-1] = [
        f"{letter}:{v}" for letter in ("U", "m", "s", "V") for v in header.get(letter, [])
    ]
    for line in lines[body_start:]:
        if line.lstrip().startswith("%"):
            continue
        match = _FIELD.match(line.strip())
        if match and match.group(1) not in _MUSIC_FIELDS | {"T"}:
            if keep_text and match.group(1) in TEXT_FIELDS | {"+"}:
                out.append(f"{match.group(1)}:{match.group(2).strip()}")
            continue
        if match:
            out.append(f"{match.group(1)}:{_strip_comment(match.group(2)).strip()}")
            continue
        music = _SPACES.sub(" ", _strip_comment(line)).strip()
        if music:
            out.append(music)
    return "".join(f"{line}\n" for line in out)


def note_sequence(abc: str):
    """music21's reading of a tune: `((MIDI pitches...), quarter length)` per note or
    chord, in order; None when music21 raises or finds no note."""
    import contextlib
    import io
    import warnings

    from music21 import converter, stream

    try:
        with contextlib.redirect_stderr(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            score = converter.parseData(abc, format="abc")
    except Exception:  # music21 raises many types on text it cannot read
        return None
    if isinstance(score, stream.Opus):
        scores = list(score.scores)
        score = scores[0] if scores else None
    if score is None:
        return None
    notes = tuple(
        (tuple(float(p.ps) for p in element.pitches), float(element.quarterLength))
        for element in score.flatten().notes
    )
    return notes or None


def same_notes(original: str, normalized: str) -> str | None:
    """None when music21 reads the same notes from both texts, else why not (one line)."""
    before = note_sequence(original)
    if before is None:
        return "music21 cannot read the original tune"
    after = note_sequence(normalized)
    if after is None:
        return "music21 cannot read the normalised tune"
    if before == after:
        return None
    for i, (a, b) in enumerate(zip(before, after)):
        if a != b:
            return f"note {i + 1} differs after normalisation: {a} -> {b}"
    return f"{len(before)} notes before normalisation, {len(after)} after"


def canonical_prefix(prefix: str, keep_text: bool = False) -> str:
    """A prefix for a model trained on canonical tunes: when `prefix` holds a whole
    header (its `K:` line), the header in the canonical form followed by the
    rest of the prefix; otherwise `prefix` unchanged.

    Example: `canonical_prefix("X:1\\nM:6/8\\nK:D\\n") == "X:1\\nT:\\nM:6/8\\nL:1/8\\nK:D\\n"`.
    """
    lines = prefix.split("\n")
    ends = [i for i, line in enumerate(lines) if line.startswith("K:")]
    if not prefix.startswith("X:") or not ends or ends[0] == len(lines) - 1:
        return prefix  # no K: line, or one that is still being typed
    head, rest = "\n".join(lines[: ends[0] + 1]) + "\n", "\n".join(lines[ends[0] + 1 :])
    try:
        return normalize_tune(head, keep_text=keep_text) + rest
    except NotNormalizable:
        return prefix
