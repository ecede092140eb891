"""`reports/music/`: the markdown report, the training curves and a page of
generated tunes; `summary`, the tables `evaluate` prints; `write_tunes`, the
files of the tunes `generate` samples."""

import json
import pathlib

from apps.common.report import git_commit, markdown_table, plot_training_curves, write_report
from apps.music import scores
from apps.music.midi import write_score_midi

SHOWN_TUNES = 12  # piano rolls on the page of generated tunes, shared among the prefixes
PRINTED_TUNES = 2  # tunes printed in full in the report, per prefix
LISTED_FAILURES = 5  # reasons music21 gave, per prefix

MUSIC_HEADER = [
    "tunes",
    "seed",
    "n",
    "parsed by music21",
    "meter and key",
    "full MIDI (of those)",
    "ended by itself",
    "parsed without warnings",
    "full-length inner bars",
    "mean length (characters)",
]

MUSICALITY_HEADER = [
    "tunes",
    "n",
    "notes in the key",
    "key-profile distance",
    "steps (<= 2 semitones)",
    "with repeat signs",
    "repeated bars",
    "JS scale degrees",
    "JS intervals",
    "JS durations",
]


def bpc_rows(results):
    """Rows `(system, validation bpc, test bpc)`: the model first."""
    table = results["bits_per_character"]
    return [
        (name, values["validation"], values["test"])
        for name, values in table.items()
        if name != "characters"
    ]


def bpc_ratio(results):
    """Test bpc of the model over the n-gram's."""
    rows = bpc_rows(results)
    return rows[0][2] / rows[1][2]


def _share(value):
    return "n/a" if value is None or value != value else f"{100 * value:.0f}%"  # NaN: none


def _number(value):
    return "n/a" if value is None or value != value else f"{value:.3f}"


def _spell(prefix):
    return "`" + prefix.replace("\n", "\\n") + "`"


def _music_row(name, seed, s):
    return (
        name,
        seed,
        s["tunes"],
        _share(s["parsed"]),
        _share(s["time_signature_and_key"]),
        _share(s.get("full_midi")),
        _share(s.get("finished")),
        _share(s["without_warnings"]),
        _share(s["full_bars"]),
        f"{s['mean_characters']:.0f}",
    )


def _spread(values):
    """`mean (min-max)` of shares, in percent."""
    values = [v for v in values if v == v]
    if not values:
        return "n/a"
    low, high = min(values), max(values)
    mean = sum(values) / len(values)
    return f"{100 * mean:.0f}% ({100 * low:.0f}-{100 * high:.0f})"


def prefixes(results):
    """The prefixes sampled from, in order."""
    return list(dict.fromkeys(g["prefix"] for g in results["generated"]))


def music_rows(results):
    """Rows of the music21 checks: each prefix and seed, the mean and range over
    seeds of each prefix, then real tunes."""
    rows = []
    for prefix in prefixes(results):
        runs = [g for g in results["generated"] if g["prefix"] == prefix]
        rows += [_music_row(f"from {_spell(prefix)}", g["seed"], g) for g in runs]
        if len(runs) > 1:
            keys = ("parsed", "time_signature_and_key", "full_midi", "finished")
            rows.append(
                (
                    f"from {_spell(prefix)}",
                    "mean (range)",
                    sum(g["tunes"] for g in runs),
                    *(_spread([g[k] for g in runs]) for k in keys),
                    _spread([g["without_warnings"] for g in runs]),
                    _spread([g["full_bars"] for g in runs]),
                    f"{sum(g['mean_characters'] for g in runs) / len(runs):.0f}",
                )
            )
    return rows + [_music_row("real tunes (test split)", "", results["test_tunes"])]


def musicality_rows(results):
    """Rows of the musical measures: the tunes from each prefix (all seeds), real tunes."""
    rows = []
    for name, m in results["musicality"].items():
        label = name if name.startswith("real") else f"from {_spell(name)}"
        rows.append(
            (
                label,
                m["tunes"],
                _number(m["in_key_share"]),
                _number(m["key_profile_distance"]),
                _number(m["step_share"]),
                _share(m["has_repeat_signs"]),
                _number(m["repeated_bar_share"]),
                _number(m.get("scale_degree_js")),
                _number(m.get("interval_js")),
                _number(m.get("duration_js")),
            )
        )
    return rows


def summary(results):
    """What `evaluate` prints: bits per character, the music21 checks, the measures."""
    bpc = markdown_table(["system", "validation bpc", "test bpc"], bpc_rows(results))
    return "\n\n".join(
        [
            f"{bpc}\n\nmodel / n-gram (test): {bpc_ratio(results):.3f}",
            markdown_table(MUSIC_HEADER, music_rows(results)),
            markdown_table(MUSICALITY_HEADER, musicality_rows(results)),
        ]
    )


