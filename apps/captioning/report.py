"""The captioning report: `reports/captioning/report.md` and its figures.

`report.md` holds the BLEU-1..4 / exact-match table of the baseline and of
greedy and beam search on the same test images (with sacreBLEU's
signature), the config and commit, training curves, sample test images with
their reference, greedy and beam captions, and attention grids; `metrics.json`
the numbers.
"""

import io
import json
import pathlib

import numpy as np

from apps.captioning.serving import attention_of, caption_images
from apps.common.report import git_commit, markdown_table, plot_training_curves, write_report

SAMPLES = 8
GRIDS = 3
COLUMNS = 5  # panels per row of an attention grid


def describe_variant(config):
    """A short name of the model, e.g. "CNN + GRU, doubly stochastic 1"."""
    m = config.model
    encoder = {"cnn": "CNN", "factored": "colour + form CNN", "mobilenet_v2": "MobileNetV2"}[
        m.encoder
    ]
    parts = [f"{encoder} + {m.cell.upper()}"]
    parts.append(
        f"doubly stochastic {m.doubly_stochastic:g}" if m.doubly_stochastic else "no regulariser"
    )
    if m.word_dropout:
        parts.append(f"word dropout {m.word_dropout:g}")
    if m.factored_output and m.encoder == "factored":
        parts.append("factored output")
    if not m.positions:
        parts.append("no positions")
    if not m.gate:
        parts.append("no gate")
    return ", ".join(parts)


