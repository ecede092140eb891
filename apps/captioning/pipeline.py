"""The captioning app's verbs: prepare, train, evaluate, caption, export.

Each verb is one function; `cli.py` maps the command line onto them. A run
lives in `runs/captioning/<preset>/` (the runner's checkpoints, logs and
history, plus `vocabulary.json` and `data.json`), so later verbs rebuild
exactly the model that was trained.
"""

import dataclasses
import pathlib
import time

from apps.captioning import report
from apps.captioning.config import DEFAULT_SCENES, CaptioningConfig, check_config
from apps.captioning.data import (
    build_vocabulary,
    caption_tokens,
    encode_split,
    load_data,
    read_images,
    training_batches,
    validation_batches,
)
from apps.captioning.metrics import (
    bleu_scores,
    exact_match,
    exact_match_by_shapes,
    most_frequent_caption,
    pairs_named,
)
from apps.captioning.model import (
    TokenCrossEntropy,
    build_model,
    build_variables,
    check_backbone,
    grid_size,
    output_groups,
)
from apps.captioning.serving import Captioner, caption_images
from apps.common import run as common_run
from apps.common.decoder import greedy_and_beam, token_loss
from apps.common.text import TARGET_SPECIALS, Vocabulary
from seqlib.training import make_strategy
from seqlib.training import train as run_training


class Run(common_run.Run):
    """A captioning run: the runner's files, `vocabulary.json` and `data.json`."""

    app = "captioning"
    config_class = CaptioningConfig
    vocabulary_class = Vocabulary

    def build_model(self):
        config = self.config()
        vocabulary = self.vocabulary()
        model = build_model(config, vocabulary.size, output_groups(config, vocabulary))
        return build_variables(model, config.data.image_size)

    def captioner(self, decode=None):
        """The in-graph `Captioner` of the trained model (`decode`: a
        `DecodeConfig`, default the run's). A caption stops at the longest
        training caption's length when that is shorter than `decode.max_length`:
        on the scenes, the grammar's longest (16 words), so a decode that goes
        wrong cannot run on."""
        model = self.load_model()  # first: a missing run is a one-line error
        config = self.config()
        decode = decode or config.decode
        longest = self.data().get("longest_caption")
        if longest and longest < decode.max_length:
            decode = dataclasses.replace(decode, max_length=int(longest))
        return Captioner(
            model,
            self.vocabulary(),
            config.data.image_size,
            grid_size(config),
            decode,
            max_pixels=config.data.max_pixels,
        )


