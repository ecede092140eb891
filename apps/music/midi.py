"""MIDI files that keep the score: repeats written out, tempo, meter, key and notes.

music21's MIDI writer (`score.write("midi")`, music21 10.5) raises on more than
half of the generated tunes that parse, and on some corpus tunes; where it does
not raise it often writes something other than the score. `write_score_midi`
writes a repaired copy of the score instead. What goes wrong, and the repair:

- One time signature object in two bars: `StreamException: the object
  (<music21.meter.TimeSignature 6/8>, ...) is already found in this Stream`,
  the commonest failure. music21's ABC reader splits a bar longer than its
  meter (`abcFormat.translate.reBar`), gives the split-off notes a meter of
  their own (`bestTimeSignature`) and restores the tune's meter on the next bar
  by inserting the *same* `TimeSignature` object that already sits in an
  earlier bar. The writer gathers the time signatures into its conductor track
  (`midi.translate.conductorStream`), which skips one only when it is not
  later than the previous one, so the shared object, met again at a later bar,
  is inserted twice. The writer's own repeat expansion copies bars one by one
  and so usually, not always, hides this in tunes with repeats. Repair: each
  later bar gets its own copy.
- Repeat signs music21's `repeat.Expander` cannot pair: `ExpanderException:
  cannot expand Stream: badly formed repeats or repeat expressions` (the writer
  always expands repeats). A start `|:` that no `:|` closes before the next
  `|:` or the end of the tune; an ending (`|2`, `[2`) without a `|1` before it
  or a `:|` after the first one. Repair: unclosed starts are dropped (they
  repeat nothing); when the Expander still refuses, all repeat signs and
  endings are dropped and the tune is played once, and the result says so.
- Parts without bars beside parts with bars (ABC voices declared in the
  header): `StreamException: cannot process repeats on Stream that does not
  contain measures`. Repair: those parts are put in bars.
- An end repeat `:|` without a start: music21 always goes back to the start of
  the tune, also after an earlier repeat, so each such section plays all that
  came before it again (`A :| B :|` gives A A B A A B; a corpus tune with 8
  sections grows 31-fold). In ABC it goes back to the bar after the previous
  `:|` (past its endings) or double bar line. Repair: the missing `|:` is
  added there.
- A split bar's `:|` (see the first point) lands on the left of the split-off
  notes, which then fall after the repeat. Repair: it is put back on the right.
- Expanded repeats copy bars, not the meter, key and tempo in force where the
  repeat starts: after a change inside the repeated bars, the second time
  through keeps the changed meter. Repair: the bar a repeat goes back to states
  them; restatements of what is in force are then removed.
- Notes without duration: grace notes (`{g}`) and chord symbols (`"Am"`,
  which music21 reads as chords of no duration and writes as notes). Their
  note-off sorts before their note-on at the same instant, so they never stop.
  Repair: they are left out.

A tune without a tempo gets music21's own default, quarter = 120, written out
as a tempo event; one without a time signature gets music21's 4/4.
"""

import contextlib
import copy
import dataclasses
import io
import os
import pathlib
import tempfile
import warnings

from apps.music import scores

# music21's tempo when a tune has none (`midi.translate.conductorStream`).
DEFAULT_TEMPO = 120


@dataclasses.dataclass(frozen=True)
class MidiResult:
    """What `write_score_midi` did.

    Args:
        written: The MIDI file is at the path.
        repeats_expanded: The tune's repeats are written out in the file;
            False when it has none or they could not be expanded.
        repairs: What was changed in the copy of the score that was written,
            one short phrase each.
        error: Why nothing was written, on one line.
    """

    written: bool
    repeats_expanded: bool = False
    repairs: tuple[str, ...] = ()
    error: str | None = None

    def label(self):
        """One line for people: `MIDI, repeats written out; 1 grace note left out`."""
        if not self.written:
            return f"no MIDI ({self.error})"
        parts = ["MIDI, repeats written out" if self.repeats_expanded else "MIDI"]
        return "; ".join([", ".join(parts), *self.repairs])