def summary(results):
    """What `evaluate` prints: the markdown table of every system (search,
    BLEU-1..4, exact match, speed)."""
    rows = []
    for system in results["systems"]:
        speed = system.get("images_per_second")
        rows.append(
            [
                system["name"],
                system["method"],
                *(f"{system[f'bleu{n}']:.3f}" for n in (1, 2, 3, 4)),
                f"{system['exact_match']:.3f}",
                f"{speed:.0f}" if speed else "-",
            ]
        )
    header = ["system", "search", "BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "exact match"]
    return markdown_table([*header, "images/s"], rows)


def _pixels(image):
    """An RGB uint8 array of encoded image bytes."""
    from PIL import Image

    with Image.open(io.BytesIO(image)) as opened:
        return np.asarray(opened.convert("RGB"))


def attention_png(image, weights, tokens, grid, path, title=None):
    """The image, then one panel per word of the caption: the image with the
    word's attention over the `grid` (`(h, w)`; `weights` `(T, h * w)`)
    stretched smoothly across it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pixels = _pixels(image)
    height, width = pixels.shape[:2]
    tokens = list(tokens)
    if "[END]" in tokens:
        tokens = tokens[: tokens.index("[END]") + 1]
    maps = np.asarray(weights, np.float32)[: len(tokens)].reshape(len(tokens), *grid)
    panels = 1 + len(tokens)
    rows = -(-panels // COLUMNS)
    fig, axes = plt.subplots(rows, COLUMNS, figsize=(2.0 * COLUMNS, 2.1 * rows + 0.3))
    axes = np.atleast_1d(axes).ravel()
    for ax in axes:
        ax.axis("off")
    axes[0].imshow(pixels)
    axes[0].set_title("image", fontsize=9)
    for ax, token, alpha in zip(axes[1:], tokens, maps):
        ax.imshow(pixels)
        # Each cell covers its share of the image; bilinear smoothing between cells.
        ax.imshow(
            alpha / max(float(alpha.max()), 1e-8),
            cmap="gray",
            alpha=0.6,
            extent=(0, width, height, 0),
            interpolation="bilinear",
            vmin=0.0,
            vmax=1.0,
        )
        ax.set_title(f"{token} ({alpha.max():.2f})", fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def show_attention(captioner, image, ids, path, title=None):
    """Draws the image and, for each word of its caption (`ids`), where the
    decoder looked, into the PNG `path`."""
    weights, tokens, grid = attention_of(captioner, image, ids)
    attention_png(image, weights, tokens, grid, path, title=title)


def _pairs_named(results):
    """Lines of the held-out vs seen colour-shape pairs table (scenes only)."""
    named = results.get("pairs_named")
    if not named:
        return []
    kinds = ("held-out", "seen")
    rows = [[method, *(f"{named[method][k][0]:.3f}" for k in kinds)] for method in named]
    header = ["search", *(f"{k} pairs ({named['beam'][k][1]})" for k in kinds)]
    return [
        "Colour-shape pairs named right (colour and shape, in caption order; shapes in "
        "brackets): the held-out pairs never appear in training, so only a model that "
        "composes colour and shape names them.",
        "",
        markdown_table(header, rows),
        "",
    ]


def _by_shapes(results):
    """Lines of the exact-match table by number of shapes (scenes only)."""
    by_shapes = results.get("exact_match_by_shapes")
    if not by_shapes:
        return []
    counts = sorted(next(iter(by_shapes.values())), key=int)
    rows = [[method, *(f"{by_shapes[method][k][0]:.3f}" for k in counts)] for method in by_shapes]
    header = [
        "search",
        *(f"{k} shape{'s' if k != '1' else ''} ({by_shapes['beam'][k][1]})" for k in counts),
    ]
    return [
        "Exact match by the number of shapes in the scene (test images in brackets):",
        "",
        markdown_table(header, rows),
        "",
    ]


def _escape(text):
    return text.replace("|", "\\|")


def _thumbnail(image, path, side=128):
    from PIL import Image

    with Image.open(io.BytesIO(image)) as opened:
        picture = opened.convert("RGB")
        scale = side / max(picture.size)
        if scale < 1:
            picture = picture.resize((round(picture.width * scale), round(picture.height * scale)))
        elif picture.width < side // 2:
            picture = picture.resize((picture.width * 2, picture.height * 2), Image.NEAREST)
        path.parent.mkdir(parents=True, exist_ok=True)
        picture.save(path)


def write(report_dir, run, config, results, test, images, captions, captioner):
    """Writes `report.md`, `metrics.json`, `training_curves.png`, thumbnails of
    the first test images (`samples/`) and attention grids (`attention-<i>.png`).
    `test` and `images` are the test examples and their bytes, `captions` their
    greedy and beam captions by `captioner`, the run's `Captioner`."""
    report_dir = pathlib.Path(report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    (report_dir / "metrics.json").write_text(json.dumps(results, indent=1) + "\n")
    m, t, d = config.model, config.train, config.decode
    curves = plot_training_curves(
        run.path,
        report_dir,
        metrics=("loss", "cross_entropy"),
        title="loss (training adds the doubly stochastic penalty) and cross-entropy per token"
        if m.doubly_stochastic
        else "loss and cross-entropy per token",
    )
    systems = results["systems"]
    split = results.get("split", "test")
    test_note = (
        f"{split.capitalize()} split: generated scenes, each holding at least one "
        f"colour-shape pair never seen in training (held-out compositions, the {split} "
        "split's own); one exact caption per image."
        if results["scenes"]
        else f"Every caption of a {split} image is a reference."
    )
    encoder = {
        "cnn": f"a CNN of {len(m.cnn_filters)} stages {m.cnn_filters}",
        "factored": "a factored encoder (colour: two 1x1 convolutions averaged per cell; "
        f"form: a CNN of {len(m.cnn_filters)} stages {m.cnn_filters} over the colour-blind "
        "figure-ground map)",
        "mobilenet_v2": "a frozen MobileNetV2 (cut at stride 16)",
    }[m.encoder]
    lines = [
        "# Image captioning: Show, Attend and Tell",
        "",
        f"Commit `{git_commit()}`, run `{run.path}`. Data: {results['data']}. {test_note} "
        f"{results['test_images']:,} {split} images, {results['test_captions']:,} reference "
        "captions.",
        "",
        summary(results),
        "",
        f"BLEU: sacreBLEU `{systems[-1]['signature']}` with `max_ngram_order` 1 to 4 "
        "(corpus level, every caption of an image a reference), as fractions. Exact match: "
        "the share of images whose caption equals a reference word for word. The baseline "
        f"writes the most frequent training caption for every image: `{systems[0]['caption']}`.",
        "",
        f"Model: {encoder} over {config.data.image_size} px images "
        f"({'learned cell positions, ' if m.positions else ''}a "
        f"{'gated ' if m.gate else ''}Bahdanau attention of {m.attention_units} units) and a "
        f"{m.cell.upper()} decoder of {m.units} units with {m.embedding_dim}-dimensional "
        f"word embeddings; doubly stochastic regulariser lambda = {m.doubly_stochastic:g}; "
        f"dropout {m.dropout}; word dropout {m.word_dropout:g}"
        f"{'; colour, size and shape words from their own channels (factored output)' if m.factored_output and m.encoder == 'factored' else ''}. Trained {t.epochs} epochs, batch {t.batch_size}, "
        f"{t.optimizer} at {t.learning_rate:g} ({t.lr_schedule}), label smoothing "
        f"{t.label_smoothing}, on captions of at most {config.data.max_tokens} tokens. "
        f"Beam search: width {d.beam_width}, GNMT length penalty {d.length_penalty:g}, at "
        f"most {d.max_length} words. Evaluation took {results['seconds']:.0f} s.",
        "",
        *_by_shapes(results),
        *_pairs_named(results),
        f"![training curves]({curves})",
        "",
        "## Sample test images",
        "",
    ]
    rows = []
    for i, (example, image) in enumerate(zip(test[:SAMPLES], images)):
        name = f"samples/{i + 1}.png"
        _thumbnail(image, report_dir / name)
        rows.append(
            [
                f"![]({name})",
                "<br>".join(_escape(c) for c in example.captions[:2]),
                _escape(captions["greedy"][i]),
                _escape(captions["beam"][i]),
            ]
        )
    lines += [markdown_table(["image", "reference", "greedy", "beam"], rows), ""]
    if test:
        lines += [
            "## Where the decoder looks",
            "",
            "Each panel shows one word of the beam-search caption and the attention "
            "it was written with, stretched over the image (bright: looked at; the "
            "number is the largest weight).",
            "",
        ]
        # Scenes with several shapes show the attention moving from one to the next.
        order = sorted(range(len(test)), key=lambda i: -len(captions["beam"][i].split()))
        chosen = sorted(order[:GRIDS])
        texts, ids, _ = caption_images(captioner, [images[i] for i in chosen])
        for k, i in enumerate(chosen):
            name = f"attention-{k + 1}.png"
            show_attention(captioner, images[i], ids[k], report_dir / name)
            lines += [f"`{_escape(texts[k])}`", "", f"![]({name})", ""]
    write_report(report_dir, lines, config)


SEED_COLUMNS = (
    ("BLEU-4 greedy", lambda r: _system(r, "greedy")["bleu4"]),
    ("BLEU-4 beam", lambda r: _system(r, "beam")["bleu4"]),
    ("exact match (beam)", lambda r: _system(r, "beam")["exact_match"]),
    ("held-out pairs named (beam)", lambda r: r["pairs_named"]["beam"]["held-out"][0]),
    ("seen pairs named (beam)", lambda r: r["pairs_named"]["beam"]["seen"][0]),
)


def _system(results, method):
    """The model's row of `results["systems"]` for `"greedy"` or `"beam"` search."""
    return next(s for s in results["systems"][1:] if s["method"].startswith(method))


def seed_line(seed, results):
    """One line per seed, for the terminal."""
    values = ", ".join(f"{name} {get(results):.3f}" for name, get in SEED_COLUMNS if _has(results))
    return f"seed {seed}: {values}"


def _has(results):
    return "pairs_named" in results


def seeds_table(results):
    """`(header, rows)`: one row per seed, then the mean, the standard deviation
    and the range over the seeds."""
    columns = SEED_COLUMNS if all(_has(r) for r in results.values()) else SEED_COLUMNS[:3]
    values = np.array([[get(r) for _, get in columns] for r in results.values()])
    rows = [[f"seed {seed}", *(f"{v:.3f}" for v in row)] for seed, row in zip(results, values)]
    rows.append(["**mean**", *(f"**{v:.3f}**" for v in values.mean(0))])
    rows.append(["sd", *(f"{v:.3f}" for v in values.std(0, ddof=1 if len(values) > 1 else 0))])
    rows.append(["range", *(f"{lo:.3f}-{hi:.3f}" for lo, hi in zip(values.min(0), values.max(0)))])
    return ["run", *(name for name, _ in columns)], rows


def write_seeds(report_dir, config, split_name, results):
    """`report_dir/report.md` and `metrics.json`: the seeds' table."""
    report_dir.mkdir(parents=True, exist_ok=True)
    header, rows = seeds_table(results)
    (report_dir / "metrics.json").write_text(
        json.dumps({str(seed): r for seed, r in results.items()}, indent=1, default=str) + "\n"
    )
    first = next(iter(results.values()))
    lines = [
        "# Image captioning across seeds",
        "",
        f"Commit `{git_commit()}`. The same config (below) trained with seeds "
        f"{', '.join(str(s) for s in results)}; each scored on the {split_name} split "
        f"({first['test_images']:,} images; the report of each seed is in `seed-<seed>/`). "
        f"Model: {describe_variant(config)}.",
        "",
        markdown_table(header, rows),
        "",
        "sd: the sample standard deviation over the seeds.",
        "",
    ]
    return write_report(report_dir, lines, config)