def write(report_dir, run, config, data, results, samples):
    """Writes report.md, metrics.json, the curves, the piano-roll page and the
    generated tunes; returns the report's path.

    Args:
        samples: the `pipeline.SampledTunes`, one per prefix and seed.
    """
    report_dir.mkdir(parents=True, exist_ok=True)
    curves = plot_training_curves(
        run.path,
        report_dir,
        metrics=("bits_per_character",),
        title="music: bits per character, per epoch",
    )
    first_seed = [s for s in samples if s.seed == samples[0].seed]
    per_prefix = max(1, SHOWN_TUNES // len(first_seed))
    page = [
        (check, f"{s.prefix!r} tune {i + 1}: {check.label()}"[:95])
        for s in first_seed
        for i, check in enumerate(s.checks[:per_prefix])
    ]
    scores.piano_roll_page(
        [c for c, _ in page], [t for _, t in page], report_dir / "generated_tunes.png"
    )
    names = prefixes(results)
    for k, prefix in enumerate(names, start=1):
        (report_dir / f"generated-{k}.abc").write_text(
            "\n".join(
                f"% seed {s.seed}, tune {i}\n{tune.abc}"
                for s in samples
                if s.prefix == prefix
                for i, tune in enumerate(s.generated, start=1)
            ),
            encoding="utf-8",
        )
    (report_dir / "metrics.json").write_text(json.dumps(results, indent=2) + "\n")

    sample = config.sample
    counts = data.counts()
    characters = results["bits_per_character"]["characters"]
    m = config.model
    d = config.data
    text = (
        "the canonical ABC text of each tune (`datasets.abc_normalize`: one header shape, "
        "`M:` and `L:` written out, "
        + ("prose kept" if d.keep_text else "prose fields and comments dropped")
        + ")"
        if d.normalize
        else "the tunes as they are written"
    )
    augmented = (
        f" Every training tune is also transposed by {', '.join(d.transpose)} "
        "(`datasets.abc_transpose`, each copy checked with music21)."
        if d.transpose
        else ""
    )
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
        f"Model / n-gram on the test split: {bpc_ratio(results):.3f}. Both read {text}.",
        "",
        f"The model is a {m.layers} x {m.units} seqlib {m.cell.upper()} over "
        f"{m.embedding_dim}-dimensional character embeddings, trained by truncated BPTT over "
        f"{config.train.batch_size} parallel streams in windows of {d.window} "
        f"characters.{augmented} The baseline is an interpolated character n-gram "
        "(Witten-Bell, fitted on the training split). Both read every tune from its start, "
        "after the previous tune's end mark.",
        "",
        "## Generated tunes",
        "",
        f"{results['generated'][0]['tunes']} tunes from each prefix with each seed, at "
        f"temperature {sample.temperature} (top-k {sample.top_k}, top-p {sample.top_p}), at "
        f"most {sample.max_length} characters after the prefix. From {_spell(sample.prefix)} "
        "the model writes the whole header; a prefix with `M:` and `K:` fixes the meter and "
        "key"
        + (
            f" (it is sampled from its canonical form, "
            f"{_spell(results['generated'][-1]['sampled_from'])})"
            if d.normalize and sample.conditioned_prefix
            else ""
        )
        + ". The same checks on the real tunes of the test split show what they measure.",
        "",
        markdown_table(MUSIC_HEADER, music_rows(results)),
        "",
        "Parsed: music21 reads the text without raising and finds at least one note. Meter "
        "and key: it also finds a time signature and a key. Full MIDI: of those, the share "
        "written as a MIDI file that keeps the score (`apps.music.midi`: repeats written "
        "out, tempo, meter, key). Ended by itself: the model wrote the end mark before the "
        "length limit (the others are kept as they are and labelled unfinished). "
        "Full-length inner bars: bars other than the first and last whose length equals "
        "the time signature's, averaged over the parsed tunes.",
        "",
        "Why music21 refused the others (count, reason, all seeds):",
        "",
    ]
    for prefix in names:
        failures = {}
        for g in results["generated"]:
            if g["prefix"] == prefix:
                for reason, n in g["failures"].items():
                    failures[reason] = failures.get(reason, 0) + n
        listed = sorted(failures.items(), key=lambda item: -item[1])[:LISTED_FAILURES]
        shown = "; ".join(f"{n} x {reason}" for reason, n in listed)
        lines.append(f"- from {_spell(prefix)}: {shown or 'none'}")
    lines += [
        "",
        "## Musical sense",
        "",
        "Measures of `apps.music.musicality` over the parsed tunes (all seeds pooled) and "
        "over the real tunes of the test split:",
        "",
        markdown_table(MUSICALITY_HEADER, musicality_rows(results)),
        "",
        "Notes in the key: the share of sounding time on the seven pitch classes of the key "
        "signature. Key-profile distance: 1 - Pearson r between the tune's scale-degree "
        "histogram and the Aarden-Essen profile of its mode (0 = the profile's shape; random "
        "pitches score about 0.85). Steps: melodic intervals of at most 2 semitones. Repeated "
        "bars: full bars whose notes recur elsewhere in the tune. JS: the Jensen-Shannon "
        "divergence (bits, 0 = the same distribution) between the pooled histograms of these "
        "tunes and of the real test tunes: scale degrees, melodic intervals, note lengths.",
        "",
        "![generated tunes](generated_tunes.png)",
        "",
        "All generated tunes are in "
        + ", ".join(
            f"`generated-{k}.abc` ({_spell(prefix)})" for k, prefix in enumerate(names, start=1)
        )
        + ". The first few:",
        "",
    ]
    for s in first_seed:
        for i, tune in enumerate(s.generated[:PRINTED_TUNES]):
            lines += [
                f"From {_spell(s.prefix)}, seed {s.seed}, tune {i + 1} ({s.checks[i].label()}):",
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
        midi = (
            write_score_midi(check.score, out_dir / f"{name}.mid", time_limit=scores.TIME_LIMIT)
            if check.parsed
            else None
        )
        label = check.label() + ("" if tune.finished else "; unfinished (length limit)")
        scores.piano_roll_png(check, out_dir / f"{name}.png", f"{name}: {label}")
        note = label + (f"; {midi.label()}" if midi else "")
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
