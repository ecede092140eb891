"""The captioning app's verbs: prepare, train, evaluate, caption, export.

Each verb is one function; `cli.py` maps the command line onto them. A run
lives in `runs/captioning/<preset>/` (the runner's checkpoints, logs and
history, plus `vocabulary.json` and `data.json`), so later verbs rebuild
exactly the model that was trained.
"""

import collections
import os
import pathlib
import re
import time

import numpy as np
import tensorflow as tf

from apps.captioning import report
from apps.captioning.config import DEFAULT_SCENES, CaptioningConfig, check_config
from apps.captioning.model import (
    END,
    PAD,
    SPECIALS,
    Captioner,
    TokenCrossEntropy,
    build_model,
    build_variables,
    decode_image,
    frame,
    grid_size,
    normalize,
    tokenize_captions,
)
from apps.common import run as common_run
from apps.translation.model import Vocabulary, detokenize, tokenize
from datasets.caption_data import image_problem, load_user_captions
from datasets.scenes import HELD_OUT, SHAPES, load_scenes
from seqlib.export import export_for_serving
from seqlib.training import SparseCategoricalCrossentropy, make_strategy, shuffle_for_epoch
from seqlib.training import train as run_training

# Decoded training images are kept in memory when they take at most this much
# (the 8,000 scenes at 64 px: 0.4 GB); larger sets are read from disk every epoch.
CACHE_BYTES = 2 << 30
# Captions of one image are spread apart by a second shuffle of this many examples.
MIX_BUFFER = 1024


class Run(common_run.Run):
    """A captioning run: the runner's files, `vocabulary.json` and `data.json`."""

    app = "captioning"
    config_class = CaptioningConfig

    @property
    def vocabulary_path(self):
        return self.path / "vocabulary.json"

    def vocabulary(self):
        return Vocabulary.from_json(self.vocabulary_path.read_text(encoding="utf-8"))

    def build_model(self):
        config = self.config()
        model = build_model(config, self.vocabulary().size)
        return build_variables(model, config.data.image_size)

    def captioner(self, decode=None):
        """The in-graph `Captioner` of the trained model (`decode`: a
        `DecodeConfig`, default the run's)."""
        config = self.config()
        return Captioner(
            self.load_model(),
            self.vocabulary(),
            config.data.image_size,
            grid_size(config),
            decode or config.decode,
        )


# -- data ---------------------------------------------------------------------


def load_data(config, data_path=None, skip_bad=False):
    """The fixed split: the generated scenes (`config.data.scenes` of them, at
    `config.data.image_size`), or a user's Flickr8k or COCO folder."""
    if data_path:
        return load_user_captions(data_path, skip_bad=skip_bad)
    train, validation, test = config.data.scenes
    return load_scenes(
        image_size=config.data.image_size, train=train, validation=validation, test=test
    )


def canonical(texts, lowercase=True):
    """Captions as the model writes them: normalised, cut into tokens and
    joined again (`"A dog runs ."` -> `"a dog runs."`)."""
    if not texts:
        return []
    joined = detokenize(tokenize(normalize(tf.constant(texts, tf.string), lowercase)))
    return [t.decode("utf-8") for t in joined.numpy()]


def encode_split(examples, vocabulary, config):
    """`(paths, targets, dropped)`: per image, its captions of at most
    `max_tokens` tokens as framed id lists (`frame`), and how many captions
    were longer; images with no caption left are left out."""
    max_tokens = config.data.max_tokens
    captions = [c for e in examples for c in e.captions]
    tokens = iter(tokenize_captions(captions, config.data.lowercase))
    paths, targets, dropped = [], [], 0
    for example in examples:
        kept = []
        for _ in example.captions:
            sentence = next(tokens)
            if 1 <= len(sentence) <= max_tokens:
                kept.append(frame(vocabulary.encode(sentence), max_tokens))
            else:
                dropped += 1
        if kept:
            paths.append(str(example.image))
            targets.append(kept)
    return paths, targets, dropped


def _captions_array(targets):
    """`(images, most captions, length)` int32 and the count of each image's captions."""
    counts = np.array([len(t) for t in targets], np.int32)
    length = len(targets[0][0])
    array = np.full((len(targets), int(counts.max()), length), PAD, np.int32)
    for i, captions in enumerate(targets):
        array[i, : len(captions)] = captions
    return array, counts


