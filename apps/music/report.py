"""`reports/music/`: the markdown report, the training curves and a page of
generated tunes; `summary`, the tables `evaluate` prints; `write_tunes`, the
files of the tunes `generate` samples."""

import json
import pathlib

from apps.common.report import git_commit, markdown_table, plot_training_curves, write_report
from apps.music import scores

SHOWN_TUNES = 12  # piano rolls on the page of generated tunes, shared among the prefixes
PRINTED_TUNES = 2  # tunes printed in full in the report, per prefix
LISTED_FAILURES = 5  # reasons music21 gave, per prefix

MUSIC_HEADER = [
    "tunes",
    "n",
    "parsed by music21",
    "time signature and key",
    "parsed without warnings",
    "full-length inner bars",
    "mean length (characters)",
]


def bpc_rows(results):
    """Rows `(system, validation bpc, test bpc)`: the model first."""
    table = results["bits_per_character"]
    return [
        (name, values["validation"], values["test"])
        for name, values in table.items()
        if name != "characters"
    ]


def _share(value):
    return "n/a" if value != value else f"{100 * value:.0f}%"  # NaN: nothing to count


def _music_row(name, s):
    return (
        name,
        s["tunes"],
        _share(s["parsed"]),
        _share(s["time_signature_and_key"]),
        _share(s["without_warnings"]),
        _share(s["full_bars"]),
        f"{s['mean_characters']:.0f}",
    )


def _spell(prefix):
    return "`" + prefix.replace("\n", "\\n") + "`"


def music_rows(results):
    """Rows of the music21 checks: the tunes generated from each prefix, then real tunes."""
    rows = [_music_row(f"generated from {_spell(g['prefix'])}", g) for g in results["generated"]]
    return rows + [_music_row("real tunes (test split)", results["test_tunes"])]


def summary(results):
    """What `evaluate` prints: bits per character, then the music21 checks."""
    bpc = markdown_table(["system", "validation bpc", "test bpc"], bpc_rows(results))
    return f"{bpc}\n\n{markdown_table(MUSIC_HEADER, music_rows(results))}"


