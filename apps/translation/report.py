"""The translation report: `reports/translation/report.md` and its figures.

`report.md` holds the sacreBLEU / chrF table of every system on the same test
sentences (with the sacreBLEU signature), the config and commit, training
curves, sample translations and attention heat-maps; `metrics.json` the
numbers.
"""

import json
import pathlib

import numpy as np

from apps.common.report import git_commit, markdown_table, plot_training_curves, write_report
from apps.common.text import tokenize_all
from apps.translation.metrics import NUMBER
from apps.translation.serving import attention_of, translate_sentences

SAMPLES = 12
HEATMAPS = 4
NAMES_AND_NUMBERS = 12


def describe_variant(config):
    """A short name of a model variant, e.g. "no attention, reversed source"."""
    m = config.model
    parts = [
        "no attention" if m.attention == "none" else f"{m.attention} attention",
        "bidirectional" if m.bidirectional else "unidirectional",
    ]
    if m.reverse_source:
        parts.append("reversed source")
    return ", ".join(parts)


def summary(results):
    """What `evaluate` prints: the markdown table of every system (search,
    BLEU, chrF, speed)."""
    rows = []
    for system in results["systems"]:
        speed = system.get("sentences_per_second")
        rows.append(
            [
                system["name"],
                system["method"],
                f"{system['bleu']:.1f}",
                f"{system['chrf']:.1f}",
                _percent(system.get("with_unk")),
                _percent(system.get("copied_tokens"), 1),
                _percent(system.get("numbers_kept")),
                f"{speed:.0f}" if speed else "-",
            ]
        )
    header = ["system", "search", "BLEU", "chrF", "with [UNK]", "copied tokens"]
    return markdown_table([*header, "numbers kept", "sentences/s"], rows)


def _percent(value, digits=0):
    return "-" if value is None or value != value else f"{100 * value:.{digits}f}%"


def names_and_numbers(sources, source_vocabulary, limit=NAMES_AND_NUMBERS):
    """The first test sentences with a number or a word outside the source
    vocabulary (names, mostly): what copying is for."""
    chosen = []
    for sentence, tokens in zip(sources, tokenize_all(sources)):
        if any(NUMBER.search(t) or t not in source_vocabulary.index for t in tokens):
            chosen.append(sentence)
            if len(chosen) == limit:
                break
    return chosen