def _loader(image_size):
    def load(path, captions, count):
        return decode_image(tf.io.read_file(path), image_size), captions, count

    return load


def _per_caption(image, captions, count):
    """One `((image, target_in), target_out)` example per caption of an image."""
    framed = tf.data.Dataset.from_tensor_slices(captions[:count])
    return framed.map(lambda ids: ((image, ids[:-1]), ids[1:]))


def image_dataset(paths, targets, image_size):
    """Unbatched `(image, captions, count)` in the order of `paths`, decoded from
    the files (`decode_image`)."""
    captions, counts = _captions_array(targets)
    meta = tf.data.Dataset.from_tensor_slices((paths, captions, counts))
    return meta.map(_loader(image_size), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def fits_in_memory(count, image_size):
    return count * image_size * image_size * 3 * 4 <= CACHE_BYTES


def training_batches(paths, targets, image_size, batch_size, seed, say=print):
    """`(train_data, steps)`: `train_data(epoch)` gives the batches of an epoch,
    one example per caption, in an order that depends only on `(seed, epoch)`."""
    captions, counts = _captions_array(targets)
    total = int(counts.sum())
    several = bool(counts.max() > 1)
    load = _loader(image_size)
    meta = tf.data.Dataset.from_tensor_slices((paths, captions, counts))
    cached = None
    if fits_in_memory(len(paths), image_size):
        started = time.time()
        cached = meta.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).cache()
        for _ in cached:  # decode every image once now; later epochs read memory
            pass
        say(f"decoded {len(paths):,} training images in {time.time() - started:.0f} s")

    def train_data(epoch):
        if cached is not None:
            images = shuffle_for_epoch(cached, epoch, len(paths), seed)
        else:
            images = shuffle_for_epoch(meta, epoch, len(paths), seed).map(
                load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
            )
        examples = images.flat_map(_per_caption)
        if several:
            examples = shuffle_for_epoch(examples, epoch, min(total, MIX_BUFFER), seed + 1)
        return examples.batch(batch_size, drop_remainder=True)

    return train_data, total // batch_size


