"""datasets.abc_transpose: hand-made tunes with known answers, the key spelling
against music21's, refusals, and real tunes of music21's corpus checked by music21."""

import functools
import time
from collections import defaultdict

import pytest

from datasets.abc_transpose import (
    NEAR_SHIFTS,
    NotTransposable,
    check_transposition,
    transpose_abc,
    transpositions,
)
from datasets.music_data import corpus_dir, corpus_files, read_abc_file

HEAD = "X:1\nT:Test\nM:4/4\nL:1/8\n"


def body_of(tune: str) -> str:
    return tune.removeprefix(HEAD)


@pytest.mark.parametrize(
    "body, interval, expected",
    [
        # D major up a major second is E major: every letter one step up.
        ("K:D\nFAd|\n", "M2", "K:E\nGBe|\n"),
        # =F in D major is a minor third above the tonic, a semitone below the
        # key's F#. Up a fourth (G major) F moves three letters to B; the key's B
        # is natural, so a semitone below it is Bb: _B. (F4 + 5 semitones = Bb4.)
        # The F without an accidental stays without one: G major's B.
        ("K:D\n=F A F|\n", "P4", "K:G\n_B d B|\n"),
        # ^c in G major (a semitone above the key's C) down a major second (F
        # major): B, whose key alteration is flat, plus a semitone: =B.
        ("K:G\n^c B c|\n", "-M2", "K:F\n=B A B|\n"),
        # Octave carry, both ways.
        ("K:C\nb C,|\n", "M2", "K:D\nc' D,|\n"),
        ("K:C\nC, c'|\n", "-M2", "K:Bb\nB,, b|\n"),
        ("K:C\nB,, c''|\n", "P8", "K:C\nB, c'''|\n"),
        # Modes keep their name and spelling; the tonic moves.
        ("K:Ador\nABc|\n", "M2", "K:Bdor\nBcd|\n"),
        ("K:Em\nEFG|\n", "-m3", "K:C#m\nCDE|\n"),
        ("K:G m=c clef=bass\nEFG|\n", "M2", "K:A m=c clef=bass\nFGA|\n"),
        ("K:Dmix\nD=F^F|\n", "P4", "K:Gmix\nG_B=B|\n"),
        ("K:F#m\nFAc|\n", "m3", "K:Am\nAce|\n"),
        ("K:Bb\nB_e=e|\n", "P-5", "K:Eb\nE_A=A|\n"),
        ("K:E phr -8va % a comment: F G\nEFG|\n", "P-5", "K:A phr -8va % a comment: F G\nA,B,C|\n"),
        # The fewest accidentals: B major up M2 is Db major (5 flats), not C#
        # (7 sharps); the letters then move two steps (a diminished third).
        ("K:B\nB ^A =A|\n", "M2", "K:Db\nd =c _c|\n"),
        ("K:A\nA c e|\n", "M3", "K:Db\nd f a|\n"),
        # Chord symbols move; annotations, decorations, rests, fields do not.
        (
            'K:G\n"Am"A "G/B"B "^ann"c "_D.C."d "Fine"e "D7"f|\n',
            "M2",
            'K:A\n"Bm"B "A/C#"c "^ann"d "_D.C."e "Fine"f "E7"g|\n',
        ),
        ('K:C\n"F#m7b5"F "Bb"B "(Em)"E "Am/c"A|\n', "P4", 'K:F\n"Bm7b5"B "Eb"e "(Am)"A "Dm/f"d|\n'),
        (
            "K:G\nT:Part B\nw:a b c d e f g\nP:A\n!trill!G !D.C.! z2 x/ TG HG uvA|\n",
            "M2",
            "K:A\nT:Part B\nw:a b c d e f g\nP:A\n!trill!A !D.C.! z2 x/ TA HA uvB|\n",
        ),
        # Grace notes, chords, tuplets, ABC 1.6 chords, +decorations+.
        (
            "K:G\n{ag}G [GBd]2 (3GAB +E3A3+ +trill+|\n",
            "m3",
            "K:Bb\n{c'b}B [Bdf]2 (3Bcd +G3c3+ +trill+|\n",
        ),
        # Inline fields: only [K:] moves; a K: line in the body too.
        (
            "K:G\nG [K:D] F [M:3/4] [L:1/16] G|\nK:Em\nE|\n",
            "M2",
            "K:A\nA [K:E] G [M:3/4] [L:1/16] A|\nK:F#m\nF|\n",
        ),
        (
            "K:C\nC % a comment with C D E\n%%MIDI program 1\nE|\n",
            "M2",
            "K:D\nD % a comment with C D E\n%%MIDI program 1\nF|\n",
        ),
    ],
)
def test_known_answers(body, interval, expected):
    transposed = transpose_abc(HEAD + body, interval)
    assert body_of(transposed) == expected
    assert check_transposition(HEAD + body, transposed, interval) is None


