"""Tunes as music, beyond "valid": key, melody and repetition of music21 scores.

music21 accepting a tune says little about whether it makes musical sense: a
random walk of notes under a key signature parses. The measures here judge a
score the way a folk musician would at a glance, and are computed the same way
for generated tunes and for real test tunes, so that a report can show one row
per set (`summarize_measures`) and how far each set is from the other
(`compare_sets`).

Per tune (`measure_tune(score)`, a dict; `None` where a measure cannot be
computed, never an exception):

- `notes`: sounding notes and chords, tied notes counted once, grace notes not
  at all.
- `in_key_share`: the share of the sounding time, in quarter notes, whose pitch
  class lies in the scale of the key signature (the ABC `K:` field).
- `key_profile_distance`: 1 - Pearson correlation between the tune's
  time-weighted scale-degree histogram and the Aarden-Essen profile of its
  mode.
- `step_share`: the share of melodic intervals of at most 2 semitones.
- `has_repeat_signs`: the score has a repeat bar line (`|:`, `:|`, `::`) or
  an ending (`[1`, `[2`).
- `repeated_bar_share`: the share of full bars whose notes recur exactly in
  another full bar of the tune.

Between two sets of tunes (`compare_sets`): Jensen-Shannon divergences (log
base 2, so in [0, 1]) of the pooled histograms of scale degrees, melodic
intervals and note lengths.

Conventions: a chord counts each of its pitches for the pitch-class measures
and its highest pitch for the melody; notes tied across a bar line count as one
note of their total length; rests, grace notes and chord symbols (`"Am"`) make
no note. Each voice (`V:`) is a melody of its own. The key of a note is the
last key signature before it in its voice; music21 ignores ABC's mid-tune key
changes (`[K:F]`), and spells the notes after a `K:` line in the new key
without recording it, so such notes are judged against the first key.

What 44 real test tunes of music21's corpus score (`load_corpus().test[::15]`,
see tests/apps/test_music_musicality.py), against the same tunes with their
pitches permuted among their notes, and with each pitch replaced by a random
one in the tune's range (means over tunes):

    measure                real   permuted   random pitches
    in_key_share           0.975    0.974        0.627
    key_profile_distance   0.200    0.214        0.850
    step_share             0.676    0.402        0.287
    has_repeat_signs       0.186    0.186        0.186
    repeated_bar_share     0.407    0.019        0.008

Permuting keeps a tune's pitches, so only the measures of order (steps,
repeated bars) fall; random pitches leave the key too. The repeat signs belong
to the text, which neither changes.

Speed: about 3 ms per tune for `measure_tune` and 1 ms for `tune_histograms`,
on top of music21's parsing (about 20 ms).
"""

import dataclasses
import functools

import numpy as np

MEASURES = (
    "notes",
    "in_key_share",
    "key_profile_distance",
    "step_share",
    "has_repeat_signs",
    "repeated_bar_share",
)

# Modes whose third is minor take the minor profile; the others the major one.
MINOR_MODES = frozenset({"minor", "aeolian", "dorian", "phrygian", "locrian"})
# music21.analysis.discrete class whose major and minor weights are the profiles.
KEY_PROFILE = "AardenEssen"

# Melodic intervals beyond an octave fall in the first or last bin.
INTERVAL_CLIP = 12
INTERVAL_LABELS = tuple(range(-INTERVAL_CLIP, INTERVAL_CLIP + 1))
# Note lengths in quarter notes: bins around the usual values, named by them.
DURATION_EDGES = (0.3, 0.4, 0.6, 0.8, 1.2, 1.6, 2.4, 3.2)
DURATION_LABELS = ("<=1/4", "1/3", "1/2", "3/4", "1", "3/2", "2", "3", ">=4")
SCALE_DEGREE_LABELS = tuple(range(12))

_EPSILON = 1e-6


