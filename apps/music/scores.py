"""Tunes as music: music21's verdict on an ABC text and its piano roll (MIDI: `apps.music.midi`).

music21 reads ABC leniently: it skips much that it does not understand, with
a warning on stderr, and raises only on some errors. A tune counts as parsed
when music21 returns a score without raising and the score holds at least one
note. `check_tune` also records the warnings, the time signature and key it
found, and how many of the inner bars (all but the first and last, which may be
pick-ups) last exactly as long as the time signature says.

Scores are drawn as piano rolls with matplotlib: music21's own score images
need MuseScore, which this project does not install.

music21 can take minutes on some nonsense (re-barring a tune whose notes fit
no meter), so parsing and MIDI writing stop after `TIME_LIMIT` seconds; such a
tune counts as not parsed.
"""

import contextlib
import dataclasses
import io
import signal
import threading
import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

# Seconds music21 may spend on one tune; real tunes take about 0.05 s.
TIME_LIMIT = 5.0


class TimeUp(Exception):
    pass


@contextlib.contextmanager
def time_limit(seconds):
    """Raises `TimeUp` in the block after `seconds`; a no-op off the main thread,
    where signals cannot be used."""
    if (
        not hasattr(signal, "setitimer")
        or threading.current_thread() is not threading.main_thread()
    ):
        yield
        return

    def time_up(signum, frame):
        raise TimeUp()

    previous = signal.signal(signal.SIGALRM, time_up)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@dataclasses.dataclass
class TuneCheck:
    """What music21 made of one ABC tune.

    Args:
        parsed: music21 returned a score with at least one note.
        error: The exception's message when it raised, or why nothing parsed.
        warnings: Number of warnings music21 printed while parsing.
        notes: Notes and chords in the score.
        time_signature: The first time signature (`"6/8"`), if any.
        key: The first key signature (`"D major"`), if any.
        full_bars: Share of the inner bars whose length matches the time
            signature; `None` with fewer than 3 bars or no time signature.
        score: The music21 score (not serialised).
    """

    parsed: bool
    error: str | None = None
    warnings: int = 0
    notes: int = 0
    time_signature: str | None = None
    key: str | None = None
    full_bars: float | None = None
    score: object = dataclasses.field(default=None, repr=False)

    @property
    def has_time_signature_and_key(self):
        return self.parsed and self.time_signature is not None and self.key is not None

    def label(self):
        """One line for people: `parsed 6/8 D major` or `INVALID: <why>`."""
        if not self.parsed:
            return f"INVALID: {self.error}"
        found = " ".join(x for x in (self.time_signature, self.key) if x)
        extra = f", {self.warnings} music21 warnings" if self.warnings else ""
        return f"parsed {found} ({self.notes} notes{extra})".replace("parsed  (", "parsed (")

    def to_dict(self):
        fields = dataclasses.asdict(self)
        fields.pop("score")
        return fields


def check_tune(abc):
    """Parses one ABC tune with music21; returns a `TuneCheck` (never raises)."""
    from music21 import converter, key, meter, stream

    messages = io.StringIO()
    try:
        with (
            time_limit(TIME_LIMIT),
            contextlib.redirect_stderr(messages),
            warnings.catch_warnings(record=True) as caught,
        ):
            warnings.simplefilter("always")
            score = converter.parseData(abc, format="abc")
    except TimeUp:
        return TuneCheck(parsed=False, error=f"music21 did not finish in {TIME_LIMIT:g} s")
    except Exception as error:  # music21 raises many types on bad input
        return TuneCheck(parsed=False, error=short_error(error))
    printed = sum("WARNING" in line for line in messages.getvalue().splitlines())
    if isinstance(score, stream.Opus):
        scores = list(score.scores)
        score = scores[0] if scores else None
    notes = len(score.flatten().notes) if score is not None else 0
    check = TuneCheck(parsed=notes > 0, warnings=printed + len(caught), notes=notes, score=score)
    if not check.parsed:
        check.error = "no notes"
        return check
    signatures = score.recurse().getElementsByClass(meter.TimeSignature)
    if signatures:
        check.time_signature = signatures[0].ratioString
    keys = score.recurse().getElementsByClass(key.KeySignature)
    if keys:
        found = keys[0]
        check.key = found.name if isinstance(found, key.Key) else str(found.asKey().name)
    check.full_bars = _full_bars(score) if signatures else None
    return check