def write_score_midi(score, path, time_limit=None):
    """Writes a music21 score as a MIDI file, repairing a copy where music21 would fail.

    The file holds a conductor track (tempo, time and key signatures) and the
    notes, chords and rests of the tune with its repeats written out. It is
    written to a temporary file in the same folder and then renamed, so the path
    holds either the whole file or nothing new.

    Args:
        score: A music21 `Score` (or `Part`), e.g. `TuneCheck.score`; it is not
            changed.
        path: Where to write the `.mid` file.
        time_limit: Seconds music21 may take; no limit when None (the limit
            only works on the main thread).

    Returns:
        A `MidiResult`; it never raises for a problem in music21 or the score.
    """
    path = pathlib.Path(path)
    limit = scores.time_limit(time_limit) if time_limit else contextlib.nullcontext()
    try:
        with (
            limit,
            contextlib.redirect_stderr(io.StringIO()),
            warnings.catch_warnings(),
        ):
            warnings.simplefilter("ignore")
            playable, expanded, repairs = prepare_score(score)
            data = _midi_bytes(playable)
    except scores.TimeUp:
        return MidiResult(written=False, error=f"music21 did not finish in {time_limit:g} s")
    except Exception as error:  # music21 raises many types on odd scores
        return MidiResult(written=False, error=scores.short_error(error))
    try:
        _write_atomically(data, path)
    except OSError as error:
        return MidiResult(written=False, error=f"cannot write {path}: {error.strerror or error}")
    return MidiResult(written=True, repeats_expanded=expanded, repairs=tuple(repairs))


def prepare_score(score):
    """A copy of `score` that music21's MIDI writer can write as it is.

    Args:
        score: A music21 `Score` or `Part`; it is not changed.

    Returns:
        `(copy, repeats_expanded, repairs)`: the repaired copy with its repeats
        written out where they could be, whether they were, and what was
        changed, one short phrase each.
    """
    from music21 import meter, stream

    if isinstance(score, stream.Opus):
        raise ValueError("an Opus holds several tunes; write its scores one by one")
    if not score.recurse().notes:
        raise ValueError("the score has no notes")
    work = copy.deepcopy(score)
    repairs = []
    for kind, copies in _unshare_conductor_marks(work).items():
        repairs.append(f"shared {kind} copied into {_count(copies, 'bar')}")
    work, expanded, repeat_repairs = _expand_repeats(work)
    repairs += repeat_repairs
    _drop_restated_marks(work)
    _unshare_conductor_marks(work)  # expansion copies bars; keep each mark in one place
    grace, symbols, empty = _drop_zero_length_notes(work)
    if grace:
        repairs.append(f"{_count(grace, 'grace note')} left out (no duration)")
    if symbols:
        repairs.append(f"{_count(symbols, 'chord symbol')} left out (no duration)")
    if empty:
        repairs.append(f"{_count(empty, 'note')} of zero length left out")
    tempo_repair = _ensure_tempo(work)
    if tempo_repair:
        repairs.append(tempo_repair)
    if not work.recurse().getElementsByClass(meter.TimeSignature):
        repairs.append("no time signature: 4/4")
    return work, expanded, repairs


def _count(number, noun):
    return f"{number} {noun}" + ("" if number == 1 else "s")


def _unshare_conductor_marks(score):
    """Gives each later place of a time signature, key signature or tempo mark that
    sits in more than one place its own copy; returns `{kind: copies}`."""
    from music21 import key, meter, tempo

    kinds = {
        meter.TimeSignature: "time signature",
        key.KeySignature: "key signature",
        tempo.MetronomeMark: "tempo mark",
    }
    seen = set()
    copies = {}
    for container in list(score.recurse(streamsOnly=True, includeSelf=True)):
        for element in list(container.getElementsByClass(tuple(kinds))):
            if id(element) not in seen:
                seen.add(id(element))
                continue
            container.replace(element, copy.deepcopy(element))
            kind = next(name for cls, name in kinds.items() if isinstance(element, cls))
            copies[kind] = copies.get(kind, 0) + 1
    return copies