@dataclasses.dataclass
class _Melody:
    """What the measures need of one score, read once."""

    # One row per sounding pitch: pitch class, quarter notes, tonic pitch class
    # (-1 without a key), in the key's scale, key is minor.
    pitch_classes: np.ndarray
    lengths: np.ndarray
    tonics: np.ndarray
    in_scale: np.ndarray
    minor: np.ndarray
    notes: int
    # Per note (tied notes merged): its length; per pair of successive notes
    # of a voice: the interval in semitones between their highest pitches.
    note_lengths: np.ndarray
    intervals: np.ndarray
    has_measures: bool
    has_repeat_signs: bool
    full_bars: int
    repeated_bars: int


@dataclasses.dataclass(frozen=True)
class _Key:
    tonic: int
    in_scale: tuple
    minor: bool


def measure_tune(score):
    """The musical measures of one tune (see the module docstring).

    Args:
        score: A music21 score (or part, or opus: its first score), a
            `scores.TuneCheck` (its `.score` is used), or None.

    Returns:
        `{name: value}` for every name in `MEASURES`: an int, a float, a bool,
        or None where the measure cannot be computed (no key signature, no
        bars, ...). A score without notes has `notes` 0 (None when it is not
        a score at all) and every other measure None. Never raises.
    """
    result = dict.fromkeys(MEASURES)
    melody = _read_or_none(score)
    if melody is None:
        return result
    result["notes"] = melody.notes
    if not melody.notes:  # rests only: nothing to judge
        return result
    for name, measure in (
        ("in_key_share", in_key_share),
        ("key_profile_distance", key_profile_distance),
        ("step_share", step_share),
        ("has_repeat_signs", has_repeat_signs),
        ("repeated_bar_share", repeated_bar_share),
    ):
        try:
            result[name] = measure(melody)
        except Exception:  # a measure that fails on an odd score is simply unknown
            result[name] = None
    return result


def in_key_share(score):
    """The share of sounding time whose pitch class is in the key's scale.

    Each sounding pitch counts for its length in quarter notes. The scale is
    the seven pitch classes of the key signature (music21's `key.Key` or
    `KeySignature` from the ABC `K:` field): a mode does not change them, so
    the signature's major scale gives them (`KeySignature.asKey("major")
    .getScale()`). A natural, sharp or flat outside the signature counts as out
    of the key, even when the tune's mode or harmony calls for it (a raised
    leading tone in a minor tune).

    Why: folk tunes stay in their scale, and a model that has not learnt what
    a key signature means writes accidentals at random.

    Args:
        score: as for `measure_tune`.

    Returns:
        A float in [0, 1], or None without a key signature or sounding notes.
        Real tunes: 0.975 on average, most exactly 1.0 (some Essen songs
        declare `K: G` and write the flats of G minor, and score 0.7-0.85);
        pitches drawn uniformly from the 12 pitch classes: 7/12 = 0.58 (0.63
        for random pitches within each tune's range).
    """
    melody = _melody(score)
    if melody is None:
        return None
    keyed = melody.tonics >= 0
    total = float(melody.lengths[keyed].sum())
    if total <= _EPSILON:
        return None
    return float(melody.lengths[keyed & melody.in_scale].sum()) / total