def short_error(error, limit=90):
    """The exception's type and first sentence, at most `limit` characters of it."""
    lines = str(error).strip().splitlines()
    first = lines[0].split(". ")[0] if lines else ""
    if len(first) > limit:
        first = first[: limit - 3] + "..."
    return f"{type(error).__name__}: {first}" if first else type(error).__name__


def _full_bars(score):
    from music21 import stream

    part = score.parts[0] if score.parts else score
    bars = list(part.getElementsByClass(stream.Measure))
    inner = bars[1:-1]
    if not inner:
        return None
    full = sum(abs(b.duration.quarterLength - b.barDuration.quarterLength) < 1e-6 for b in inner)
    return full / len(inner)


def note_spans(score):
    """`(start, duration, midi pitch)` of every sounding note, in quarter notes."""
    spans = []
    for element in score.flatten().notes:
        start = float(element.offset)
        duration = float(element.quarterLength)
        for pitch in element.pitches:
            spans.append((start, duration, int(pitch.midi)))
    return spans


def draw_piano_roll(ax, check, title):
    """Draws one tune's piano roll on `ax`, or says why there is none."""
    ax.set_title(title, fontsize=9, loc="left")
    if not check.parsed:
        ax.text(
            0.5,
            0.5,
            f"not parsed by music21\n{(check.error or '')[:80]}",
            ha="center",
            va="center",
            fontsize=8,
            color="firebrick",
            transform=ax.transAxes,
        )
        ax.set_xticks([])
        ax.set_yticks([])
        return
    spans = note_spans(check.score)
    for start, duration, pitch in spans:
        ax.add_patch(
            Rectangle((start, pitch - 0.4), max(duration, 0.05), 0.8, color="tab:blue", linewidth=0)
        )
    end = max((s + d for s, d, _ in spans), default=1.0)
    low = min((p for _, _, p in spans), default=60)
    high = max((p for _, _, p in spans), default=72)
    ax.set_xlim(0, max(end, 1.0))
    ax.set_ylim(low - 2, high + 2)
    ax.set_xlabel("quarter notes", fontsize=8)
    ax.set_ylabel("MIDI pitch", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.25)


def piano_roll_png(check, path, title):
    fig, ax = plt.subplots(figsize=(9, 2.8))
    draw_piano_roll(ax, check, title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def piano_roll_page(checks, titles, path, columns=2):
    """A page of piano rolls, one panel per tune."""
    rows = max(1, -(-len(checks) // columns))
    fig, axes = plt.subplots(rows, columns, figsize=(7 * columns, 2.4 * rows), squeeze=False)
    for ax in axes.flat[len(checks) :]:
        ax.axis("off")
    for ax, check, title in zip(axes.flat, checks, titles):
        draw_piano_roll(ax, check, title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def summarize(checks, texts):
    """The evaluation's numbers over a set of tunes."""
    count = len(checks)
    parsed = [c for c in checks if c.parsed]
    bars = [c.full_bars for c in parsed if c.full_bars is not None]
    return {
        "tunes": count,
        "parsed": len(parsed) / count if count else float("nan"),
        "time_signature_and_key": (
            sum(c.has_time_signature_and_key for c in checks) / count if count else float("nan")
        ),
        "without_warnings": (
            sum(c.parsed and not c.warnings for c in checks) / count if count else float("nan")
        ),
        "full_bars": sum(bars) / len(bars) if bars else float("nan"),
        "mean_characters": sum(len(t) for t in texts) / count if count else float("nan"),
    }


def failure_reasons(checks):
    """`{reason: count}` of the tunes music21 could not read, most frequent first."""
    counts = {}
    for check in checks:
        if not check.parsed:
            counts[check.error] = counts.get(check.error, 0) + 1
    return dict(sorted(counts.items(), key=lambda item: -item[1]))