def _expand_repeats(score):
    """`(score, expanded, repairs)`: `score` with its repeats written out, or left
    as it is, with its repeat signs dropped, when music21 cannot pair them."""
    from music21 import bar, repeat, spanner, stream

    if not score.recurse().getElementsByClass(stream.Measure):
        return score, False, []
    repairs = []
    barred = 0
    for part in _parts(score):
        if not part.getElementsByClass(stream.Measure):
            part.makeMeasures(inPlace=True)
            barred += 1
    if barred:
        repairs.append(f"bars made for {_count(barred, 'part')} without any")
    marks = score.recurse().getElementsByClass(
        (bar.Repeat, spanner.RepeatBracket, repeat.RepeatExpression)
    )
    if not marks:
        return score, False, repairs
    moved = sum(_put_back_split_end_repeats(part) for part in _parts(score))
    if moved:
        repairs.append(f"{moved} :| put back after the notes music21 split off")
    added = dropped = 0
    for part in _parts(score):
        part_added, part_dropped = _pair_repeat_signs(part)
        added += part_added
        dropped += part_dropped
    if added:
        repairs.append(f"{added} missing |: added")
    if dropped:
        repairs.append(f"{dropped} unclosed |: dropped")
    for part in _parts(score):
        _restate_at_repeat_starts(part)
    try:
        return score.expandRepeats(), True, repairs
    except scores.TimeUp:
        raise
    except Exception:  # music21's Expander raises several types on bad repeats
        pass
    _drop_repeat_marks(score)
    return score, False, [*repairs, "repeats played once (repeat signs music21 cannot pair)"]


def _parts(score):
    from music21 import stream

    return list(score.parts) if isinstance(score, stream.Score) else [score]


def _put_back_split_end_repeats(part):
    """Moves each end repeat that sits on the left of a bar to its right; returns
    how many.

    When music21's ABC reader splits a bar longer than its meter
    (`abcFormat.translate.reBar`), the bar's closing `:|` lands on the left of
    the split-off part, so that its notes fall after the repeat.
    """
    from music21 import bar, stream

    moved = 0
    for measure in part.getElementsByClass(stream.Measure):
        left = measure.leftBarline
        if isinstance(left, bar.Repeat) and left.direction == "end" and not measure.rightBarline:
            measure.leftBarline = None
            measure.rightBarline = bar.Repeat(direction="end")
            moved += 1
    return moved


def _pair_repeat_signs(part):
    """Gives every end repeat `:|` a start `|:` and drops start signs nothing
    closes, as ABC's convention reads them; returns `(added, dropped)`.

    An end repeat without a start goes back to the bar after the previous end
    repeat (past its ending brackets) or double bar line, or to the start of the
    tune; music21 would always go back to the start, so each such repeat there
    doubles all that came before it. A start repeat followed by another start,
    or by the end of the tune, before any end repeat repeats nothing.
    """
    from music21 import bar, spanner, stream

    measures = list(part.getElementsByClass(stream.Measure))
    in_ending = {
        id(m)
        for bracket in part.recurse().getElementsByClass(spanner.RepeatBracket)
        for m in bracket.getSpannedElements()
    }
    added = dropped = 0
    open_start = None  # index of the bar with an unclosed start repeat
    section = 0  # index of the bar where an end repeat without a start goes back to

    def end_repeat(index):
        nonlocal open_start, section, added
        if open_start is None and 0 < section < len(measures) and section <= index:
            measures[section].leftBarline = bar.Repeat(direction="start")
            added += 1
        open_start = None
        section = index + 1
        while section < len(measures) and id(measures[section]) in in_ending:
            section += 1

    for index, measure in enumerate(measures):
        left, right = measure.leftBarline, measure.rightBarline
        if isinstance(left, bar.Repeat) and left.direction == "end":
            end_repeat(index - 1)
        if isinstance(left, bar.Repeat) and left.direction == "start":
            if open_start is not None:
                measures[open_start].leftBarline = bar.Barline("regular")
                dropped += 1
            open_start = index
        elif left is not None and left.type in ("double", "final", "heavy-light"):
            if open_start is None:
                section = max(section, index)
        if isinstance(right, bar.Repeat) and right.direction == "end":
            end_repeat(index)
        elif right is not None and right.type in ("double", "final", "light-heavy"):
            if open_start is None:
                section = max(section, index + 1)
    if open_start is not None:
        measures[open_start].leftBarline = bar.Barline("regular")
        dropped += 1
    return added, dropped


def _signature_kinds():
    from music21 import key, meter, tempo

    return (meter.TimeSignature, key.KeySignature, tempo.MetronomeMark)


