"""The music app's musicality measures: hand-written tunes whose answers are known,
and real tunes of music21's corpus against the same tunes with their pitches
permuted or drawn at random."""

import random

import numpy as np
import pytest
from music21 import converter, note, stream

from apps.music import musicality
from apps.music.musicality import (
    MEASURES,
    compare_sets,
    js_divergence,
    measure_tune,
    summarize_measures,
    tune_histograms,
)

HEADER = "X:1\nT:test\nM:4/4\nL:1/8\n"


def _parse(body, key="D"):
    head = HEADER + (f"K:{key}\n" if key else "")
    return converter.parseData(head + body + "\n", format="abc")


# -- hand-written tunes -----------------------------------------------------------


def test_d_major_scale_is_all_in_key_and_stepwise():
    measures = measure_tune(_parse("DEFG ABcd|dcBA GFED|"))
    assert measures["notes"] == 16
    assert measures["in_key_share"] == 1.0
    assert measures["step_share"] == 1.0
    assert 0.0 <= measures["key_profile_distance"] < 0.5


def test_chromatic_note_counts_by_its_length():
    # 8 quarter notes, of which the F natural lasts 1.5 (by count it would be 1 note of 5).
    measures = measure_tune(_parse("D E =F3 G3|A8|"))
    assert measures["in_key_share"] == pytest.approx(1 - 1.5 / 8)


def test_mode_and_bare_key_signature_use_the_signature_scale():
    # A dorian has G major's signature: F sharp is in the key, F natural is not.
    assert measure_tune(_parse("ABcd efga|agfe dcBA|", key="Ador"))["in_key_share"] == 1.0
    dorian = measure_tune(_parse("ABcd e=fga|agfe dcBA|", key="Ador"))
    assert dorian["in_key_share"] == pytest.approx(15 / 16)
    # K:HP is a bare KeySignature (no mode) of no sharps: C major's scale.
    assert measure_tune(_parse("CDEF GABc|cBAG FEDC|", key="HP"))["in_key_share"] == 1.0


def test_ties_grace_notes_chords_and_chord_symbols():
    # B2-B2 is one note; {g} a grace note; "A" a chord symbol; [ce] a chord (top e).
    histograms = tune_histograms(_parse('A2 B2- B2 {g}"A"[ce]2|d8|'))
    assert histograms["duration"].sum() == 4  # A, B (tied), [ce], d
    assert histograms["duration"][musicality.DURATION_LABELS.index("2")] == 1  # the tied B
    intervals = dict(zip(musicality.INTERVAL_LABELS, histograms["interval"]))
    assert intervals[2] == 1 and intervals[5] == 1 and intervals[-2] == 1  # A-B, B-e, e-d
    assert histograms["interval"].sum() == 3
    # The chord's C sharp and E both sound for a quarter note.
    assert histograms["scale_degree"].sum() == pytest.approx(1 + 2 + 2 * 1 + 4)


def test_four_identical_bars_repeat_fully():
    measures = measure_tune(_parse("DEFG ABcd|DEFG ABcd|DEFG ABcd|DEFG ABcd|"))
    assert measures["repeated_bar_share"] == 1.0
    assert measures["has_repeat_signs"] is False


def test_no_repeated_bar_scores_zero():
    measures = measure_tune(_parse("DEFG ABcd|dcBA GFED|EFGA Bcde|edcB AGFE|"))
    assert measures["repeated_bar_share"] == 0.0
    assert measures["has_repeat_signs"] is False


def test_pick_up_and_closing_bars_are_left_out():
    # Pick-up A2 and the short last bar are not full bars: 3 identical full bars.
    assert (
        measure_tune(_parse("A2|DEFG ABcd|DEFG ABcd|DEFG ABcd|DEFG AB|"))["repeated_bar_share"]
        == 1.0
    )
    # Full bars 1 and 3 are equal, bar 2 is not.
    measures = measure_tune(_parse("A2|DEFG ABcd|dcBA GFED|DEFG ABcd|dcBA G2:|"))
    assert measures["repeated_bar_share"] == pytest.approx(2 / 3)