def attention_png(weights, source_tokens, target_tokens, path, title=None):
    """A heat-map of `weights` `(T, S)`: one row per target token, one column
    per source token (padding trimmed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    source = [t for t in source_tokens if t]
    target = list(target_tokens)
    if "[END]" in target:
        target = target[: target.index("[END]") + 1]
    weights = np.asarray(weights)[: len(target), : len(source)]
    fig, ax = plt.subplots(
        figsize=(1.0 + 0.45 * max(4, len(source)), 1.0 + 0.4 * max(3, len(target)))
    )
    ax.imshow(weights, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
    ax.set_xticks(range(len(source)), source, rotation=60, ha="right")
    ax.set_yticks(range(len(target)), target)
    ax.set_xlabel("source")
    ax.set_ylabel("translation")
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def show_attention(translator, sentence, ids, path):
    """Draws where the decoder looked for each word of the translation of
    `sentence` (`ids`: its target ids) into the PNG `path`."""
    attention_png(*attention_of(translator, sentence, ids), path)


def _escape(text):
    return text.replace("|", "\\|")


def write(report_dir, run, config, results, sources, refs, translations, translator):
    """Writes `report.md`, `metrics.json`, `training_curves.png` and the
    attention heat-maps of the first test sentences. `sources` and `refs` are
    the test sentences and their references, `translations` their greedy and
    beam translations by `translator`, the run's `Translator`."""
    report_dir = pathlib.Path(report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    (report_dir / "metrics.json").write_text(json.dumps(results, indent=1) + "\n")
    curves = plot_training_curves(
        run.path,
        report_dir,
        metrics=("loss",),
        title="label-smoothed cross-entropy per target token",
    )
    m = config.model
    lines = [
        f"# Translation {results['direction']}: sacreBLEU on the test split",
        "",
        f"Commit `{git_commit()}`, run `{run.path}`. Test split: "
        f"{results['test_pairs']:,} pairs, {results['test_sources']:,} distinct source "
        "sentences; no sentence of either language in it appears in training. Every "
        "translation of a source sentence in the test split is a reference.",
        "",
        summary(results),
        "",
        f"sacreBLEU {results['systems'][-1]['signature']} (BLEU); chrF is sacreBLEU's "
        "chrF2 on the same references. 'copy the source' outputs the source sentence "
        "unchanged: the floor that names and numbers alone reach.",
        "",
        f"Model: {m.cell.upper()} {'bidirectional ' if m.bidirectional else ''}encoder "
        f"({m.encoder_layers} layer(s), {m.units} units), {m.decoder_layers}-layer decoder, "
        f"{'no attention' if m.attention == 'none' else m.attention + ' attention'}"
        f"{', input feeding' if m.input_feeding and m.attention != 'none' else ''}"
        f"{', reversed source' if m.reverse_source else ''}; "
        f"{m.embedding_dim}-dimensional word embeddings; vocabularies of "
        f"{config.data.source_vocabulary:,} / {config.data.target_vocabulary:,} tokens; "
        f"trained on pairs of at most {config.data.max_tokens} tokens a side with label "
        f"smoothing {config.train.label_smoothing}, {config.train.epochs} epochs. Beam "
        f"search: width {config.decode.beam_width}, GNMT length penalty "
        f"{config.decode.length_penalty}. Evaluation took {results['seconds']:.0f} s.",
        "",
        f"![training curves]({curves})",
        "",
        "## Sample translations (first test sentences)",
        "",
    ]
    if translations:
        rows = [
            [_escape(s), _escape(r[0]), _escape(g), _escape(b)]
            for s, r, g, b in zip(
                sources[:SAMPLES], refs[:SAMPLES], translations["greedy"], translations["beam"]
            )
        ]
        lines += [markdown_table(["source", "reference", "greedy", "beam"], rows), ""]
    if "beam, not copied" in translations:
        by_source = dict(zip(sources, range(len(sources))))
        chosen = names_and_numbers(sources, run.vocabularies()[0])
        rows = [
            [
                _escape(s),
                _escape(refs[by_source[s]][0]),
                _escape(translations["beam, not copied"][by_source[s]]),
                _escape(translations["beam"][by_source[s]]),
            ]
            for s in chosen
        ]
        lines += [
            "## Names and numbers",
            "",
            "The first test sentences with a number or a word the source vocabulary lacks. "
            f"Numbers: `data.numbers={config.data.numbers}` (placeholders: the k-th number "
            "of the source is `<numk>` for the model, and the graph writes it back; unknown: "
            "numbers read and are written as `[UNK]`). With `decode.copy_unknown` every "
            "`[UNK]` of the translation becomes the source token the attention weighs most at "
            "that step (Luong et al. 2015). 'with [UNK]': translations that show it; "
            "'copied tokens': the share of output tokens copied; 'numbers kept': of the "
            "test sentences with a number, those whose every digit run is in the "
            "translation.",
            "",
            markdown_table(["source", "reference", "beam, [UNK] not copied", "beam"], rows),
            "",
        ]
    if config.model.attention != "none" and sources:
        lines += ["## Where the decoder looks", ""]
        # Sentences long enough for the alignment (and its reordering) to show.
        chosen = [s for s in sources if 6 <= len(s.split()) <= 12][:HEATMAPS] or sources[:1]
        texts, ids, _ = translate_sentences(translator, chosen)
        for i, sentence in enumerate(chosen):
            name = f"attention-{i + 1}.png"
            show_attention(translator, sentence, ids[i], report_dir / name)
            lines += [f"`{_escape(sentence)}` → `{_escape(texts[i])}`", "", f"![]({name})", ""]
    write_report(report_dir, lines, config)