def key_profile_distance(score, profile=KEY_PROFILE):
    """How unlike a tune in its key the tune's scale-degree distribution is.

    The tune's time-weighted histogram of scale degrees (pitch class minus the
    tonic of the declared key, mod 12) is compared with the Aarden-Essen
    profile (`music21.analysis.discrete.AardenEssen`) of its mode, major for
    major, Ionian, Lydian and Mixolydian keys and minor for the others (by the
    third); a key signature without a mode counts as its major key. The
    distance is 1 - r, r the Pearson correlation.

    Why this one: the correlation with a key profile is the Krumhansl-
    Schmuckler key-finding score that music21's `analyze("key")` maximises, so
    1 - r is 1 minus the score music21 gives the declared key; it depends on
    the shape of the distribution only, not on the profile's units. Of
    music21's profiles, Aarden-Essen is the one counted from folk melodies
    (the Essen folksong collection, part of this project's corpus), the music
    the app learns; Krumhansl-Kessler's come from listeners' ratings of chords
    and tones. Unlike `in_key_share` it also asks whether the tonic, fifth and
    third get their due weight, not just whether notes are in the scale.

    Args:
        score: as for `measure_tune`.
        profile: the name of a `music21.analysis.discrete` key-weight class.

    Returns:
        A float in [0, 2]; 0 is the profile's shape exactly, 1 no relation, 2
        its opposite. None without a key signature or sounding notes, or when
        the histogram is flat. Real tunes: 0.20 on average (0.03-0.47, the
        Essen songs of the previous paragraph up to 0.73); random pitches:
        0.85.
    """
    melody = _melody(score)
    if melody is None or float(melody.lengths[melody.tonics >= 0].sum()) <= _EPSILON:
        return None
    keyed = melody.tonics >= 0
    degrees = (melody.pitch_classes[keyed] - melody.tonics[keyed]) % 12
    lengths = melody.lengths[keyed]
    histogram = np.bincount(degrees, weights=lengths, minlength=12)
    minor_time = float(lengths[melody.minor[keyed]].sum())
    weights = _profile(profile, "minor" if minor_time > lengths.sum() / 2 else "major")
    if np.ptp(histogram) <= _EPSILON:
        return None
    return float(1.0 - np.corrcoef(histogram, weights)[0, 1])


def step_share(score):
    """The share of melodic intervals of at most two semitones (steps and repeats).

    Intervals are taken between successive notes of a voice (the highest pitch
    of a chord; across rests; tied notes as one note).

    Why: folk melodies move mostly by step, random walks over a range leap.

    Args:
        score: as for `measure_tune`.

    Returns:
        A float in [0, 1], or None with fewer than two notes. Real tunes: 0.68
        on average (0.42-0.97); the same pitches in a random order: 0.40;
        random pitches: 0.29.
    """
    melody = _melody(score)
    if melody is None or not len(melody.intervals):
        return None
    return float(np.mean(np.abs(melody.intervals) <= 2))


def has_repeat_signs(score):
    """Whether the score has a repeat bar line or an ending.

    A `bar.Repeat` as a bar's left or right bar line (ABC `|:`, `:|`, `::`) or
    a `spanner.RepeatBracket` (`[1`, `|2`).

    Why: most folk tunes are written as repeated strains (AABB).

    Args:
        score: as for `measure_tune`.

    Returns:
        A bool, or None when the score has no bars: music21 makes bars only of
        a tune with at least two plain bar lines, and drops the repeat signs of
        the others. Real tunes: 19 % of the test tunes (Essen songs never, the
        Aird and Ryan dance tunes mostly).
    """
    melody = _melody(score)
    if melody is None or not melody.has_measures:
        return None
    return melody.has_repeat_signs


def repeated_bar_share(score):
    """The share of full bars whose content recurs in another full bar of the tune.

    A bar's content is the sequence of its notes, chords and rests, each as
    (offset in the bar, MIDI pitches or rest, length in quarter notes); two
    bars recur when their contents are equal. Only full bars count, in the
    numerator and the denominator: bars as long as the time signature says
    with at least one note. A pick-up bar, the short bar that completes it at
    the end of a strain, and over- or under-full bars are left out, so a
    pick-up neither breaks nor makes a repetition. Without a time signature
    every bar with a note is full. Written text is compared: a strain under
    repeat signs is written once, so its bars recur only when the tune itself
    repeats them (a phrase coming back, a strain whose two halves share bars);
    see `has_repeat_signs` for the signs.

    Why: folk tunes are built of recurring phrases; a melody drawn note by
    note rarely writes the same bar twice.

    Args:
        score: as for `measure_tune`.

    Returns:
        A float in [0, 1], or None with fewer than two full bars. Real tunes:
        0.41 on average (0 for some short Essen songs, up to 1.0); the same
        pitches in a random order: 0.02; random pitches: 0.01.
    """
    melody = _melody(score)
    if melody is None or melody.full_bars < 2:
        return None
    return melody.repeated_bars / melody.full_bars


