"""The translation app's verbs: prepare, train, evaluate, translate, export.

Each verb is one function; `cli.py` maps the command line onto them. A run
lives in `runs/translation/<preset>/` (the runner's checkpoints, logs and
history, plus `source_vocabulary.json`, `target_vocabulary.json` and
`data.json`), so later verbs rebuild exactly the model that was trained.
"""

import collections
import json
import os
import pathlib
import time

import numpy as np
import tensorflow as tf

from apps.common import run as common_run
from apps.translation import report
from apps.translation.config import TranslationConfig
from apps.translation.model import (
    END,
    PAD,
    SOURCE_SPECIALS,
    START,
    TARGET_SPECIALS,
    Translator,
    Vocabulary,
    build_model,
    tokenize_all,
)
from datasets.translation_data import load_tatoeba, load_user_pairs
from seqlib.export import export_for_serving
from seqlib.training import SparseCategoricalCrossentropy, make_strategy, shuffle_for_epoch
from seqlib.training import train as run_training

# Training pairs held in the shuffle buffer (all of them for Tatoeba: a uniform shuffle).
SHUFFLE_BUFFER = 200_000


class Run(common_run.Run):
    """A translation run: the runner's files, the two vocabularies and `data.json`."""

    app = "translation"
    config_class = TranslationConfig

    def vocabulary_path(self, side):
        return self.path / f"{side}_vocabulary.json"

    def vocabularies(self):
        return tuple(
            Vocabulary.from_json(self.vocabulary_path(side).read_text(encoding="utf-8"))
            for side in ("source", "target")
        )

    def build_model(self):
        source, target = self.vocabularies()
        model = build_model(self.config(), source.size, target.size)
        model.build()
        return model

    def translator(self, decode=None):
        """The in-graph `Translator` of the trained model (`decode`: a
        `DecodeConfig`, default the run's)."""
        source, target = self.vocabularies()
        return Translator(self.load_model(), source, target, decode or self.config().decode)


# -- data ---------------------------------------------------------------------


def load_data(data_path=None):
    """The fixed split: Tatoeba's English-Spanish pairs, or a user's TSV file."""
    return load_user_pairs(data_path) if data_path else load_tatoeba()


def sides(pairs, direction):
    """`(sources, targets)`: two lists of sentences in the given direction."""
    if not pairs:
        return [], []
    sources, targets = zip(*(pair.source_target(direction) for pair in pairs))
    return list(sources), list(targets)


def references(pairs, direction):
    """Groups pairs by source sentence: `(sources, [translations of each])`, in
    order of first appearance. Tatoeba often has several translations of one
    sentence; all of them are references."""
    grouped = collections.OrderedDict()
    for source, target in zip(*sides(pairs, direction)):
        grouped.setdefault(source, []).append(target)
    return list(grouped), list(grouped.values())


def encode_examples(source_tokens, target_tokens, source_vocabulary, target_vocabulary):
    """Id lists: sources as they are, targets framed as `[START] ... [END]`."""
    sources = [source_vocabulary.encode(tokens) for tokens in source_tokens]
    targets = [[START, *target_vocabulary.encode(tokens), END] for tokens in target_tokens]
    return sources, targets


def _ragged(sequences):
    lengths = np.array([len(s) for s in sequences], np.int64)
    flat = np.fromiter((i for s in sequences for i in s), np.int32, count=int(lengths.sum()))
    return tf.RaggedTensor.from_row_lengths(flat, lengths)


def bucket_boundaries(max_tokens):
    """Length buckets (sentences are padded to `boundary - 1`); few fixed shapes
    keep an XLA-compiled train step from recompiling for every batch."""
    top = max_tokens + 3  # the target plus [START] (or [END]) is at most max_tokens + 1
    inner = [b for b in (8, 12, 20, 32) if b < top - 2]
    return [*inner, top]


def example_dataset(sources, targets):
    """Unbatched `((source, target_in), target_out)` with ragged-free elements."""
    dataset = tf.data.Dataset.from_tensor_slices((_ragged(sources), _ragged(targets)))
    return dataset.map(lambda s, t: ((s, t[:-1]), t[1:]))


def batched(dataset, batch_size, max_tokens, drop_remainder):
    """Buckets by length and pads each batch to its bucket's boundary."""
    boundaries = bucket_boundaries(max_tokens)
    return dataset.bucket_by_sequence_length(
        lambda x, y: tf.maximum(tf.shape(x[0])[0], tf.shape(x[1])[0]),
        bucket_boundaries=boundaries,
        bucket_batch_sizes=[batch_size] * (len(boundaries) + 1),
        padded_shapes=(([None], [None]), [None]),
        padding_values=((PAD, PAD), PAD),
        pad_to_bucket_boundary=True,
        drop_remainder=drop_remainder,
    )


def _within(source_tokens, target_tokens, max_tokens):
    return [
        i
        for i, (s, t) in enumerate(zip(source_tokens, target_tokens))
        if 1 <= len(s) <= max_tokens and 1 <= len(t) <= max_tokens
    ]


# -- verbs --------------------------------------------------------------------


