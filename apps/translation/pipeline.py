"""The translation app's verbs: prepare, train, evaluate, translate, export.

Each verb is one function; `cli.py` maps the command line onto them. A run
lives in `runs/translation/<preset>/` (the runner's checkpoints, logs and
history, plus `source_vocabulary.json`, `target_vocabulary.json` and
`data.json`), so later verbs rebuild exactly the model that was trained.
"""

import dataclasses
import pathlib
import time

from apps.common import run as common_run
from apps.common.decoder import greedy_and_beam, token_loss
from apps.common.text import Vocabulary
from apps.translation import report
from apps.translation.config import TranslationConfig
from apps.translation.data import (
    build_vocabularies,
    load_data,
    references,
    tokenized,
    training_batches,
    training_pairs,
    validation_batches,
    within,
)
from apps.translation.metrics import bleu_scores, unknown_words
from apps.translation.model import build_model
from apps.translation.serving import Translator, translate_sentences
from seqlib.training import make_strategy
from seqlib.training import train as run_training

SIDES = ("source", "target")


class Run(common_run.Run):
    """A translation run: the runner's files, the two vocabularies and `data.json`."""

    app = "translation"
    config_class = TranslationConfig

    def vocabulary_path(self, side):
        return self.path / f"{side}_vocabulary.json"

    def vocabularies(self):
        return tuple(
            Vocabulary.from_json(self.vocabulary_path(side).read_text(encoding="utf-8"))
            for side in SIDES
        )

    def build_model(self):
        source, target = self.vocabularies()
        model = build_model(self.config(), source.size, target.size)
        model.build()
        return model

    def translator(self, decode=None):
        """The in-graph `Translator` of the trained model (`decode`: a
        `DecodeConfig`, default the run's)."""
        model = self.load_model()  # first: a missing run is a one-line error
        source, target = self.vocabularies()
        config = self.config()
        return Translator(
            model, source, target, decode or config.decode, numbers=config.data.numbers
        )


def prepare(config, data=None, build_tfds=True):
    """Reads the pairs (Tatoeba's, or the user's file `data`), makes (or reads)
    the saved split, builds the TFDS dataset, and returns the description of
    the splits with token counts."""
    split = load_data(config, data)
    if build_tfds and not data:
        from datasets.tatoeba_pairs import build_tfds as build

        build()
    sources, source_tokens, target_tokens = tokenized(split.train, config.data.direction)
    kept = len(within(source_tokens, target_tokens, config.data.max_tokens))
    lines = [
        split.describe(),
        f"direction {config.data.direction}: {len(set(t for s in source_tokens for t in s)):,} "
        f"source and {len(set(t for s in target_tokens for t in s)):,} target token types "
        "in training",
        f"training pairs with at most {config.data.max_tokens} tokens a side: "
        f"{kept:,} of {len(sources):,}",
    ]
    return "\n".join(lines)


def train(config, run_dir, data=None, resume=False, verbose="auto"):
    """Trains with `seqlib.training.train` on Tatoeba's pairs, or on the user's
    file `data`; returns its `TrainResult`."""
    make_strategy(config.train.strategy)
    run = Run(pathlib.Path(run_dir))
    resuming = run.begin_training(config, resume)
    split = load_data(config, data)
    source_tokens, target_tokens = training_pairs(config, split)
    if resuming:
        source_vocabulary, target_vocabulary = run.vocabularies()
    else:
        source_vocabulary, target_vocabulary = build_vocabularies(
            config, source_tokens, target_tokens
        )
        run.save_data(data, pairs=len(source_tokens))
        for side, vocabulary in zip(SIDES, (source_vocabulary, target_vocabulary)):
            run.vocabulary_path(side).write_text(vocabulary.to_json(), encoding="utf-8")

    train_data, steps = training_batches(
        config, source_tokens, target_tokens, source_vocabulary, target_vocabulary
    )
    return run_training(
        lambda: build_model(config, source_vocabulary.size, target_vocabulary.size),
        train_data,
        config.train,
        run.path,
        compile_kwargs={"loss": token_loss(config.train)},
        validation_data=validation_batches(config, split, source_vocabulary, target_vocabulary),
        steps_per_epoch=steps,
        resume=resume,
        app_config=config,
        verbose=verbose,
    )


def evaluate(run_dir, report_dir, data=None, say=print, compare=(), limit=0):
    """Scores the run (greedy and beam) and every run in `compare` on the test
    split of the run's data (or of the file `data`) with sacreBLEU and chrF;
    `limit` > 0 scores the first test sentences only. Writes the report;
    returns the results."""
    started = time.time()
    run = Run(pathlib.Path(run_dir))
    config = run.config()
    split = load_data(config, data if data else run.data_file())
    direction = config.data.direction
    sources, refs = references(split.test, direction)
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
        name = report.describe_variant(other_config)
        searches = greedy_and_beam(
            translate_sentences,
            other.translator(),
            sources,
            other_config.decode,
            lambda method, name=name: say(
                f"{name}: {method} search on {len(sources):,} test sentences ..."
            ),
        )
        copying = other_config.decode.copy_unknown and other_config.model.attention != "none"
        for method, (label, texts, speed, ids) in searches.items():
            results["systems"].append(
                {
                    "name": name,
                    "run": str(path),
                    "method": label,
                    "sentences_per_second": speed,
                    **bleu_scores(texts, refs),
                    **unknown_words(sources, texts, ids, copying),
                }
            )
            if primary:
                translations[method] = texts
        if primary and copying:
            # The same beam search, its [UNK]s left as they are: what copying adds.
            plain = other.translator(dataclasses.replace(other_config.decode, copy_unknown=False))
            say(f"{name}: beam search without copying on {len(sources):,} test sentences ...")
            started_plain = time.time()
            texts, ids, _ = translate_sentences(plain, sources)
            results["systems"].append(
                {
                    "name": f"{name}, [UNK] not copied",
                    "run": str(path),
                    "method": f"beam {other_config.decode.beam_width}",
                    "sentences_per_second": len(sources) / (time.time() - started_plain),
                    **bleu_scores(texts, refs),
                    **unknown_words(sources, texts, ids, False),
                }
            )
            translations["beam, not copied"] = texts
    results["seconds"] = time.time() - started
    report.write(report_dir, run, config, results, sources, refs, translations, run.translator())
    return results


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


def translate(translator, sentences, greedy=False, attention_png=None):
    """The translations of `sentences`, in order; with `attention_png`, the
    attention heat-map of the first sentence is drawn into that PNG."""
    texts, ids, _ = translate_sentences(translator, sentences, greedy)
    if attention_png:
        report.show_attention(translator, sentences[0], ids[0], attention_png)
    return texts


def export(run_dir, models_dir):
    """Exports the trained model to `models_dir/translation/<next version>/`:
    `serving_default` (beam search), `greedy` and `attention`, strings in and out."""
    run = Run(pathlib.Path(run_dir))
    return run.translator().export(
        models_dir,
        "translation",
        {
            **run.export_assets(),
            **{
                f"{side}_vocabulary.json": run.vocabulary_path(side).read_text(encoding="utf-8")
                for side in SIDES
            },
        },
    )