def test_plus_decorations_stay_though_music21_reads_notes_in_them():
    # ABC 2.0's +ff+ is fortissimo, so it stays; music21 reads two notes f f in
    # it, which then do not move, and the check says so.
    tune = HEAD + "K:G\nG +ff+ A|\n"
    transposed = transpose_abc(tune, "m3")
    assert body_of(transposed) == "K:Bb\nB +ff+ c|\n"
    assert "element 2 of 4" in check_transposition(tune, transposed, "m3")


def test_quoted_dynamics_are_not_chords_to_the_check():
    # music21 reads "f" (forte) as an F chord, and with an octave clef it even
    # respells it "F"; it drops a note after a string starting with ">". Neither
    # is a chord symbol, neither moves, and the check reads the notes alone.
    tune = HEAD + 'K:E phr -8va\n"f"^G2 ">"A "p"B "Am"c|\n'
    transposed = transpose_abc(tune, "P4")
    assert body_of(transposed) == 'K:A phr -8va\n"f"^c2 ">"d "p"e "Dm"f|\n'
    assert check_transposition(tune, transposed, "P4") is None
    assert check_transposition(tune, transposed.replace('"Dm"', '"D"'), "P4") is not None


def test_header_and_unknown_letters_are_left_alone():
    tune = "X:3\nT:A Ballad of C and D\nC:Anon\nM:6/8\nL:1/8\nQ:3/8=120\nR:jig\nK:G\nGAB|\n"
    transposed = transpose_abc(tune, "P4")
    assert transposed == tune.replace("K:G\nGAB", "K:C\ncde")


def key_of(tune: str) -> str:
    return next(line for line in tune.splitlines() if line.startswith("K:"))[2:]


MUSIC21_MODES = {"": "major", "m": "minor", "dor": "dorian", "mix": "mixolydian", "lyd": "lydian"}


@pytest.mark.parametrize("interval", ["M2", "-m3", "P4", "P-5", "A4", "m6", "-M7"])
def test_new_keys_agree_with_music21(interval):
    """The new tonic is music21's `Key.transpose` or an enharmonic spelling of it
    with fewer sharps or flats; music21 counts the same signature for it."""
    from music21 import key

    for tonic in ["C", "G", "D", "A", "E", "B", "F#", "C#", "F", "Bb", "Eb", "Ab", "Db", "Gb"]:
        for mode, name in MUSIC21_MODES.items():
            ours = key_of(transpose_abc(f"X:1\nK:{tonic}{mode}\nC|\n", interval))
            theirs = key.Key(tonic.replace("b", "-"), name).transpose(interval)
            new = key.Key(ours.removesuffix(mode).replace("b", "-"), name)
            assert new.tonic.pitchClass == theirs.tonic.pitchClass
            assert abs(new.sharps) <= min(abs(theirs.sharps), 7), (tonic + mode, ours)
            if abs(new.sharps) == abs(theirs.sharps):
                assert new.tonic.name == theirs.tonic.name


@pytest.mark.parametrize(
    "body, reason",
    [
        ("K:D exp ^f\nA|\n", "explicit accidentals"),
        ("K:D ^f\nA|\n", "explicit accidentals"),
        ("K:Dmix=c\nA|\n", "explicit accidentals"),
        ("K:none\nA|\n", "no tonic"),
        ("K:HP\nA|\n", "no tonic"),
        ("K:Hp\nA|\n", "no tonic"),
        ("K:\nA|\n", "no tonic"),
        ("K:Bn\nA|\n", "unknown mode"),
        ("K:Es\nA|\n", "unknown mode"),
        ("", "no K: field"),
        ("V:1\nK:G\nA|\n", "several voices"),
        ("K:G\nV:2\nA|\n", "several voices"),
        ("K:G\n[V:2] A|\n", "several voices"),
        ("m:~n2 = n{o}n\nK:G\nA|\n", "macros"),
        ("N notes before the key: F G\nK:G\nA|\n", "not a field"),
        # C# major and Cb major up M2: D# and Db (9 sharps), or Eb and Ebb.
        ("K:C#\nC|\nK:Cb\nC|\n", "more than 7"),
        ("K:C\n^^E|\n", "triple"),  # E## (F#) up M2 is G#, on the letter F: F###
    ],
)
def test_refusals(body, reason):
    with pytest.raises(NotTransposable, match=reason):
        transpose_abc(HEAD + body, "M2")