def prepare(config, data_path=None, build_tfds=True):
    """Reads the pairs, makes (or reads) the saved split, builds the TFDS dataset,
    and returns the description of the splits with token counts."""
    data = load_data(data_path)
    if build_tfds and not data_path:
        from datasets.tatoeba_pairs import build_tfds as build

        build()
    sources, targets = sides(data.train, config.data.direction)
    source_tokens, target_tokens = tokenize_all(sources), tokenize_all(targets)
    kept = len(_within(source_tokens, target_tokens, config.data.max_tokens))
    lines = [
        data.describe(),
        f"direction {config.data.direction}: {len(set(t for s in source_tokens for t in s)):,} "
        f"source and {len(set(t for s in target_tokens for t in s)):,} target token types "
        "in training",
        f"training pairs with at most {config.data.max_tokens} tokens a side: "
        f"{kept:,} of {len(sources):,}",
    ]
    return "\n".join(lines)


def train(config, run_dir, data_path=None, resume=False, verbose="auto"):
    """Trains with `seqlib.training.train`; returns its `TrainResult`."""
    make_strategy(config.train.strategy)
    run = Run(pathlib.Path(run_dir))
    if (run.path / "checkpoints").is_dir() and not resume:
        raise ValueError(
            f"{run.path} already holds a training run: pass --resume to continue it, "
            "or --fresh to train again from scratch."
        )
    data = load_data(data_path)
    direction, max_tokens = config.data.direction, config.data.max_tokens
    sources, targets = sides(data.train, direction)
    source_tokens, target_tokens = tokenize_all(sources), tokenize_all(targets)
    keep = _within(source_tokens, target_tokens, max_tokens)
    if config.data.train_pairs:
        order = np.random.default_rng(config.train.seed).permutation(len(keep))
        keep = sorted(keep[i] for i in order[: config.data.train_pairs])
    if len(keep) < config.train.batch_size:
        raise ValueError(
            f"{len(keep)} training pairs have at most {max_tokens} tokens a side; a batch "
            f"needs {config.train.batch_size} (lower train.batch_size or raise "
            "data.max_tokens)."
        )
    source_tokens = [source_tokens[i] for i in keep]
    target_tokens = [target_tokens[i] for i in keep]
    if resume and run.vocabulary_path("target").is_file():
        source_vocabulary, target_vocabulary = run.vocabularies()
    else:
        source_vocabulary = Vocabulary.from_sentences(
            source_tokens, config.data.source_vocabulary, SOURCE_SPECIALS
        )
        target_vocabulary = Vocabulary.from_sentences(
            target_tokens, config.data.target_vocabulary, TARGET_SPECIALS
        )
        run.save_data(data=os.path.abspath(data_path) if data_path else None, pairs=len(keep))
        for side, vocabulary in (("source", source_vocabulary), ("target", target_vocabulary)):
            run.vocabulary_path(side).write_text(vocabulary.to_json(), encoding="utf-8")

    examples = example_dataset(
        *encode_examples(source_tokens, target_tokens, source_vocabulary, target_vocabulary)
    )
    batch_size, seed = config.train.batch_size, config.train.seed
    steps = len(keep) // batch_size

    def train_data(epoch):
        # Repeated, so that the buckets' partial batches never leave an epoch
        # short; the runner cuts each epoch to `steps` batches (about one pass).
        shuffled = shuffle_for_epoch(examples, epoch, min(len(keep), SHUFFLE_BUFFER), seed)
        return batched(shuffled.repeat(), batch_size, max_tokens, drop_remainder=True)

    val_sources, val_targets = sides(data.validation, direction)
    val_source_tokens, val_target_tokens = tokenize_all(val_sources), tokenize_all(val_targets)
    val_keep = _within(val_source_tokens, val_target_tokens, max_tokens)
    validation = None
    if val_keep:
        validation = batched(
            example_dataset(
                *encode_examples(
                    [val_source_tokens[i] for i in val_keep],
                    [val_target_tokens[i] for i in val_keep],
                    source_vocabulary,
                    target_vocabulary,
                )
            ),
            batch_size,
            max_tokens,
            drop_remainder=False,
        )
        # Buckets hide the number of batches; keras wants it to end an evaluation
        # without a warning.
        batches = int(validation.reduce(0, lambda count, _: count + 1))
        validation = validation.apply(tf.data.experimental.assert_cardinality(batches))

    return run_training(
        lambda: build_model(config, source_vocabulary.size, target_vocabulary.size),
        train_data,
        config.train,
        run.path,
        compile_kwargs={
            "loss": SparseCategoricalCrossentropy(
                from_logits=True,
                ignore_class=PAD,
                label_smoothing=config.train.label_smoothing,
            )
        },
        validation_data=validation,
        steps_per_epoch=steps,
        resume=resume,
        app_config=config,
        verbose=verbose,
    )