# -- sets of tunes --------------------------------------------------------------


def summarize_measures(measures):
    """One row for a set of tunes: the mean of each measure where defined.

    Args:
        measures: list of `measure_tune` results.

    Returns:
        `{"tunes": count, name: mean or None, f"{name}_n": tunes where defined}`
        for every name in `MEASURES`; a bool measure's mean is the share of
        tunes where it is True.
    """
    row = {"tunes": len(measures)}
    for name in MEASURES:
        values = [float(m[name]) for m in measures if m.get(name) is not None]
        row[name] = float(np.mean(values)) if values else None
        row[f"{name}_n"] = len(values)
    return row


def tune_histograms(score):
    """The three histograms `compare_sets` pools, for one tune.

    Args:
        score: as for `measure_tune`.

    Returns:
        `{"scale_degree": 12 floats, "interval": 25, "duration": 9}`, numpy
        arrays: quarter notes of sounding time per scale degree (pitch class
        minus tonic, mod 12; notes without a key signature are left out),
        melodic intervals per semitone from -12 to 12 (`INTERVAL_LABELS`,
        clipped), and notes per length bin (`DURATION_LABELS`, edges
        `DURATION_EDGES`, in quarter notes). All zeros for a score without
        notes.
    """
    melody = _read_or_none(score)
    if melody is None:
        return {
            "scale_degree": np.zeros(12),
            "interval": np.zeros(len(INTERVAL_LABELS)),
            "duration": np.zeros(len(DURATION_LABELS)),
        }
    keyed = melody.tonics >= 0
    degrees = (melody.pitch_classes[keyed] - melody.tonics[keyed]) % 12
    intervals = np.clip(melody.intervals, -INTERVAL_CLIP, INTERVAL_CLIP) + INTERVAL_CLIP
    return {
        "scale_degree": np.bincount(degrees, weights=melody.lengths[keyed], minlength=12),
        "interval": np.bincount(intervals, minlength=len(INTERVAL_LABELS)).astype(float),
        "duration": np.bincount(
            np.digitize(melody.note_lengths, DURATION_EDGES), minlength=len(DURATION_LABELS)
        ).astype(float),
    }


def pooled_histograms(scores):
    """The sums of `tune_histograms` over a set of tunes, and how many had notes.

    Args:
        scores: iterable of what `measure_tune` takes; None and scores without
            notes add nothing.

    Returns:
        `(histograms, tunes)`: the summed histograms and the number of tunes
        with at least one note.
    """
    total = tune_histograms(None)
    tunes = 0
    for score in scores:
        histograms = tune_histograms(score)
        if histograms["interval"].sum() or histograms["duration"].sum():
            tunes += 1
        for name, counts in histograms.items():
            total[name] = total[name] + counts
    return total, tunes


def compare_sets(generated_scores, real_scores):
    """How far a set of tunes is from another in scale degrees, intervals and lengths.

    Each set's histograms are pooled over its tunes (`pooled_histograms`: a
    long tune weighs more than a short one), normalised, and compared with the
    Jensen-Shannon divergence in bits (`js_divergence`).

    Args:
        generated_scores: iterable of scores (or `TuneCheck`s, or None).
        real_scores: the same, the reference set.

    Returns:
        `{"scale_degree_js", "interval_js", "duration_js"}`: floats in [0, 1],
        0 for equal distributions and 1 for disjoint ones, None when a set has
        no data for the histogram; and `"generated_tunes"`, `"real_tunes"`: the
        tunes with notes in each set. Two halves of 44 real test tunes are
        0.017, 0.022 and 0.089 apart (scale degrees, intervals, lengths: the
        halves hold different kinds of tunes); the same tunes with their
        pitches permuted are 0.001, 0.119 and 0.000 from them, with random
        pitches 0.163, 0.239 and 0.000.
    """
    generated, generated_tunes = pooled_histograms(generated_scores)
    real, real_tunes = pooled_histograms(real_scores)
    result = {
        f"{name}_js": js_divergence(generated[name], real[name])
        for name in ("scale_degree", "interval", "duration")
    }
    result["generated_tunes"] = generated_tunes
    result["real_tunes"] = real_tunes
    return result