def prepare(config, data=None, build_tfds=True, skip_bad=False):
    """Reads (or draws) the images and captions (the scenes, or the user's
    folder `data`), builds the TFDS dataset of the default scenes, and returns
    the description of the splits with token counts."""
    check_config(config)
    split = load_data(config, data, skip_bad)
    lines = [split.describe()]
    if data or not build_tfds:
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
    tokens = caption_tokens(split.train, config)
    kept = [t for t in tokens if 1 <= len(t) <= config.data.max_tokens]
    types = {t for sentence in kept for t in sentence}
    specials = len(TARGET_SPECIALS)
    lines += [
        f"training captions with at most {config.data.max_tokens} tokens: {len(kept):,} of "
        f"{len(tokens):,} (the longest has {max((len(t) for t in tokens), default=0)})",
        f"{len(types):,} token types in them "
        f"({'lowercased' if config.data.lowercase else 'case kept'}); the vocabulary keeps "
        f"{min(len(types) + specials, config.data.vocabulary):,} ids, "
        f"{specials} of them special",
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


def train(config, run_dir, data=None, resume=False, verbose="auto", skip_bad=False):
    """Trains with `seqlib.training.train` on the scenes, or on the user's
    folder `data` (`skip_bad`: leave out its broken images and empty captions);
    returns its `TrainResult`."""
    make_strategy(config.train.strategy)
    check_backbone(config)
    run = Run(pathlib.Path(run_dir))
    resuming = run.begin_training(config, resume)
    split = load_data(config, data, skip_bad)
    if resuming:
        vocabulary = run.vocabulary()
    else:
        vocabulary = build_vocabulary(config, split.train)
    paths, targets, _ = encode_split(split.train, vocabulary, config)
    batch_size, size = config.train.batch_size, config.data.image_size
    count = sum(len(t) for t in targets)
    if count < batch_size:
        raise ValueError(
            f"{count} training captions have at most {config.data.max_tokens} tokens; a batch "
            f"needs {batch_size} (lower train.batch_size or raise data.max_tokens)."
        )
    if not resuming:
        longest = max(len(t) for t in caption_tokens(split.train, config) if t)
        run.save_data(
            data,
            skip_bad=bool(skip_bad),
            longest_caption=min(longest, config.data.max_tokens),
        )
        run.save_vocabulary(vocabulary)

    say = print if verbose else (lambda *_: None)
    train_data, steps = training_batches(
        paths, targets, size, batch_size, config.train.seed, say=say
    )
    val_paths, val_targets, _ = encode_split(split.validation, vocabulary, config)
    validation = validation_batches(val_paths, val_targets, size, batch_size)

    return run_training(
        lambda: build_model(config, vocabulary.size, output_groups(config, vocabulary)),
        train_data,
        config.train,
        run.path,
        compile_kwargs={
            "loss": token_loss(config.train),
            # The class, not an instance: keras makes it inside the strategy scope.
            "metrics": [TokenCrossEntropy],
        },
        validation_data=validation,
        steps_per_epoch=steps,
        resume=resume,
        app_config=config,
        verbose=verbose,
    )


def evaluate(run_dir, report_dir, data=None, say=print, limit=0, split_name="test"):
    """Scores the run (greedy and beam) and the most-frequent-caption baseline
    on the test split of the run's data (or of the folder `data`) with
    sacreBLEU's BLEU-1..4 and the exact-match rate; `limit` > 0 scores the
    first images only; `split_name="validation"` scores the validation split
    instead (for choices between variants). Writes the report; returns the
    results."""
    started = time.time()
    run = Run(pathlib.Path(run_dir))
    if not run.exists():
        raise FileNotFoundError(
            f"No trained model in {run.path}: run `python -m apps.captioning train` first."
        )
    config = run.config()
    record = run.data()
    data = data if data else run.data_file()
    split = load_data(config, data, record.get("skip_bad", False))
    lowercase = config.data.lowercase
    test = getattr(split, split_name)
    test = test[:limit] if limit else test
    refs = [list(e.captions) for e in test]
    images = read_images([e.image for e in test], config.data.max_pixels)
    results = {
        "data": split.source,
        "scenes": not data,
        "split": split_name,
        "test_images": len(test),
        "test_captions": sum(len(r) for r in refs),
        "systems": [],
    }
    baseline = most_frequent_caption(split.train, lowercase)
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
    name = report.describe_variant(config)
    searches = greedy_and_beam(
        caption_images,
        captioner,
        images,
        config.decode,
        lambda method: say(f"{name}: {method} search on {len(images):,} {split_name} images ..."),
    )
    for method, (label, texts, speed, _) in searches.items():
        captions[method] = texts
        results["systems"].append(
            {
                "name": name,
                "method": label,
                "images_per_second": speed,
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


def caption(captioner, images, paths, greedy=False, attention_dir=None):
    """The captions of `images` (the bytes of the files `paths`, `read_images`),
    in order; with `attention_dir`, where the decoder looked for each word is
    drawn per image into `attention_dir/<image name>.png` (numbered when names
    repeat)."""
    texts, ids, _ = caption_images(captioner, images, greedy)
    if attention_dir:
        for image, image_ids, path, text in zip(
            images, ids, attention_paths(paths, attention_dir), texts
        ):
            report.show_attention(captioner, image, image_ids, path, title=text)
    return texts


def attention_paths(paths, directory):
    """One PNG name in `directory` per image: its stem, numbered when stems repeat."""
    stems = [pathlib.Path(p).stem for p in paths]
    repeated = {s for s in stems if stems.count(s) > 1}
    return [
        pathlib.Path(directory) / (f"{i + 1}-{s}.png" if s in repeated else f"{s}.png")
        for i, s in enumerate(stems)
    ]


def export(run_dir, models_dir):
    """Exports the trained model to `models_dir/captioning/<next version>/`:
    `serving_default` (beam search), `greedy` and `attention`, image bytes in."""
    run = Run(pathlib.Path(run_dir))
    return run.captioner().export(
        models_dir,
        "captioning",
        {
            **run.export_assets(),
            "vocabulary.json": run.vocabulary_path.read_text(encoding="utf-8"),
        },
    )


def seeds(config, seed_list, runs_dir, report_dir, split_name="test", say=print):
    """Trains `config` with each seed of `seed_list` in `runs_dir/seed-<seed>/` (a
    finished run is reused, an interrupted one resumed), scores each on
    `split_name` (its report in `report_dir/seed-<seed>/`) and writes
    `report_dir/report.md`: each seed, the mean and the spread. Returns
    `{seed: results}`."""
    results = {}
    for seed in seed_list:
        seeded = dataclasses.replace(config, train=dataclasses.replace(config.train, seed=seed))
        run_dir = pathlib.Path(runs_dir) / f"seed-{seed}"
        say(f"seed {seed}: training in {run_dir} ...")
        train(seeded, run_dir, resume=True, verbose=0)
        results[seed] = evaluate(
            run_dir, pathlib.Path(report_dir) / f"seed-{seed}", say=say, split_name=split_name
        )
        say(report.seed_line(seed, results[seed]))
    report.write_seeds(pathlib.Path(report_dir), config, split_name, results)
    return results
