"""Key transposition of ABC tunes, as data augmentation: text in, text out, checked by music21.

music21 reads ABC but cannot write it, so `transpose_abc` edits the text
itself, and `check_transposition` has music21 read both texts and compares
what it hears. `transpositions` returns the versions of a tune that pass.

Method (diatonic transposition of the text):

- the interval is a music21 interval name (`"M2"`, `"-m3"`, `"P4"`, `"P-5"`);
  it gives a number of semitones `s` and of letter steps `d` (M2: s=2, d=1);
- every key field, `K:` in the header, `K:` lines in the body and inline
  `[K:...]`, gets its tonic moved by the interval; the mode and the rest of
  the field stay as written. The new key is spelled with the fewest
  sharps or flats: when the enharmonic spelling (the same `s` with `d - 1`
  or `d + 1` letter steps, e.g. a diminished third for a major second) needs
  fewer, that spelling is used, so C# major up M2 is Eb major, not D# (9
  sharps). The choice is made once per tune, for all its keys together (the
  largest key signature, then the total), so that one letter mapping holds
  in the whole tune; the named interval wins ties;
- every note then moves by `d` letter steps, with octave carry (`b` up a
  second is `c'`, `C,` down one is `B,,`). A note without an accidental
  keeps none: the new key signature gives it the right pitch. A note with
  one (`^ ^^ _ __ =`) gets the accidental that keeps its pitch `s`
  semitones away, i.e. the new key's alteration of the new letter plus the
  note's departure from the old key's; `=` when that is natural. Since
  letters map to letters the same way everywhere, ABC's rule that an
  accidental lasts to the end of its bar still holds without tracking bars;
- a chord symbol (a quoted string such as `"Am"`, `"D7"`, `"G/B"`,
  `"F#m7b5"`, `"Bb"`: an optional `(`, a root `A`-`G` with `#` or `b`, a
  chord kind made of `m min maj M dim aug sus add`, digits and `# b + - o
  ( )`, and an optional `/bass`) has its root and bass moved with the same
  spelling as the notes; double sharps and flats are respelled (`E##` is
  `F#`). Other quoted strings (`"^annotations"`, `"D.C."`, `"Fine"`) stay.

Left as they are: every field line but `K:` (`T:`, `M:`, `L:`, `Q:`,
`P:`, `w:` ...), `%` comments and `%%` directives, inline fields other than
`[K:...]`, decorations `!...!` (music21's reading: a closing `!` within 19
characters) and `+...+` (except the ABC 1.6 chords `+CEG+`, whose notes
move), rests, durations, bar lines, tuplets, and letters that are not notes
(`H`-`Z`, `h`-`z`: decoration shorthands, rests, spacers). Notes in chords
`[CEG]` and grace groups `{gag}` move like any other.

Refused with `NotTransposable` (a short reason): no `K:` field; a key
without a tonic (`K:none`, `K:HP`, `K:Hp`, `K:H`, `K:`); an unknown mode or
word in `K:` (`K:Bn`, `K:Es`); explicit accidentals in `K:` (`K:D exp ^f`,
`K:Dmix =c`); multi-voice tunes (`V:` fields); macros (`m:` fields, whose
notes would not move); a header line before `K:` that is not a field (a
reader may take it for notes); keys that together need more than 7 sharps
or flats whichever spelling is used; a note that would need a triple sharp
or flat.

Limits: the text is edited by rules, not parsed by a full ABC grammar.
Microtonal accidentals (`^1/2c`), user-defined symbols that reuse note
letters and chord symbols with a lowercase root are not understood; the
check with music21 is what catches such tunes, and `transpositions` drops
them. So does `+ff+` (fortissimo, left alone), in which music21 reads two
notes, and a note before `::` (`GAB::|`), which music21 takes for a field
when its letter is uppercase (`B::`) and for a note when it is lowercase. The check compares music21's readings, so a part of a tune music21
ignores (e.g. inline `[K:...]`, which music21 skips) is not verified by it.

`check_transposition` compares, element by element, the notes and chords
music21 reads from both texts (`score.flatten().notes`): MIDI pitches
(`pitch.ps`, i.e. sounding pitch; a written key change is fine, a wrong
pitch is not) and quarter lengths. Chord symbols (music21 realises them
as chords in an octave of its own) are compared by their pitch classes.
music21 reads any quoted string it can as a chord symbol (`"f"`, forte, is
an F chord to it) and drops the note after a string that starts with `>`;
so both texts are read without their quoted strings that are not chord
symbols by the rule above (they hold no notes).

Which intervals: the caller chooses. `NEAR_SHIFTS`, ±1 to ±5 semitones
(`m2 M2 m3 M3 P4` up and down), moves a tune by at most a fourth, so it
mostly stays within the range of the instrument it was written for, and
with the original gives 11 of the 12 keys. Larger shifts work the same way;
`P1` and `P8` may respell a key with more than 6 accidentals (C# major as
Db major).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import io
import re
import warnings
from collections.abc import Iterable

__all__ = [
    "NEAR_SHIFTS",
    "NotTransposable",
    "check_transposition",
    "transpose_abc",
    "transpositions",
]

# ±1 to ±5 semitones: what a caller would usually pick for augmentation.
NEAR_SHIFTS = ("m2", "M2", "m3", "M3", "P4", "-m2", "-M2", "-m3", "-M3", "-P4")

MAX_ACCIDENTALS = 7

_LETTERS = "CDEFGAB"
_NATURAL = (0, 2, 4, 5, 7, 9, 11)  # semitones of C D E F G A B above C
_FIFTHS = {"F": -1, "C": 0, "G": 1, "D": 2, "A": 3, "E": 4, "B": 5}
# A mode's key signature, in fifths from that of the major key on the same tonic.
_MODES = {
    "maj": 0,
    "ion": 0,
    "min": -3,
    "aeo": -3,
    "dor": -2,
    "phr": -4,
    "lyd": 1,
    "mix": -1,
    "loc": -5,
}
_ALTER = {"^^": 2, "^": 1, "=": 0, "_": -1, "__": -2}
_ACCIDENTAL = {alter: text for text, alter in _ALTER.items()}
_TONIC_ALTER = {"#": 1, "b": -1, "": 0}
_TONIC_TEXT = {1: "#", -1: "b", 0: ""}

_FIELD_LINE = re.compile(r"([A-Za-z+]):(?!\|)")
_KEY_TONIC = re.compile(r"\s*([A-G])([#b]?)")
_MODE_WORD = re.compile(r"\s*([A-Za-z]+)")
# Words a K: field may hold after the key: clefs and clef settings, which do not
# change what a note letter means here (both texts keep them).
_CLEF_WORD = re.compile(
    r"(?:treble|bass|alto|tenor|baritone|perc)\d?(?:[+-]8)?|[+-]8va"
    r"|(?:clef|middle|m|transpose|t|octave|stafflines|staffscale|cue)=\S+",
    re.IGNORECASE,
)
_KEY_ACCIDENTAL = re.compile(r"(?:\^\^|\^|__|_|=)[A-Ga-g]|exp", re.IGNORECASE)
_MUSIC = re.compile(
    r"""
    (?P<comment>%.*)
  | (?P<quote>"[^"\n]*"?)
  | (?P<decoration>![^!\n]{0,18}!)
  | (?P<plus>\+[^+\s]*\+)
  | (?P<field>\[(?P<field_name>[A-Za-z]):(?P<field_value>[^\]\n]*)\])
  | (?P<note>(?P<accidental>\^\^|\^|__|_|=)?(?P<letter>[A-Ga-g])(?P<octave>[,']*))
  | (?P<other>[^%"!+\[\^_=A-Ga-g]+|.)
    """,
    re.VERBOSE,
)
_PLUS_CHORD = re.compile(r"(?:(?:\^\^|\^|__|_|=)?[A-Ga-g][,']*[0-9/]*)+")
_CHORD_SYMBOL = re.compile(
    r"(?P<lead>\s*\(?)(?P<root>[A-G])(?P<root_alter>[#b]?)"
    r"(?P<kind>(?:maj|min|dim|aug|sus|add|m|M|[0-9]|[#b+\-o()])*)"
    r"(?:/(?P<bass>[A-Ga-g])(?P<bass_alter>[#b]?))?(?P<trail>\)?\s*)"
)


class NotTransposable(ValueError):
    """A tune `transpose_abc` does not transpose; the message says why."""


# ---------------------------------------------------------------------------
# Pitch arithmetic on diatonic steps (letter index + 7 * octave, C4 = 28)


def _natural(step: int) -> int:
    """Semitones above C0 of the natural note on a diatonic step."""
    return 12 * (step // 7) + _NATURAL[step % 7]


@dataclasses.dataclass(frozen=True)
class _Shift:
    """A spelled interval: `steps` letter steps, `semitones` semitones."""

    steps: int
    semitones: int

    def alter(self, step: int, alter: int) -> int:
        """The alteration of the note `steps` letters from `(step, alter)` that
        sounds `semitones` higher."""
        return alter + self.semitones - (_natural(step + self.steps) - _natural(step))


def _parse_interval(name: str) -> _Shift:
    from music21 import interval

    try:
        named = interval.Interval(name)
        directed = named.generic.directed
        semitones = int(named.semitones)
    except Exception as error:  # music21 raises several types on bad names
        raise ValueError(f"{name!r} is not a music21 interval name ({error})") from None
    return _Shift(directed - 1 if directed > 0 else directed + 1, semitones)


@dataclasses.dataclass(frozen=True)
class _Key:
    """The key of one `K:` field: tonic letter and alteration, mode (a `_MODES` key)."""

    letter: str
    alter: int
    mode: str

    @property
    def sharps(self) -> int:
        """Sharps (> 0) or flats (< 0) of its key signature."""
        return _FIFTHS[self.letter] + 7 * self.alter + _MODES[self.mode]

    def moved(self, shift: _Shift) -> _Key | None:
        """The key `shift` away; None when its tonic would need a double accidental."""
        step = _LETTERS.index(self.letter)
        alter = shift.alter(step, self.alter)
        if abs(alter) > 1:
            return None
        return _Key(_LETTERS[(step + shift.steps) % 7], alter, self.mode)

    @property
    def tonic(self) -> str:
        return self.letter + _TONIC_TEXT[self.alter]


def _parse_key(value: str) -> tuple[_Key, int, int]:
    """The key of a `K:` field's value, and where its tonic is in `value`.

    Raises:
        NotTransposable: no tonic, an unknown mode or word, explicit accidentals.
    """
    text = value.split("%", 1)[0]
    word = text.strip()
    if not word or word.lower().startswith("none") or word.startswith("H"):
        raise NotTransposable(f"K:{value.strip()} has no tonic to transpose")
    tonic = _KEY_TONIC.match(text)
    if tonic is None:
        raise NotTransposable(f"K:{value.strip()}: unknown key")
    rest, mode = text[tonic.end() :], "maj"
    mode_word = _MODE_WORD.match(rest)
    if mode_word and not _CLEF_WORD.match(rest.strip()):  # K:G m=c is middle=c
        name = mode_word.group(1).lower()
        if name == "m" or name[:3] in _MODES:
            mode = "min" if name == "m" else name[:3]
            rest = rest[mode_word.end() :]
    for word in rest.split():
        if _KEY_ACCIDENTAL.match(word):
            raise NotTransposable(f"K:{value.strip()}: explicit accidentals in the key")
        if not _CLEF_WORD.fullmatch(word):
            raise NotTransposable(f"K:{value.strip()}: unknown mode or word {word!r}")
    key = _Key(tonic.group(1), _TONIC_ALTER[tonic.group(2)], mode)
    return key, tonic.start(1), tonic.end()


# ---------------------------------------------------------------------------
# Reading the text into pieces


@dataclasses.dataclass(frozen=True)
class _KeyField:
    """A `K:` field: `text[:start] + tonic + text[end:]`."""

    text: str
    key: _Key
    start: int
    end: int


@dataclasses.dataclass(frozen=True)
class _Note:
    accidental: str
    letter: str
    octave: str


@dataclasses.dataclass(frozen=True)
class _ChordSymbol:
    """A quoted chord symbol; `match` is `_CHORD_SYMBOL` on its inside."""

    match: re.Match


def _key_field(text: str, value_start: int) -> _KeyField:
    key, start, end = _parse_key(text[value_start:])
    return _KeyField(text, key, value_start + start, value_start + end)


def _pieces(abc: str) -> list:
    """The tune as a list of strings (kept) and `_KeyField`, `_Note`, `_ChordSymbol`."""
    pieces: list = []
    in_header = True
    for line in abc.splitlines(keepends=True):
        content = line.rstrip("\r\n")
        field = _FIELD_LINE.match(content)
        if field:
            name = field.group(1)
            if name == "V":
                raise NotTransposable("several voices (V: fields)")
            if name == "m":
                raise NotTransposable("macros (m: fields)")
            if name == "K":
                pieces.append(_key_field(content, 2))
                in_header = False
            else:
                pieces.append(content)
        elif in_header or content.startswith("%"):
            if in_header and content.strip() and not content.startswith("%"):
                raise NotTransposable(f"a header line that is not a field: {content[:30]!r}")
            pieces.append(content)
        else:
            _music_pieces(content, pieces)
        pieces.append(line[len(content) :])
    if in_header:
        raise NotTransposable("no K: field")
    return pieces


def _music_pieces(line: str, pieces: list) -> None:
    for match in _MUSIC.finditer(line):
        kind, text = match.lastgroup, match.group()
        if kind == "note":
            pieces.append(_Note(match.group("accidental") or "", *match.group("letter", "octave")))
        elif kind == "field":
            name = match.group("field_name")
            if name == "V":
                raise NotTransposable("several voices ([V:] fields)")
            pieces.append(_key_field(text[:-1], 3) if name == "K" else text)
            if name == "K":
                pieces.append("]")
        elif kind == "quote":
            chord = (
                _CHORD_SYMBOL.fullmatch(text[1:-1]) if len(text) > 1 and text[-1] == '"' else None
            )
            pieces.extend(['"', _ChordSymbol(chord), '"'] if chord else [text])
        elif kind == "plus" and _PLUS_CHORD.fullmatch(text[1:-1]) and set(text[1:-1]) != {"f"}:
            # An ABC 1.6 chord (+CEG+), not a decoration (+trill+, +ff+).
            pieces.append("+")
            _music_pieces(text[1:-1], pieces)
            pieces.append("+")
        else:
            pieces.append(text)


# ---------------------------------------------------------------------------
# Writing


def _choose_shift(keys: list[_Key], named: _Shift) -> tuple[_Shift, list[_Key]]:
    """The spelling of the interval whose keys need the fewest accidentals."""
    best = None
    for steps in (named.steps, named.steps - 1, named.steps + 1):
        shift = _Shift(steps, named.semitones)
        moved = [key.moved(shift) for key in keys]
        if any(key is None for key in moved):
            continue
        sizes = [abs(key.sharps) for key in moved]
        score = (max(sizes), sum(sizes))
        if best is None or score < best[0]:
            best = (score, shift, moved)
    if best is None or best[0][0] > MAX_ACCIDENTALS:
        names = ", ".join(key.tonic + key.mode for key in keys)
        raise NotTransposable(f"keys {names} would need more than {MAX_ACCIDENTALS} accidentals")
    return best[1], best[2]


def _write_note(note: _Note, shift: _Shift) -> str:
    octave = 4 + note.letter.islower() + note.octave.count("'") - note.octave.count(",")
    step = _LETTERS.index(note.letter.upper()) + 7 * octave
    new_octave, index = divmod(step + shift.steps, 7)
    letter = _LETTERS[index]
    if new_octave <= 4:
        text = letter + "," * (4 - new_octave)
    else:
        text = letter.lower() + "'" * (new_octave - 5)
    if not note.accidental:
        return text
    alter = shift.alter(step, _ALTER[note.accidental])
    if alter not in _ACCIDENTAL:
        raise NotTransposable(
            f"{note.accidental}{note.letter}{note.octave} would need a triple sharp or flat"
        )
    return _ACCIDENTAL[alter] + text


def _move_pitch_name(letter: str, alter_text: str, shift: _Shift) -> str:
    """A chord symbol's root or bass moved by `shift`, at most one `#` or `b`."""
    step = _LETTERS.index(letter.upper())
    alter = shift.alter(step, _TONIC_ALTER[alter_text])
    step += shift.steps
    while alter > 1:  # E## -> F#, F## -> G
        alter -= _natural(step + 1) - _natural(step)
        step += 1
    while alter < -1:  # Cbb -> Bb, Gbb -> F
        alter += _natural(step) - _natural(step - 1)
        step -= 1
    new = _LETTERS[step % 7]
    return (new if letter.isupper() else new.lower()) + _TONIC_TEXT[alter]


def _write_chord_symbol(chord: re.Match, shift: _Shift) -> str:
    text = chord.group("lead") + _move_pitch_name(*chord.group("root", "root_alter"), shift)
    text += chord.group("kind")
    if chord.group("bass"):
        text += "/" + _move_pitch_name(*chord.group("bass", "bass_alter"), shift)
    return text + chord.group("trail")


def transpose_abc(abc: str, interval: str) -> str:
    """Transposes one ABC tune by an interval, on its text (see the module docstring).

    Args:
        abc: one tune, `X:` line first.
        interval: a music21 interval name: `"M2"`, `"-m3"`, `"P4"`, `"P-5"`...

    Returns:
        The tune's text with its keys, notes and chord symbols transposed and
        everything else as it was.

    Raises:
        NotTransposable: the tune is one this transposer refuses (the message
            says why).
        ValueError: `interval` is not an interval name.
    """
    named = _parse_interval(interval)
    pieces = _pieces(abc)
    fields = [piece for piece in pieces if isinstance(piece, _KeyField)]
    shift, moved = _choose_shift([field.key for field in fields], named)
    new_key = {id(field): key for field, key in zip(fields, moved)}
    out = []
    for piece in pieces:
        if isinstance(piece, str):
            out.append(piece)
        elif isinstance(piece, _Note):
            out.append(_write_note(piece, shift))
        elif isinstance(piece, _KeyField):
            tonic = new_key[id(piece)].tonic
            out.append(piece.text[: piece.start] + tonic + piece.text[piece.end :])
        else:
            out.append(_write_chord_symbol(piece.match, shift))
    return "".join(out)


# ---------------------------------------------------------------------------
# The check with music21


_QUOTED = re.compile(r'"([^"\n]*)"')


def _chord_symbols_only(abc: str) -> str:
    """The tune without the quoted strings of its music lines that are not chord symbols.

    music21 reads any quoted string it can as a chord symbol (`"f"`, forte, is
    an F chord to it) and drops the note after a string that starts with `>`.
    Such strings hold no notes, so leaving them out of both texts changes
    nothing that the check compares.
    """

    def keep_chords(match: re.Match) -> str:
        return match.group() if _CHORD_SYMBOL.fullmatch(match.group(1)) else ""

    lines = abc.splitlines(keepends=True)
    return "".join(
        line if _FIELD_LINE.match(line) or line.startswith("%") else _QUOTED.sub(keep_chords, line)
        for line in lines
    )


@functools.lru_cache(maxsize=256)
def _reading(abc: str) -> tuple | str:
    """music21's reading of a tune: per note, chord or chord symbol in order,
    `(kind, pitches, quarter length)`: MIDI numbers for notes and chords,
    pitch classes for chord symbols. A string says why there is none."""
    from music21 import converter, harmony, stream

    try:
        with contextlib.redirect_stderr(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            score = converter.parseData(_chord_symbols_only(abc), format="abc")
            if isinstance(score, stream.Opus):
                score = score.scores[0] if score.scores else None
            if score is None:
                return "music21 finds no tune"
            elements = list(score.flatten().notes)
    except Exception as error:  # music21 raises many types on text it cannot read
        return f"music21 cannot read it ({type(error).__name__}: {str(error)[:80]})"
    reading = []
    for element in elements:
        if isinstance(element, harmony.ChordSymbol):
            classes = tuple(sorted({round(p.ps) % 12 for p in element.pitches}))
            reading.append(("chord symbol", classes, 0.0))
        else:
            pitches = tuple(float(p.ps) for p in element.pitches)
            reading.append(("note", pitches, float(element.duration.quarterLength)))
    return tuple(reading) if reading else "music21 reads no notes"


def _moved(event: tuple, semitones: int) -> tuple:
    kind, pitches, length = event
    if kind == "chord symbol":
        return kind, tuple(sorted((pc + semitones) % 12 for pc in pitches)), length
    return kind, tuple(ps + semitones for ps in pitches), length


def check_transposition(original: str, transposed: str, interval: str) -> str | None:
    """Checks with music21 that `transposed` sounds as `original` moved by `interval`.

    Args:
        original: an ABC tune.
        transposed: its transposition (`transpose_abc(original, interval)`).
        interval: a music21 interval name; only its size in semitones counts.

    Returns:
        None when music21 reads from `transposed`, element by element, the
        notes and chords of `original` each `interval` higher (MIDI pitches)
        with the same quarter lengths, and chord symbols whose pitch classes
        are moved the same way; else a one-line reason.
    """
    semitones = _parse_interval(interval).semitones
    before = _reading(original)
    if isinstance(before, str):
        return f"original: {before}"
    after = _reading(transposed)
    if isinstance(after, str):
        return f"transposed: {after}"
    for number, (old, new) in enumerate(zip(before, after), start=1):
        expected = _moved(old, semitones)
        if new != expected:
            return (
                f"element {number} of {len(before)}: {old[0]} {old[1]} {old[2]} should be "
                f"{expected[1]} {expected[2]}, is {new[0]} {new[1]} {new[2]}"
            )
    if len(before) != len(after):
        return f"{len(before)} elements in the original, {len(after)} in the transposition"
    return None


def transpositions(abc: str, intervals: Iterable[str]) -> list[str]:
    """The transpositions of a tune that music21 confirms, for data augmentation.

    Args:
        abc: one ABC tune.
        intervals: music21 interval names, e.g. `NEAR_SHIFTS` (±1 to ±5
            semitones, which keep most tunes playable); the caller chooses.

    Returns:
        `transpose_abc(abc, interval)` for each interval, in order, leaving out
        those the transposer refuses and those `check_transposition` rejects.
    """
    out = []
    for interval in intervals:
        try:
            transposed = transpose_abc(abc, interval)
        except NotTransposable:
            continue
        if check_transposition(abc, transposed, interval) is None:
            out.append(transposed)
    return out