def js_divergence(p, q):
    """The Jensen-Shannon divergence of two histograms, in bits.

    Args:
        p: non-negative counts (normalised here).
        q: the same, of the same length.

    Returns:
        A float in [0, 1]: 0 for proportional histograms, 1 for disjoint ones;
        None when either is all zeros.

    Raises:
        ValueError: the histograms differ in shape or have a negative count.
    """
    p = np.asarray(p, dtype=float)
    q = np.asarray(q, dtype=float)
    if p.shape != q.shape:
        raise ValueError(f"histograms of different shapes: {p.shape} and {q.shape}")
    if (p < 0).any() or (q < 0).any():
        raise ValueError("histograms must not be negative")
    if p.sum() <= 0 or q.sum() <= 0:
        return None
    p = p / p.sum()
    q = q / q.sum()
    middle = (p + q) / 2

    def kl(a):
        present = a > 0
        return float(np.sum(a[present] * np.log2(a[present] / middle[present])))

    return float(min(1.0, max(0.0, (kl(p) + kl(q)) / 2)))


# -- reading a score --------------------------------------------------------------


def _melody(score):
    """`score` read into a `_Melody` (once: `measure_tune` passes the `_Melody`
    to each measure), or None when it is no score or has no notes."""
    melody = score if isinstance(score, _Melody) else _read_or_none(score)
    return melody if melody is not None and melody.notes else None


def _read_or_none(score):
    try:
        score = _as_score(score)
        return None if score is None else _read(score)
    except Exception:  # music21 raises many types on odd scores
        return None


def _as_score(score):
    from music21 import stream

    if score is None:
        return None
    if not isinstance(score, stream.Stream):
        score = getattr(score, "score", None)  # a TuneCheck
        if not isinstance(score, stream.Stream):
            return None
    if isinstance(score, stream.Opus):
        scores = list(score.scores)
        score = scores[0] if scores else None
    return score


def _read(score):
    """Reads the notes, keys and bars of every voice of `score` into a `_Melody`."""
    from music21 import stream

    parts = list(score.parts) if isinstance(score, stream.Score) else []
    rows = []  # (pitch class, length, key) per sounding pitch
    note_lengths = []
    intervals = []
    bars = {"measures": False, "repeats": False, "full": 0, "repeated": 0}
    for part in parts or [score]:
        _read_notes(part, rows, note_lengths, intervals)
        _read_bars(part, bars)
    keys = [row[2] for row in rows]
    return _Melody(
        pitch_classes=np.array([row[0] for row in rows], dtype=int),
        lengths=np.array([row[1] for row in rows], dtype=float),
        tonics=np.array([k.tonic if k else -1 for k in keys], dtype=int),
        in_scale=np.array([bool(k and k.in_scale[row[0]]) for k, row in zip(keys, rows)], bool),
        minor=np.array([bool(k and k.minor) for k in keys], dtype=bool),
        notes=len(note_lengths),
        note_lengths=np.array(note_lengths, dtype=float),
        intervals=np.array(intervals, dtype=int),
        has_measures=bars["measures"],
        has_repeat_signs=bars["repeats"],
        full_bars=bars["full"],
        repeated_bars=bars["repeated"],
    )