def test_a_bad_interval_name_is_a_value_error():
    with pytest.raises(ValueError, match="interval"):
        transpose_abc(HEAD + "K:G\nA|\n", "up a bit")


def test_the_check_catches_wrong_transpositions():
    tune = HEAD + 'K:G\n"G"GAB c2d2|\n'
    right = transpose_abc(tune, "M2")
    assert check_transposition(tune, right, "M2") is None
    assert "element 1 of 6" in check_transposition(tune, right, "m3")
    assert "element 4 of 6" in check_transposition(tune, right.replace("Bc", "Bd"), "M2")
    assert "element 1 of 6" in check_transposition(tune, right.replace('"A"', '"Am"'), "M2")
    shorter = check_transposition(tune, right.replace("d2e2", "d2e"), "M2")
    assert "element 6 of 6" in shorter and "1.0" in shorter
    assert "6 elements in the original, 5" in check_transposition(
        tune, right.replace("d2e2", "d2"), "M2"
    )
    assert check_transposition(tune, "X:1\nK:G\n", "M2").startswith("transposed:")


def test_transpositions_keeps_what_passes():
    tune = HEAD + "K:Ador\nABcd efga|\n"
    versions = transpositions(tune, NEAR_SHIFTS)
    assert len(versions) == len(NEAR_SHIFTS)
    assert [key_of(v) for v in versions[:5]] == ["Bbdor", "Bdor", "Cdor", "C#dor", "Ddor"]
    assert transpositions(HEAD + "K:none\nA|\n", NEAR_SHIFTS) == []


# ---------------------------------------------------------------------------
# Real tunes

PER_COLLECTION = 10
REAL_INTERVALS = ("-M2", "m3", "P4")


@functools.cache
def corpus_sample() -> tuple[tuple[str, str], ...]:
    """Up to 10 tunes of each collection of music21's corpus, evenly spaced."""
    root = corpus_dir()
    by_collection = defaultdict(list)
    for path in corpus_files():
        name = path.relative_to(root).as_posix()
        for number, abc in enumerate(read_abc_file(path, encoding="latin-1"), start=1):
            by_collection[name.split("/")[0]].append((f"{name}#{number}", abc))
    sample = []
    for tunes in by_collection.values():
        sample.extend(tunes[:: max(1, len(tunes) // PER_COLLECTION)][:PER_COLLECTION])
    return tuple(sample)


def test_real_tunes_pass_the_music21_check():
    sample = corpus_sample()
    assert len({tune_id.split("/")[0] for tune_id, _ in sample}) == 7
    refused, failed, passed = defaultdict(list), [], defaultdict(int)
    transpose_seconds = check_seconds = 0.0
    for tune_id, abc in sample:
        for interval in REAL_INTERVALS:
            start = time.perf_counter()
            try:
                transposed = transpose_abc(abc, interval)
            except NotTransposable as error:
                refused[interval].append(f"{tune_id}: {error}")
                continue
            transpose_seconds += time.perf_counter() - start
            start = time.perf_counter()
            reason = check_transposition(abc, transposed, interval)
            check_seconds += time.perf_counter() - start
            if reason is None:
                passed[interval] += 1
            else:
                failed.append(f"{tune_id} {interval}: {reason}")
    checked = sum(passed.values())
    print(
        f"{len(sample)} tunes; passed {dict(passed)}; refused "
        f"{ {k: len(v) for k, v in refused.items()} }; transpose "
        f"{1000 * transpose_seconds / max(checked, 1):.2f} ms, check "
        f"{1000 * check_seconds / max(checked, 1):.0f} ms per tune"
    )
    assert not failed, "\n".join(failed)
    for interval in REAL_INTERVALS:
        # The same tunes are refused whatever the interval, and they are few.
        assert len(refused[interval]) <= len(sample) // 10, refused[interval]
        assert passed[interval] + len(refused[interval]) == len(sample)