def write(report_dir, run, config, data, results, samples):
    """Writes report.md, metrics.json, the curves, the piano-roll page and the
    generated tunes; returns the report's path.

    Args:
        samples: `[(prefix, generated tunes, their TuneChecks)]`, one per prefix.
    """
    report_dir.mkdir(parents=True, exist_ok=True)
    curves = plot_training_curves(
        run.path,
        report_dir,
        metrics=("bits_per_character",),
        title="music: bits per character, per epoch",
    )
    per_prefix = max(1, SHOWN_TUNES // len(samples))
    page = [
        (check, f"{prefix!r} tune {i + 1}: {check.label()}"[:95])
        for prefix, _, checks in samples
        for i, check in enumerate(checks[:per_prefix])
    ]
    scores.piano_roll_page(
        [c for c, _ in page], [t for _, t in page], report_dir / "generated_tunes.png"
    )
    for k, (_, generated, _) in enumerate(samples, start=1):
        (report_dir / f"generated-{k}.abc").write_text(
            "\n".join(tune.abc for tune in generated), encoding="utf-8"
        )
    (report_dir / "metrics.json").write_text(json.dumps(results, indent=2) + "\n")

    sample = config.sample
    counts = data.counts()
    characters = results["bits_per_character"]["characters"]
    m = config.model
    lines = [
        "# Character-level ABC tunes: model vs n-gram",
        "",
        f"Commit `{git_commit()}`, run `{run.path}`. Data: {data.source}; "
        f"test split of {counts['test']['tunes']} tunes ({characters['test']:,} characters "
        "scored, each tune's end mark included), the same for every row below.",
        "",
        "## Bits per character",
        "",
        markdown_table(["system", "validation bpc", "test bpc"], bpc_rows(results)),
        "",
        f"The model is a {m.layers} x {m.units} seqlib {m.cell.upper()} over "
        f"{m.embedding_dim}-dimensional character embeddings, trained by truncated BPTT over "
        f"{config.train.batch_size} parallel streams in windows of {config.data.window} "
        "characters. The baseline is an interpolated character n-gram (Witten-Bell, "
        "fitted on the training split). Both read every tune from its start, after the "
        "previous tune's end mark.",
        "",
        "## Generated tunes",
        "",
        f"{results['generated'][0]['tunes']} tunes from each prefix, at temperature "
        f"{sample.temperature} (top-k {sample.top_k}, top-p {sample.top_p}, seed "
        f"{sample.seed}), at most {sample.max_length} characters after the prefix. From "
        f"{_spell(sample.prefix)} the model writes the whole header; a prefix with `M:` and "
        "`K:` fixes the meter and key. The same checks on real tunes of the test split show "
        "what they measure.",
        "",
        markdown_table(MUSIC_HEADER, music_rows(results)),
        "",
        "Parsed: music21 reads the text without raising and finds at least one note. "
        "Full-length inner bars: bars other than the first and last whose length equals "
        "the time signature's, averaged over the parsed tunes. "
        + ", ".join(
            f"{100 * g['finished']:.0f}% of the tunes from {_spell(g['prefix'])}"
            for g in results["generated"]
        )
        + " ended by themselves (the others reached the length limit and are kept as they are).",
        "",
        "Why music21 refused the others (count, reason):",
        "",
    ]
    for g in results["generated"]:
        failures = list(g["failures"].items())
        shown = "; ".join(f"{n} x {reason}" for reason, n in failures[:LISTED_FAILURES])
        lines.append(f"- from {_spell(g['prefix'])}: {shown or 'none'}")
    lines += [
        "",
        '"No active default note length": music21 met a note before any `L:` or `M:` '
        "field, in a header that lacks both (ABC 2.1 would assume `L:1/8`) or that has a "
        "line which lost its field letter and reads as notes.",
        "",
        "![generated tunes](generated_tunes.png)",
        "",
        "All generated tunes are in "
        + ", ".join(
            f"`generated-{k}.abc` ({_spell(prefix)})"
            for k, (prefix, _, _) in enumerate(samples, start=1)
        )
        + ". The first few:",
        "",
    ]
    for prefix, generated, checks in samples:
        for i, tune in enumerate(generated[:PRINTED_TUNES]):
            lines += [
                f"From {_spell(prefix)}, tune {i + 1} ({checks[i].label()}):",
                "",
                "```",
                tune.abc.rstrip(),
                "```",
                "",
            ]
    lines += [
        "## Training curves",
        "",
        f"![training curves]({curves})",
        "",
        "## Splits",
        "",
        "```",
        data.describe(),
        "```",
        "",
        f"Evaluation took {results['seconds']:.0f} s.",
        "",
    ]
    return write_report(report_dir, lines, config)


def write_tunes(tunes, out_dir, first_index=1):
    """Writes `tune-NN.abc`, `.mid` and `.png` per tune and `tunes.md`; returns
    `[(name, TuneCheck, note)]`. Tunes music21 cannot read are kept and labelled."""
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    width = max(2, len(str(first_index + len(tunes) - 1)))
    for i, tune in enumerate(tunes, start=first_index):
        name = f"tune-{i:0{width}d}"
        (out_dir / f"{name}.abc").write_text(tune.abc, encoding="utf-8")
        check = scores.check_tune(tune.abc)
        _, midi_note = scores.write_midi(check, out_dir / f"{name}.mid")
        label = check.label() + ("" if tune.finished else "; unfinished (length limit)")
        scores.piano_roll_png(check, out_dir / f"{name}.png", f"{name}: {label}")
        note = label + (f"; {midi_note}" if midi_note and check.parsed else "")
        rows.append((name, check, note))
    lines = [
        "# Generated tunes",
        "",
        "| tune | music21 | files |",
        "|---|---|---|",
    ]
    for name, _, note in rows:
        files = [f"{name}.abc", f"{name}.png"]
        if (out_dir / f"{name}.mid").is_file():
            files.insert(1, f"{name}.mid")
        cell = note.replace("|", "\\|")  # ABC bar lines in music21's messages
        lines.append(f"| {name} | {cell} | {', '.join(files)} |")
    parsed = sum(check.parsed for _, check, _ in rows)
    lines += ["", f"{parsed} of {len(rows)} parsed by music21.", ""]
    (out_dir / "tunes.md").write_text("\n".join(lines), encoding="utf-8")
    return rows