def validation_batches(paths, targets, image_size, batch_size):
    """Every validation caption once, in order, batched; cached after the first pass."""
    if not paths:
        return None
    images = image_dataset(paths, targets, image_size)
    if fits_in_memory(len(paths), image_size):
        images = images.cache()
    total = sum(len(t) for t in targets)
    batches = images.flat_map(_per_caption).batch(batch_size)
    # flat_map hides the number of batches; keras wants it to end an evaluation
    # without a warning.
    return batches.apply(tf.data.experimental.assert_cardinality(-(-total // batch_size)))


# -- verbs --------------------------------------------------------------------


def prepare(config, data_path=None, skip_bad=False, build_tfds=True):
    """Reads (or draws) the images and captions, builds the TFDS dataset of the
    default scenes, and returns the description of the splits with token counts."""
    check_config(config)
    data = load_data(config, data_path, skip_bad)
    lines = [data.describe()]
    if data_path or not build_tfds:
        pass
    elif _is_tfds_set(config):
        from datasets.scene_captions import Builder
        from datasets.scene_captions import build_tfds as build

        builder = build()
        lines.append(f"TFDS: scene_captions {Builder.VERSION} in {builder.data_dir}")
    else:
        lines.append(
            "TFDS: not built (scene_captions holds the default scenes only: "
            f"{DEFAULT_SCENES} at 64 px)"
        )
    captions = [c for e in data.train for c in e.captions]
    tokens = tokenize_captions(captions, config.data.lowercase)
    kept = [t for t in tokens if 1 <= len(t) <= config.data.max_tokens]
    types = {t for sentence in kept for t in sentence}
    lines += [
        f"training captions with at most {config.data.max_tokens} tokens: {len(kept):,} of "
        f"{len(tokens):,} (the longest has {max((len(t) for t in tokens), default=0)})",
        f"{len(types):,} token types in them "
        f"({'lowercased' if config.data.lowercase else 'case kept'}); the vocabulary keeps "
        f"{min(len(types) + len(SPECIALS), config.data.vocabulary):,} ids, "
        f"{len(SPECIALS)} of them special",
    ]
    return "\n".join(lines)


def _is_tfds_set(config):
    from datasets.scene_captions import Builder

    sizes = Builder.SPLIT_SIZES
    return config.data.image_size == Builder.IMAGE_SIZE and tuple(config.data.scenes) == (
        sizes["train"],
        sizes["validation"],
        sizes["test"],
    )


def check_backbone(config):
    """The config's cross-checks and the backbone's weights file: a mistake fails
    before the run directory is touched."""
    check_config(config)
    m = config.model
    if m.encoder == "mobilenet_v2" and not pathlib.Path(m.backbone_weights).expanduser().is_file():
        raise FileNotFoundError(
            f"model.backbone_weights: no such file {m.backbone_weights} (MobileNetV2 weights "
            "are read from a local file, never downloaded)"
        )


def train(config, run_dir, data_path=None, skip_bad=False, resume=False, verbose="auto"):
    """Trains with `seqlib.training.train`; returns its `TrainResult`."""
    make_strategy(config.train.strategy)
    check_backbone(config)
    run = Run(pathlib.Path(run_dir))
    if (run.path / "checkpoints").is_dir() and not resume:
        raise ValueError(
            f"{run.path} already holds a training run: pass --resume to continue it, "
            "or --fresh to train again from scratch."
        )
    data = load_data(config, data_path, skip_bad)
    if resume and run.vocabulary_path.is_file():
        vocabulary = run.vocabulary()
    else:
        captions = [c for e in data.train for c in e.captions]
        tokens = [
            t
            for t in tokenize_captions(captions, config.data.lowercase)
            if len(t) <= config.data.max_tokens
        ]
        vocabulary = Vocabulary.from_sentences(tokens, config.data.vocabulary, SPECIALS)
        run.save_data(
            data=os.path.abspath(data_path) if data_path else None, skip_bad=bool(skip_bad)
        )
        run.vocabulary_path.write_text(vocabulary.to_json(), encoding="utf-8")

    paths, targets, _ = encode_split(data.train, vocabulary, config)
    batch_size, size = config.train.batch_size, config.data.image_size
    count = sum(len(t) for t in targets)
    if count < batch_size:
        raise ValueError(
            f"{count} training captions have at most {config.data.max_tokens} tokens; a batch "
            f"needs {batch_size} (lower train.batch_size or raise data.max_tokens)."
        )
    say = print if verbose else (lambda *_: None)
    train_data, steps = training_batches(
        paths, targets, size, batch_size, config.train.seed, say=say
    )
    val_paths, val_targets, _ = encode_split(data.validation, vocabulary, config)
    validation = validation_batches(val_paths, val_targets, size, batch_size)

    return run_training(
        lambda: build_model(config, vocabulary.size),
        train_data,
        config.train,
        run.path,
        compile_kwargs={
            "loss": SparseCategoricalCrossentropy(
                from_logits=True,
                ignore_class=PAD,
                label_smoothing=config.train.label_smoothing,
            ),
            # The class, not an instance: keras makes it inside the strategy scope.
            "metrics": [TokenCrossEntropy],
        },
        validation_data=validation,
        steps_per_epoch=steps,
        resume=resume,
        app_config=config,
        verbose=verbose,
    )


def bleu_scores(hypotheses, refs, lowercase=True):
    """sacreBLEU's BLEU-1 to BLEU-4 (fractions, 0 to 1) of hypotheses against
    lists of references (any number per image), with sacreBLEU's signature of
    the BLEU-4 settings. BLEU-n is `BLEU(max_ngram_order=n)`."""
    from sacrebleu.metrics import BLEU

    most = max(len(r) for r in refs)
    streams = [[r[k] if k < len(r) else None for r in refs] for k in range(most)]
    scores = {}
    for n in (1, 2, 3, 4):
        bleu = BLEU(max_ngram_order=n, lowercase=lowercase)
        scores[f"bleu{n}"] = bleu.corpus_score(hypotheses, streams).score / 100.0
    scores["signature"] = str(bleu.get_signature())
    return scores


def exact_match(hypotheses, refs, lowercase=True):
    """The fraction of hypotheses equal to one of their references, both in
    `canonical` form (case and spacing of punctuation aside)."""
    hyps = canonical(list(hypotheses), lowercase)
    flat = canonical([r for rs in refs for r in rs], lowercase)
    hits, at = 0, 0
    for hyp, rs in zip(hyps, refs):
        hits += hyp in flat[at : at + len(rs)]
        at += len(rs)
    return hits / max(1, len(hyps))


def shapes_in(caption):
    """How many shapes a scene's caption names (`datasets.scenes`' grammar)."""
    return 1 + caption.count(" left of ") + caption.count(" above ")


def exact_match_by_shapes(captions, refs, lowercase=True):
    """`{search: {shapes: (exact-match rate, images)}}` over the scenes with 1, 2
    and 3 shapes: where the held-out compositions are hardest to get right."""
    out = {}
    for method, texts in captions.items():
        out[method] = {}
        for shapes in sorted({shapes_in(r[0]) for r in refs}):
            chosen = [i for i, r in enumerate(refs) if shapes_in(r[0]) == shapes]
            rate = exact_match([texts[i] for i in chosen], [refs[i] for i in chosen], lowercase)
            out[method][str(shapes)] = (rate, len(chosen))
    return out


_SHAPE_PHRASE = re.compile(r"\b(\w+) (" + "|".join(SHAPES) + r")\b")


def pairs_named(captions, refs):
    """`{search: {"held-out": (rate, shapes), "seen": (rate, shapes)}}`: the share
    of the shapes of the reference captions, taken in caption order, whose colour
    and shape the caption names right, for colour-shape pairs held out of
    training and for the others. A caption naming another number of shapes gets
    none of its shapes right."""
    held_out = {" ".join(pair) for pair in HELD_OUT}
    out = {}
    for method, texts in captions.items():
        hits = collections.Counter()
        totals = collections.Counter()
        for text, rs in zip(texts, refs):
            want = [" ".join(m) for m in _SHAPE_PHRASE.findall(rs[0].lower())]
            got = [" ".join(m) for m in _SHAPE_PHRASE.findall(text.lower())]
            for i, pair in enumerate(want):
                kind = "held-out" if pair in held_out else "seen"
                totals[kind] += 1
                hits[kind] += len(got) == len(want) and got[i] == pair
        out[method] = {k: (hits[k] / max(1, totals[k]), totals[k]) for k in ("held-out", "seen")}
    return out


def most_frequent_caption(examples, lowercase=True):
    """The baseline's one caption: the most frequent training caption (in
    `canonical` form; ties go to the first seen)."""
    counts = collections.Counter(canonical([c for e in examples for c in e.captions], lowercase))
    return counts.most_common(1)[0][0]


def read_images(paths):
    """The bytes of image files, each checked first: a file that is not a
    whole JPEG or PNG is a one-line error naming it."""
    out = []
    for path in paths:
        problem = image_problem(path)
        if problem:
            raise ValueError(f"{path}: {problem}")
        out.append(pathlib.Path(path).read_bytes())
    return out


def evaluate(run_dir, report_dir, data_path=None, limit=0, say=print):
    """Scores the run (greedy and beam) and the most-frequent-caption baseline
    on the test split with sacreBLEU's BLEU-1..4 and the exact-match rate;
    writes the report; returns the results."""
    started = time.time()
    run = Run(pathlib.Path(run_dir))
    if not run.exists():
        raise FileNotFoundError(
            f"No trained model in {run.path}: run `python -m apps.captioning train` first."
        )
    config = run.config()
    record = run.data()
    data = load_data(
        config, data_path if data_path else record.get("data"), record.get("skip_bad", False)
    )
    lowercase = config.data.lowercase
    test = data.test[:limit] if limit else data.test
    refs = [list(e.captions) for e in test]
    images = read_images([e.image for e in test])
    results = {
        "data": data.source,
        "scenes": not (data_path or record.get("data")),
        "test_images": len(test),
        "test_captions": sum(len(r) for r in refs),
        "systems": [],
    }
    baseline = most_frequent_caption(data.train, lowercase)
    results["systems"].append(
        {
            "name": "most frequent training caption",
            "method": "-",
            "caption": baseline,
            **bleu_scores([baseline] * len(refs), refs, lowercase),
            "exact_match": exact_match([baseline] * len(refs), refs, lowercase),
        }
    )
    captioner = run.captioner()
    captions = {}
    name = describe_variant(config)
    for method in ("greedy", "beam"):
        say(f"{name}: {method} search on {len(images):,} test images ...")
        t0 = time.time()
        texts, _, _ = caption_images(
            captioner, images, method == "greedy", config.decode.batch_size
        )
        seconds = time.time() - t0
        captions[method] = texts
        results["systems"].append(
            {
                "name": name,
                "method": f"beam {config.decode.beam_width}" if method == "beam" else "greedy",
                "images_per_second": len(images) / seconds,
                **bleu_scores(texts, refs, lowercase),
                "exact_match": exact_match(texts, refs, lowercase),
            }
        )
    if results["scenes"]:
        results["exact_match_by_shapes"] = exact_match_by_shapes(captions, refs, lowercase)
        results["pairs_named"] = pairs_named(captions, refs)
    results["seconds"] = time.time() - started
    report.write(report_dir, run, config, results, test, images, captions, captioner)
    return results


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
    if not m.positions:
        parts.append("no positions")
    if not m.gate:
        parts.append("no gate")
    return ", ".join(parts)


def find_captioner(model_path, run_dir, models_dir, decode_overrides=None, server=None):
    """What `caption` uses: a `Captioner` from `--model PATH` (a run, an export
    or an export's parent), or the model at `--server URL`, else the run, else
    the newest export."""
    return common_run.find_decoder(
        "captioning",
        Run,
        lambda run, decode: run.captioner(decode),
        model_path,
        run_dir,
        models_dir,
        decode_overrides,
        server,
        what="the beam width",
    )


def caption_images(captioner, images, greedy=False, batch_size=64):
    """`(captions, ids, scores)` of a list of encoded images (bytes), in order,
    decoded `batch_size` at a time by a `Captioner` or a loaded export."""
    decode = common_run.decoding_function(captioner, "greedy" if greedy else "serving_default")
    texts, ids, scores = [], [], []
    for i in range(0, len(images), batch_size):
        try:
            out = decode(image=tf.constant(images[i : i + batch_size], tf.string))
        except tf.errors.InvalidArgumentError as error:
            raise ValueError(
                f"an image cannot be decoded ({error.message.splitlines()[0]})"
            ) from None
        texts.extend(t.decode("utf-8") for t in out["caption"].numpy())
        ids.extend(out["ids"].numpy())
        scores.extend(float(x) for x in out["score"].numpy())
    return texts, ids, scores


def attention_of(captioner, image, ids):
    """`(weights (T, h * w), tokens (T,), grid (h, w))` of one image's caption
    `ids`, up to its end mark."""
    ids = np.asarray(ids, np.int32)
    ends = np.flatnonzero(ids == END)
    ids = ids[: ends[0] + 1] if len(ends) else ids
    out = common_run.decoding_function(captioner, "attention")(
        image=tf.constant([image], tf.string), ids=tf.constant(ids[None, :], tf.int32)
    )
    tokens = [t.decode("utf-8") for t in out["tokens"].numpy()[0]]
    return out["weights"].numpy()[0], tokens, tuple(int(x) for x in out["grid"].numpy())


def show_attention(captioner, image, ids, path, title=None):
    """Draws the image and, for each word of its caption (`ids`), where the
    decoder looked, into the PNG `path`."""
    weights, tokens, grid = attention_of(captioner, image, ids)
    report.attention_png(image, weights, tokens, grid, path, title=title)


def attention_paths(paths, directory):
    """One PNG name in `directory` per image: its stem, numbered when stems repeat."""
    stems = [pathlib.Path(p).stem for p in paths]
    repeated = {s for s in stems if stems.count(s) > 1}
    return [
        pathlib.Path(directory) / (f"{i + 1}-{s}.png" if s in repeated else f"{s}.png")
        for i, s in enumerate(stems)
    ]


# -- export -------------------------------------------------------------------


def export(run_dir, models_dir):
    """Exports the trained model to `models_dir/captioning/<next version>/`:
    `serving_default` (beam search), `greedy` and `attention`, image bytes in."""
    run = Run(pathlib.Path(run_dir))
    captioner = run.captioner()
    return export_for_serving(
        captioner,
        models_dir,
        "captioning",
        signatures={
            "serving_default": captioner.beam,
            "greedy": captioner.greedy,
            "attention": captioner.attention,
        },
        extra_assets={
            **run.export_assets(),
            "vocabulary.json": run.vocabulary_path.read_text(encoding="utf-8"),
        },
    )