def test_repeat_signs_and_endings_are_detected():
    repeated = measure_tune(_parse("|:DEFG ABcd|dcBA GFED|DEFG ABcd|dcBA GFED:|"))
    assert repeated["has_repeat_signs"] is True
    assert repeated["repeated_bar_share"] == 1.0  # bars 1 = 3 and 2 = 4
    middle = measure_tune(_parse("DEFG ABcd|dcBA GFED|EFGA Bcde::edcB AGFE|dcBA GFED:|"))
    assert middle["has_repeat_signs"] is True
    endings = measure_tune(_parse("DEFG ABcd|dcBA GFED|[1 EFGA Bcde:|[2 edcB AGFE|]"))
    assert endings["has_repeat_signs"] is True


def test_voices_are_melodies_of_their_own_and_tune_checks_are_accepted():
    from apps.music.scores import check_tune

    abc = (
        "X:1\nT:two voices\nM:6/8\nL:1/8\nK:G\n"
        "V:1\nB3 A3 | G6 | B3 A3 | G6 ||\nV:2\nBdB AcA | GAG D3 | BdB AcA | GAG D3 ||\n"
    )
    check = check_tune(abc)
    measures = measure_tune(check)
    assert measures == measure_tune(converter.parseData(abc, format="abc"))
    assert measures["notes"] == 6 + 20
    # Within each voice, bar 1 = bar 3 and bar 2 = bar 4.
    assert measures["repeated_bar_share"] == 1.0
    # No interval joins the last note of voice 1 to the first of voice 2.
    assert sum(tune_histograms(check)["interval"]) == 5 + 19
    assert measure_tune(check_tune("not abc at all")) == dict.fromkeys(MEASURES)


def test_js_divergence_in_bits():
    assert js_divergence([1, 2, 3], [2, 4, 6]) == pytest.approx(0.0, abs=1e-12)
    assert js_divergence([3, 0, 0], [0, 1, 4]) == pytest.approx(1.0)
    # H(mixture) - mean of H: the mixture is (3/4, 1/4), the entropies 1 and 0.
    mixture = -(0.75 * np.log2(0.75) + 0.25 * np.log2(0.25))
    assert js_divergence([1, 1], [1, 0]) == pytest.approx(mixture - 0.5)
    assert js_divergence([0, 0], [1, 0]) is None
    with pytest.raises(ValueError):
        js_divergence([1, 2], [1, 2, 3])


def test_compare_sets_of_a_set_with_itself_is_zero():
    tunes = [_parse("DEFG ABcd|dcBA GFED|"), _parse("A2 B2- B2 [ce]2|d8|"), None]
    result = compare_sets(tunes, tunes)
    for name in ("scale_degree_js", "interval_js", "duration_js"):
        assert result[name] == pytest.approx(0.0, abs=1e-12)
    assert result["generated_tunes"] == result["real_tunes"] == 2
    empty = compare_sets([], tunes)
    assert empty["interval_js"] is None and empty["generated_tunes"] == 0


def test_scores_without_key_or_notes_give_none():
    no_key = measure_tune(_parse("DEFG ABcd|dcBA GFED|", key=None))
    assert no_key["in_key_share"] is None and no_key["key_profile_distance"] is None
    assert no_key["step_share"] == 1.0
    rests = measure_tune(_parse("z8|z8|z8|"))
    assert rests["notes"] == 0
    assert all(rests[name] is None for name in MEASURES if name != "notes")
    for nothing in (None, stream.Score(), "not a score"):
        assert set(measure_tune(nothing).values()) <= {None, 0}
    # Without bar lines music21 makes no bars: no repeat measures.
    unbarred = measure_tune(_parse("DEFG ABcd dcBA GFED"))
    assert unbarred["has_repeat_signs"] is None and unbarred["repeated_bar_share"] is None


def test_summarize_measures_averages_where_defined():
    rows = [
        {"in_key_share": 1.0, "has_repeat_signs": True, "notes": 10},
        {"in_key_share": None, "has_repeat_signs": False, "notes": 0},
        {"in_key_share": 0.5, "has_repeat_signs": None, "notes": 20},
    ]
    summary = summarize_measures(rows)
    assert summary["tunes"] == 3
    assert summary["in_key_share"] == 0.75 and summary["in_key_share_n"] == 2
    assert summary["has_repeat_signs"] == 0.5 and summary["has_repeat_signs_n"] == 2
    assert summary["notes"] == 10 and summary["notes_n"] == 3
    assert summary["step_share"] is None and summary["step_share_n"] == 0