def bleu_scores(hypotheses, refs):
    """sacreBLEU BLEU and chrF of hypotheses against lists of references (any
    number per sentence), with sacreBLEU's signature of the BLEU settings."""
    from sacrebleu.metrics import BLEU, CHRF

    most = max(len(r) for r in refs)
    streams = [[r[k] if k < len(r) else None for r in refs] for k in range(most)]
    bleu, chrf = BLEU(), CHRF()
    return {
        "bleu": bleu.corpus_score(hypotheses, streams).score,
        "chrf": chrf.corpus_score(hypotheses, streams).score,
        "signature": str(bleu.get_signature()),
    }


def evaluate(run_dir, report_dir, data_path=None, compare=(), limit=0, say=print):
    """Scores the run (greedy and beam) and every run in `compare` on the test
    split with sacreBLEU and chrF; writes the report; returns the results."""
    started = time.time()
    run = Run(pathlib.Path(run_dir))
    config = run.config()
    data = load_data(data_path if data_path else run.data().get("data"))
    direction = config.data.direction
    sources, refs = references(data.test, direction)
    if limit:
        sources, refs = sources[:limit], refs[:limit]
    results = {
        "direction": direction,
        "test_pairs": sum(len(r) for r in refs),
        "test_sources": len(sources),
        "systems": [],
    }
    copy = bleu_scores(sources, refs)
    results["systems"].append({"name": "copy the source", "method": "-", **copy})
    translations = {}
    for primary, path in [(True, run.path), *[(False, pathlib.Path(p)) for p in compare]]:
        other = Run(path)
        if not other.exists():
            raise FileNotFoundError(f"No trained model in {path}.")
        other_config = other.config()
        if other_config.data.direction != direction:
            raise ValueError(f"{path} translates {other_config.data.direction}, not {direction}.")
        name = describe_variant(other_config)
        translator = other.translator()
        for method in ("greedy", "beam"):
            say(f"{name}: {method} search on {len(sources):,} test sentences ...")
            t0 = time.time()
            texts, _, _ = translate_sentences(
                translator, sources, method == "greedy", other_config.decode.batch_size
            )
            seconds = time.time() - t0
            scores = bleu_scores(texts, refs)
            results["systems"].append(
                {
                    "name": name,
                    "run": str(path),
                    "method": f"beam {other_config.decode.beam_width}"
                    if method == "beam"
                    else "greedy",
                    "sentences_per_second": len(sources) / seconds,
                    **scores,
                }
            )
            if primary:
                translations[method] = texts
    results["seconds"] = time.time() - started
    report.write(
        report_dir, run, config, results, sources, refs, translations, Run(run.path).translator()
    )
    return results


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


def find_translator(model_path, run_dir, models_dir, decode_overrides=None, server=None):
    """What `translate` uses: a `Translator` from `--model PATH` (a run, an
    export or an export's parent), or the model at `--server URL`, else the run,
    else the newest export."""
    return common_run.find_decoder(
        "translation",
        Run,
        lambda run, decode: run.translator(decode),
        model_path,
        run_dir,
        models_dir,
        decode_overrides,
        server,
        export_may_change=("greedy",),
        what="the beam or length penalty",
    )


def translate_sentences(translator, sentences, greedy=False, batch_size=64):
    """`(translations, ids, scores)` of a list of sentences, in order, decoded
    `batch_size` at a time by a `Translator` or a loaded export."""
    decode = common_run.decoding_function(translator, "greedy" if greedy else "serving_default")
    texts, ids, scores = [], [], []
    for i in range(0, len(sentences), batch_size):
        out = decode(text=tf.constant(sentences[i : i + batch_size], tf.string))
        texts.extend(t.decode("utf-8") for t in out["translation"].numpy())
        ids.extend(out["ids"].numpy())
        scores.extend(float(x) for x in out["score"].numpy())
    return texts, ids, scores


def show_attention(translator, sentence, ids, path):
    """Draws where the decoder looked for each word of the translation of
    `sentence` (`ids`: its target ids) into the PNG `path`."""
    ids = np.asarray(ids, np.int32)
    ends = np.flatnonzero(ids == END)
    ids = ids[: ends[0] + 1] if len(ends) else ids
    out = common_run.decoding_function(translator, "attention")(
        text=tf.constant([sentence], tf.string), ids=tf.constant(ids[None, :], tf.int32)
    )
    report.attention_png(
        out["weights"].numpy()[0],
        [t.decode("utf-8") for t in out["source_tokens"].numpy()[0]],
        [t.decode("utf-8") for t in out["target_tokens"].numpy()[0]],
        path,
    )


# -- export -------------------------------------------------------------------


def export(run_dir, models_dir):
    """Exports the trained model to `models_dir/translation/<next version>/`:
    `serving_default` (beam search) and `greedy`, strings in and out."""
    run = Run(pathlib.Path(run_dir))
    translator = run.translator()
    return export_for_serving(
        translator,
        models_dir,
        "translation",
        signatures={
            "serving_default": translator.beam,
            "greedy": translator.greedy,
            "attention": translator.attention,
        },
        extra_assets={
            **run.export_assets(),
            **{
                f"{side}_vocabulary.json": run.vocabulary_path(side).read_text(encoding="utf-8")
                for side in ("source", "target")
            },
        },
    )


def write_json(path, value):
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