def _read_notes(part, rows, note_lengths, intervals):
    """Appends the part's sounding pitches to `rows`, its notes' lengths to
    `note_lengths` and its melodic intervals to `intervals`."""
    from music21 import chord, harmony, key, note

    elements = part.flatten().getElementsByClass((key.KeySignature, note.GeneralNote))
    signatures = [e for e in elements if isinstance(e, key.KeySignature)]
    current = _key(signatures[0]) if signatures else None
    previous = None  # (MIDI pitches, tie continues) of the last note
    tops = []
    for element in elements:
        if isinstance(element, key.KeySignature):
            current = _key(element)
            continue
        if isinstance(element, note.Rest):
            previous = None
            continue
        if isinstance(element, harmony.Harmony) or not isinstance(
            element, (note.Note, chord.Chord)
        ):
            continue  # chord symbols, unpitched notes
        length = float(element.quarterLength)
        if element.duration.isGrace or length <= 0:
            continue
        pitches = tuple(int(p.midi) for p in element.pitches)
        if not pitches:
            continue
        tie = element.tie.type if element.tie is not None else None
        for p in pitches:
            rows.append((p % 12, length, current))
        tied = previous is not None and previous[1] and previous[0] == pitches
        if tied and tie in ("stop", "continue"):
            note_lengths[-1] += length  # the rest of the previous note
        else:
            note_lengths.append(length)
            tops.append(max(pitches))
        previous = (pitches, tie in ("start", "continue"))
    intervals.extend(np.diff(np.array(tops, dtype=int)).tolist())


def _read_bars(part, bars):
    """Adds the part's bars, repeat signs, full bars and repeated full bars to `bars`."""
    from music21 import bar, harmony, note, spanner, stream

    measures = list(part.getElementsByClass(stream.Measure))
    if not measures:
        return
    bars["measures"] = True
    if part.spanners.getElementsByClass(spanner.RepeatBracket):
        bars["repeats"] = True
    bar_length = None
    contents = []
    for measure in measures:
        if isinstance(measure.leftBarline, bar.Repeat) or isinstance(
            measure.rightBarline, bar.Repeat
        ):
            bars["repeats"] = True
        if measure.timeSignature is not None:
            bar_length = float(measure.timeSignature.barDuration.quarterLength)
        if bar_length is not None and (
            abs(float(measure.duration.quarterLength) - bar_length) > _EPSILON
        ):
            continue
        content = []
        has_note = False
        for element in measure.recurse().notesAndRests:
            if isinstance(element, harmony.Harmony) or element.duration.isGrace:
                continue
            if isinstance(element, note.Rest):
                pitches = None
            else:
                pitches = tuple(sorted(int(p.midi) for p in element.pitches))
                has_note = has_note or bool(pitches)
            content.append(
                (round(float(element.offset), 6), pitches, round(float(element.quarterLength), 6))
            )
        if has_note:
            contents.append(tuple(content))
    counts = {}
    for content in contents:
        counts[content] = counts.get(content, 0) + 1
    bars["full"] += len(contents)
    bars["repeated"] += sum(counts[content] > 1 for content in contents)


def _key(signature):
    """The tonic, scale and mode class of a music21 `Key` or `KeySignature`."""
    from music21 import key

    sharps = signature.sharps
    if sharps is None:
        return None
    if isinstance(signature, key.Key):
        tonic = signature.tonic.pitchClass
        minor = (signature.mode or "major").lower() in MINOR_MODES
    else:
        tonic = signature.asKey("major").tonic.pitchClass
        minor = False
    return _key_of(int(sharps), int(tonic), bool(minor))


@functools.cache
def _key_of(sharps, tonic, minor):
    from music21 import key

    scale = {p.pitchClass for p in key.KeySignature(sharps).asKey("major").getScale().getPitches()}
    return _Key(tonic=tonic, in_scale=tuple(pc in scale for pc in range(12)), minor=minor)


@functools.cache
def _profile(name, mode):
    from music21.analysis import discrete

    return np.array(getattr(discrete, name)().getWeights(mode), dtype=float)