# -- real tunes against shuffled ones -----------------------------------------------


def _sounding_notes(score):
    return [n for n in score.recurse().notes if isinstance(n, note.Note) and not n.duration.isGrace]


def _permuted(abc, rng):
    """The tune with its pitches permuted among its notes: the same pitch
    content in a random order."""
    score = converter.parseData(abc, format="abc")
    notes = _sounding_notes(score)
    midis = [n.pitch.midi for n in notes]
    rng.shuffle(midis)
    for n, midi in zip(notes, midis):
        n.pitch.midi = midi
    return score


def _random_pitches(abc, rng):
    """The tune with each pitch drawn uniformly from the semitones of its range."""
    score = converter.parseData(abc, format="abc")
    notes = _sounding_notes(score)
    if notes:
        low = min(n.pitch.midi for n in notes)
        high = max(n.pitch.midi for n in notes)
        for n in notes:
            n.pitch.midi = rng.randint(low, high)
    return score


@pytest.fixture(scope="module")
def corpus_sets(tmp_path_factory):
    from datasets.music_data import load_corpus

    tunes = load_corpus(root=tmp_path_factory.mktemp("data")).test[::15]
    rng = random.Random(0)
    return {
        "real": [converter.parseData(t.abc, format="abc") for t in tunes],
        "permuted": [_permuted(t.abc, rng) for t in tunes],
        "random": [_random_pitches(t.abc, rng) for t in tunes],
    }


def test_real_tunes_score_higher_than_shuffled_ones(corpus_sets):
    measures = {name: [measure_tune(s) for s in scores] for name, scores in corpus_sets.items()}
    rows = {name: summarize_measures(m) for name, m in measures.items()}
    for name, row in rows.items():
        print(name, {k: round(v, 3) for k, v in row.items() if isinstance(v, float)})
    real, permuted, shuffled = rows["real"], rows["permuted"], rows["random"]
    assert real["tunes"] >= 40 and real["in_key_share_n"] >= 40

    # In key: real tunes nearly always; random pitches near 7/12. Permuting
    # keeps the pitches, hence the share.
    assert real["in_key_share"] > 0.95
    share = [m["in_key_share"] for m in measures["real"] if m["in_key_share"] is not None]
    assert np.mean(np.array(share) >= 0.95) > 0.8
    assert shuffled["in_key_share"] < 0.75
    assert abs(permuted["in_key_share"] - real["in_key_share"]) < 0.03
    assert real["key_profile_distance"] < 0.3 < 0.6 < shuffled["key_profile_distance"]

    # Melody: mostly steps in real tunes, leaps once the order is lost.
    assert real["step_share"] > 0.6
    assert permuted["step_share"] < real["step_share"] - 0.15
    assert shuffled["step_share"] < real["step_share"] - 0.25

    # Repetition: real tunes repeat bars, shuffled ones almost never.
    assert real["repeated_bar_share"] > 0.3 and real["repeated_bar_share_n"] >= 40
    assert permuted["repeated_bar_share"] < 0.05
    assert shuffled["repeated_bar_share"] < 0.05
    # The signs belong to the text, which shuffling keeps.
    assert 0 < real["has_repeat_signs"] == permuted["has_repeat_signs"]


def test_shuffled_sets_are_far_from_real_ones(corpus_sets):
    real = corpus_sets["real"]
    half = len(real) // 2
    halves = compare_sets(real[:half], real[half:])
    permuted = compare_sets(corpus_sets["permuted"], real)
    shuffled = compare_sets(corpus_sets["random"], real)
    for name, result in (("halves", halves), ("permuted", permuted), ("random", shuffled)):
        print(name, {k: round(v, 4) for k, v in result.items() if isinstance(v, float)})
    assert halves["scale_degree_js"] < 0.05 and halves["interval_js"] < 0.05
    # Permuting keeps scale degrees and lengths, loses intervals.
    assert permuted["scale_degree_js"] < 0.01 and permuted["duration_js"] < 0.01
    assert permuted["interval_js"] > 2 * halves["interval_js"]
    assert shuffled["scale_degree_js"] > 3 * halves["scale_degree_js"]
    assert shuffled["interval_js"] > 3 * halves["interval_js"]