def _restate_at_repeat_starts(part):
    """Puts the time signature, key and tempo in force where each repeat starts into
    that bar, so that they hold again the second time through: music21 repeats
    the bars, not what was in force when they began."""
    from music21 import bar, stream

    measures = list(part.getElementsByClass(stream.Measure))
    starts = {
        id(m)
        for m in measures
        if isinstance(m.leftBarline, bar.Repeat) and m.leftBarline.direction == "start"
    }
    in_force = {}
    for measure in measures:
        for kind in _signature_kinds():
            here = measure.getElementsByClass(kind)
            if here:
                in_force[kind] = here.last()
            elif id(measure) in starts and kind in in_force:
                measure.insert(0, copy.deepcopy(in_force[kind]))


def _drop_restated_marks(score):
    """Removes time signatures, keys and tempos that restate the one in force, as
    expanded repeats do, so that the MIDI file holds only the changes."""
    from music21 import key, meter, stream

    def value(mark):
        if isinstance(mark, meter.TimeSignature):
            return mark.ratioString
        if isinstance(mark, key.KeySignature):
            return mark.sharps, getattr(mark, "mode", None)
        return mark.getQuarterBPM()

    for part in _parts(score):
        in_force = {}
        for container in [part, *part.getElementsByClass(stream.Measure)]:
            for mark in list(container.getElementsByClass(_signature_kinds())):
                kind = next(k for k in _signature_kinds() if isinstance(mark, k))
                if kind in in_force and in_force[kind] == value(mark):
                    container.remove(mark)
                else:
                    in_force[kind] = value(mark)


def _repeat_signs(part):
    """`(measure, side, barline)` of every repeat sign in `part`, in order."""
    from music21 import bar, stream

    signs = []
    for measure in part.getElementsByClass(stream.Measure):
        for side in ("leftBarline", "rightBarline"):
            barline = getattr(measure, side)
            if isinstance(barline, bar.Repeat):
                signs.append((measure, side, barline))
    return signs


def _drop_repeat_marks(score):
    """Replaces every repeat sign by a plain bar line and removes ending brackets
    and repeat words (D.C., segno), so that music21 has nothing to expand."""
    from music21 import bar, repeat, spanner

    for part in _parts(score):
        for measure, side, _ in _repeat_signs(part):
            setattr(measure, side, bar.Barline("double" if side == "rightBarline" else "regular"))
    for container in list(score.recurse(streamsOnly=True, includeSelf=True)):
        marks = container.getElementsByClass((spanner.RepeatBracket, repeat.RepeatExpression))
        for element in list(marks):
            container.remove(element)


def _drop_zero_length_notes(score):
    """Removes grace notes, chord symbols and other notes without duration, which
    music21 writes as notes that never stop; returns `(grace, symbols, other)`."""
    from music21 import harmony

    grace = symbols = other = 0
    for container in list(score.recurse(streamsOnly=True, includeSelf=True)):
        for element in list(container.notes):
            if isinstance(element, harmony.Harmony):
                symbols += 1
            elif element.duration.quarterLength > 0:
                continue
            elif element.duration.isGrace:
                grace += 1
            else:
                other += 1
            container.remove(element)
    return grace, symbols, other


def _ensure_tempo(score):
    """Drops tempo marks without a number and puts quarter = `DEFAULT_TEMPO` at the
    start when none is left; returns what it did, or None."""
    from music21 import stream, tempo

    marks = silent = 0
    for container in list(score.recurse(streamsOnly=True, includeSelf=True)):
        for mark in list(container.getElementsByClass(tempo.MetronomeMark)):
            marks += 1
            if mark.number is None and mark.numberSounding is None:
                container.remove(mark)
                silent += 1
    if marks > silent:
        return f"{_count(silent, 'tempo mark')} without a number left out" if silent else None
    first = score.recurse().getElementsByClass(stream.Measure).first()
    (first if first is not None else _parts(score)[0]).insert(
        0, tempo.MetronomeMark(number=DEFAULT_TEMPO)
    )
    return f"no tempo: quarter = {DEFAULT_TEMPO}"


def _midi_bytes(score):
    """The MIDI file music21 makes of `score`, as bytes."""
    from music21.midi import translate

    return translate.streamToMidiFile(score).writestr()


def _write_atomically(data, path):
    """Writes `data` to a temporary file beside `path`, then renames it to `path`."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(temporary, 0o666 & ~mask)  # mkstemp makes it private
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
