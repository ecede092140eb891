"""The sentiment app's verbs: prepare, train, evaluate, predict, export.

Each verb is one function; `cli.py` maps the command line onto them. A run
lives in `runs/sentiment/<preset>/` (the runner's checkpoints, logs and
history, plus `vocabulary.txt` and `data.json`), so later verbs rebuild exactly
the model that was trained.
"""

import pathlib

import keras
import numpy as np

from apps.common import run as common_run
from apps.sentiment import baselines, report
from apps.sentiment.config import SentimentConfig
from apps.sentiment.data import (
    has_extra_head,
    load_data,
    load_extra_tweets,
    pretraining_texts,
    training_batches,
    training_frame,
    validation_batches,
)
from apps.sentiment.model import (
    MaskedBinaryAccuracy,
    build_model,
    build_vocabulary,
    extend_vocabulary,
    make_vectorizer,
    masked_binary_crossentropy,
    masked_mse,
    masked_sparse_categorical_crossentropy,
    negation_scope,
    tokenizer,
    word_vector_rows,
)
from apps.sentiment.serving import LABELS, SentimentServing, positive_probability
from seqlib.export import export_for_serving
from seqlib.models import transfer_encoder
from seqlib.training import make_strategy
from seqlib.training import train as run_training


class Run(common_run.Run):
    """A sentiment run: the runner's files plus `vocabulary.txt` and `data.json`."""

    app = "sentiment"
    config_class = SentimentConfig
    vocabulary_file = "vocabulary.txt"  # one word a line, not JSON

    def vocabulary(self):
        return self.vocabulary_path.read_text(encoding="utf-8").split("\n")

    def save_vocabulary(self, vocabulary):
        self.path.mkdir(parents=True, exist_ok=True)
        self.vocabulary_path.write_text("\n".join(vocabulary), encoding="utf-8")

    def build_model(self):
        return build_model(self.config(), self.vocabulary())


# -- verbs --------------------------------------------------------------------


def prepare(config, data=None, build_tfds=True):
    """Fetches the data (the tweets, and the extra tweets and word vectors the
    config uses), makes (or reads) the saved split, builds the TFDS dataset,
    and returns the description of the splits."""
    split = load_data(config, data)
    if build_tfds and not data:
        from datasets.sentiment_tweets import build_tfds as build

        build(config="tweets_plus_snippets" if config.data.extras else "tweets")
    lines = [split.describe()]
    _, note = load_extra_tweets(config, split)
    if note:
        lines.append(f"extra tweets: {note}")
    if config.model.word_vectors != "none":
        from datasets.sentiment_corpora import load_word_vectors

        words, vectors = load_word_vectors(config.model.word_vectors)
        lines.append(
            f"word vectors: {config.model.word_vectors}, {len(words)} x {vectors.shape[1]}"
        )
    return "\n".join(lines)


def encoder_dir(config):
    """Where the encoder pretrained for `config` is cached:
    `<data root>/sentiment/encoders/<key>/`, the key a hash of everything that
    shapes it (the pretraining fields, the encoder's sizes, the word vectors,
    the seed), so that a changed config pretrains again and an unchanged one
    reuses it."""
    import hashlib
    import json

    from datasets.fetch import data_root
    from seqlib.training import config_to_dict

    model = config.model
    shape = {
        # The fine-tuning fields (layer_lr_decay, gradual_unfreezing) do not
        # change the encoder.
        "pretrain": {
            k: v
            for k, v in config_to_dict(config.pretrain).items()
            if k not in ("layer_lr_decay", "gradual_unfreezing")
        },
        "model": [model.cell, model.embedding_dim, model.units, model.word_vectors],
        # How texts become words: the language model's vocabulary.
        "tokens": [config.data.split_clitics, config.data.emoticons],
        "seed": config.train.seed,
    }
    key = hashlib.sha256(json.dumps(shape, sort_keys=True).encode()).hexdigest()[:12]
    return data_root() / "sentiment" / "encoders" / f"{config.pretrain.corpus}-{key}"


def pretrain(config, say=print, verbose="auto"):
    """Pretrains the encoder as a bidirectional language model on
    `pretrain.corpus` and caches it (`encoder_dir`); a cached encoder is reused.
    Returns its directory, or None when `pretrain.corpus` is `"none"`."""
    import dataclasses

    import tensorflow as tf

    from seqlib.models import BidirectionalLanguageModel, save_encoder
    from seqlib.training import SlantedTriangular, fit_verbosity

    if config.pretrain.corpus == "none":
        return None
    path = encoder_dir(config)
    if (path / "encoder.json").is_file():
        say(f"pretrained encoder: {path} (reused)")
        return path
    pre = config.pretrain
    texts = pretraining_texts(config, load_data(config))
    lm_config = dataclasses.replace(
        config,
        data=dataclasses.replace(
            config.data, max_tokens=pre.max_tokens, sequence_length=pre.sequence_length
        ),
    )
    vocabulary = build_vocabulary(lm_config, texts)
    vectorize = make_vectorizer(lm_config, vocabulary)
    ids = np.concatenate(
        [
            vectorize(tf.constant(list(texts[i : i + 4096]))).numpy()
            for i in range(0, len(texts), 4096)
        ]
    )
    ids = ids[(ids > 0).sum(axis=1) >= 2]  # a text needs two words to predict one from the other
    say(f"pretraining on {len(ids)} texts of {pre.corpus}, vocabulary {len(vocabulary) + 2}")

    keras.utils.set_random_seed(config.train.seed)
    lm = BidirectionalLanguageModel(
        len(vocabulary) + 2,
        embedding_dim=config.model.embedding_dim,
        units=config.model.units,
        cell=config.model.cell,
        dropout=0.1,
    )
    lm.build((None, pre.sequence_length))
    embeddings, _ = word_vector_rows(config, vocabulary, seed=config.train.seed)

    if embeddings is not None:
        lm.get_layer("embedding").embeddings.assign(embeddings)
    batches = (
        tf.data.Dataset.from_tensor_slices(ids)
        .shuffle(len(ids), seed=config.train.seed)
        .batch(pre.batch_size)
    )
    steps = pre.epochs * int(np.ceil(len(ids) / pre.batch_size))
    lm.compile(
        optimizer=keras.optimizers.AdamW(SlantedTriangular(pre.learning_rate, steps), clipnorm=1.0)
    )
    history = lm.fit(batches, epochs=pre.epochs, shuffle=False, verbose=fit_verbosity(verbose))
    save_encoder(lm, path, vocabulary=["", "[UNK]", *vocabulary])
    import pandas as pd

    pd.DataFrame(history.history).rename_axis("epoch").to_csv(path / "history.csv")
    say(f"pretrained encoder: {path}")
    return path


def layer_groups(config):
    """The classifier's layers in ULMFiT's groups, bottom first: embeddings
    (and the negation operator, which reads their vectors), the recurrent
    layers, the pooling and heads."""
    embeddings = ["embedding"] + (["subword_embedding"] if config.model.subword_buckets else [])
    if config.model.negation == "operator":
        embeddings.append("negate")
    heads = ["attention_pooling", "probability", "rating"]
    if has_extra_head(config):
        heads.append("extra_tweets")
    return [embeddings, [f"bidirectional_{i}" for i in range(config.model.layers)], heads]


def train(config, run_dir, data=None, resume=False, verbose="auto"):
    """Trains with `seqlib.training.train` on the tweets, or on the user's CSV
    file `data`; returns its `TrainResult`."""
    if config.train.strategy == "multiworker":
        # Collective ops are configured at startup: the strategy comes first.
        make_strategy("multiworker")
    run = Run(pathlib.Path(run_dir))
    resuming = run.begin_training(config, resume)
    split = load_data(config, data)
    extra, extra_note = load_extra_tweets(config, split)
    frame = training_frame(split, extra)
    texts = frame["text"].to_numpy(dtype=object)
    if resuming:
        vocabulary = run.vocabulary()
    else:
        vocabulary = extend_vocabulary(config, build_vocabulary(config, texts))
        run.save_data(data, **({"extra_tweets": extra_note} if extra_note else {}))
        run.save_vocabulary(vocabulary)
    embeddings, _ = word_vector_rows(config, vocabulary, seed=config.train.seed)
    encoder, callbacks = None, []
    if config.pretrain.corpus != "none":
        from seqlib.models import load_encoder
        from seqlib.training import GradualUnfreezing

        encoder = load_encoder(pretrain(config, verbose=verbose))
        if config.pretrain.gradual_unfreezing:
            callbacks.append(
                GradualUnfreezing(layer_groups(config), config.pretrain.layer_lr_decay)
            )

    def build():
        model = build_model(config, vocabulary, embeddings)
        if encoder is not None:
            transfer_encoder(encoder, model, vocabulary=["", "[UNK]", *vocabulary])
        return model

    losses = {
        "probability": masked_binary_crossentropy(config.train.label_smoothing),
        "rating": masked_mse,
    }
    weights = {"probability": 1.0, "rating": config.model.rating_weight}
    if has_extra_head(config):
        losses["extra_tweets"] = masked_sparse_categorical_crossentropy
        weights["extra_tweets"] = config.model.extra_weight
    return run_training(
        build,
        training_batches(config, training_frame(split, extra, config.data.train_repeats)),
        config.train,
        run.path,
        compile_kwargs={
            "loss": losses,
            "loss_weights": weights,
            "metrics": {"probability": [MaskedBinaryAccuracy(name="accuracy")]},
        },
        validation_data=validation_batches(config, split),
        resume=resume,
        callbacks=callbacks,
        app_config=config,
        verbose=verbose,
    )


def evaluate(run_dir, report_dir, data=None, say=print):
    """Model vs baselines on the test split of the run's data (or of the CSV file
    `data`); writes the report; returns the rows `(system, accuracy, macro-F1)`.
    `say` prints progress (there is none to print: this evaluation is quick)."""
    run = Run(pathlib.Path(run_dir))
    model = run.load_model()
    config = run.config()
    data = data if data else run.data_file()
    split = load_data(config, data)
    y_true = split.test["label"].to_numpy()
    probabilities = positive_probability(model, split.test["text"])
    systems = baselines.fit_all(split)
    predictions = {"model": (probabilities > 0.5).astype(int)}
    predictions.update({name: predict(split.test["text"]) for name, predict in systems.items()})
    rows = baselines.score(y_true, predictions)
    # Beyond the tweets: product reviews, editorials, negation and contrast.
    systems["model"] = lambda texts: (positive_probability(model, texts) > 0.5).astype(int)
    beyond = (
        {}
        if data
        else {
            name: baselines.score(
                frame["label"].to_numpy(),
                {system: systems[system](frame["text"]) for system in BEYOND_SYSTEMS},
            )
            for name, frame in evaluation_sets().items()
        }
    )
    report.write(
        report_dir=pathlib.Path(report_dir),
        run=run,
        config=config,
        data=split,
        rows=rows,
        model=model,
        y_true=y_true,
        y_pred=predictions["model"],
        probabilities=probabilities,
        beyond=beyond,
        encoder_dir=encoder_dir(config) if config.pretrain.corpus != "none" else None,
    )
    return rows


# The systems scored outside the tweets, and the sets.
BEYOND_SYSTEMS = ("model", baselines.TFIDF, baselines.VADER, baselines.STACKED)
NEGATION_SET = (
    pathlib.Path(__file__).resolve().parents[2] / "tests" / "data" / "negation_contrast.csv"
)
# Forty more such sentences, for choices (`ablations`): NEGATION_SET is an evaluation set.
NEGATION_DEV_SET = NEGATION_SET.with_name("negation_contrast_dev.csv")


def negation_sentences(path=NEGATION_SET):
    """The hand-written sentences of `path`, `text` and `label` (1 positive)."""
    import pandas as pd

    sentences = pd.read_csv(path)
    sentences["label"] = (sentences["label"] == "positive").astype(int)
    return sentences


def evaluation_sets():
    """`{name: frame}` with `text` and `label`: the Amazon and NYT snippets of the
    same study (never trained on) and the hand-written negation and contrast
    sentences of `tests/data/negation_contrast.csv`."""
    from datasets.sentiment_corpora import load_snippet_sets

    snippets = load_snippet_sets()
    return {
        "Amazon reviews": snippets["amazon"],
        "NYT editorials": snippets["nyt"],
        "negation and contrast (hand-written)": negation_sentences(),
    }


def export(run_dir, models_dir):
    """Exports the trained model to `models_dir/sentiment/<next version>/`:
    `serving_default` and `explain` (the words read and their attention)."""
    run = Run(pathlib.Path(run_dir))
    model = run.load_model()
    module = SentimentServing(model, run.config())
    return export_for_serving(
        module,
        models_dir,
        "sentiment",
        signatures={"serving_default": module.serve, "explain": module.explain},
        extra_assets=run.export_assets(),
    )


def find_model(model_path, run_dir, models_dir, server=None):
    """What `predict` uses: `--model PATH` (a run or an export, or an export's
    parent), or the model at `--server URL`, else the run's checkpoint, else the
    newest export."""
    return common_run.find_model(
        "sentiment",
        model_path,
        run_dir,
        models_dir,
        from_run=lambda path: Run(path).load_model(),
        server=server,
    )


def word_effects(model, text, top=3):
    """Which words drove the answer: P(positive) of `text` minus that of `text`
    without each word in turn (occlusion), as `[(word, effect)]` for the `top`
    words of largest effect, largest first; a positive effect pushed towards
    positive. Asks the model only for probabilities, so it explains a run, an
    export and a served model alike."""
    words = text.split()
    if len(words) < 2:
        return []
    variants = [text] + [" ".join(words[:i] + words[i + 1 :]) for i in range(len(words))]
    probabilities = positive_probability(model, variants)
    effects = probabilities[0] - probabilities[1:]
    order = np.argsort(-np.abs(effects))[:top]
    return [(words[i], float(effects[i])) for i in order]


def predict(model, texts):
    """`[(label, probability of that label, text)]` for every text."""
    positive = positive_probability(model, texts)
    return [
        (LABELS[int(p > 0.5)], float(p if p > 0.5 else 1.0 - p), text)
        for p, text in zip(positive, texts)
    ]


VALIDATION, NEGATION_DEV = "validation macro-F1", "negation dev accuracy"


def validation_scores(run_dir):
    """The run's model on what choices are made on: macro-F1 on the validation
    split of its data, and accuracy on the negation and contrast sentences
    kept for development (`NEGATION_DEV_SET`)."""
    from sklearn.metrics import f1_score

    run = Run(pathlib.Path(run_dir))
    model = run.load_model()
    split = load_data(run.config(), run.data_file())
    probabilities = positive_probability(model, split.validation["text"])
    sentences = negation_sentences(NEGATION_DEV_SET)
    negation = positive_probability(model, sentences["text"]) > 0.5
    return {
        VALIDATION: float(
            f1_score(split.validation["label"], (probabilities > 0.5).astype(int), average="macro")
        ),
        NEGATION_DEV: float(np.mean(negation == sentences["label"].to_numpy().astype(bool))),
    }


def negation_evidence(config, split):
    """What the training labels say a negation does: among the training rows
    (the split's tweets and the extra tweets) whose first clearly polar word
    in a negation's scope (`negation_scope`; |valence| > 1 in the VADER
    lexicon, read here only to sort the words, never by the model) is negative
    or positive, how many are labelled negative, neutral and positive.
    Returns `[(rows, polarity of that word, negative, neutral, positive)]`."""
    from datasets.sentiment_corpora import load_vader_lexicon

    lexicon = load_vader_lexicon()
    extra, _ = load_extra_tweets(config, split)
    # Classes as indices of (negative, neutral, positive).
    corpora = [("training tweets", split.train["text"], 2 * split.train["label"].to_numpy())]
    if extra is not None:
        pooled = config.data.extra_tweets == "pooled"
        classes = 2 * extra["label"] if pooled else extra["extra_class"]
        corpora.append(("extra tweets", extra["text"], classes.to_numpy()))
    rows = []
    for name, texts, classes in corpora:
        words = tokenizer(config)(np.array([str(t) for t in texts], dtype=object))
        scope = negation_scope(words).numpy()
        counts = {"negative": [0, 0, 0], "positive": [0, 0, 0]}
        for row, flags, label in zip(words.numpy(), scope, classes):
            valences = [lexicon.get(w.decode("utf-8"), 0.0) for w, f in zip(row, flags) if f]
            polar = [v for v in valences if abs(v) > 1.0]
            if polar:
                counts["negative" if polar[0] < 0 else "positive"][int(label)] += 1
        rows += [(name, polarity, *n) for polarity, n in counts.items()]
    return rows


def ablations(base, variants, seeds, runs_dir, report_dir, lexicon=(), say=print):
    """Trains every variant (overrides of the config `base`) with every seed in
    `runs_dir/<variant>/seed-<seed>/` (a finished run is reused, an interrupted
    one resumed), scores each on the validation split and writes the table
    (`lexicon`: the variants that read the VADER lexicon, left out of the
    pick), with each one's accuracy on the development negation sentences;
    returns `{variant: {VALIDATION: [per seed], NEGATION_DEV: [per seed]}}`.
    Neither the test split nor the negation sentences of the report are read."""
    from seqlib.training import from_overrides

    scores = {}
    for name, overrides in variants.items():
        scores[name] = {VALIDATION: [], NEGATION_DEV: []}
        for seed in seeds:
            config = from_overrides(base, [*overrides, f"train.seed={seed}"])
            run_dir = pathlib.Path(runs_dir) / report.slug(name) / f"seed-{seed}"
            # A finished run returns at once; an interrupted one goes on.
            train(config, run_dir, resume=True, verbose=0)
            for key, value in validation_scores(run_dir).items():
                scores[name][key].append(value)
            say(
                f"{name}, seed {seed}: "
                + ", ".join(f"{key} {values[-1]:.4f}" for key, values in scores[name].items())
            )
    evidence = negation_evidence(base, load_data(base))
    sentences = negation_sentences(NEGATION_DEV_SET)
    vader = np.mean(baselines.vader(None)(sentences["text"]) == sentences["label"].to_numpy())
    report.write_ablations(
        pathlib.Path(report_dir), base, variants, seeds, scores, lexicon, evidence, float(vader)
    )
    return scores


def seeds(config, seed_list, runs_dir, report_dir, data=None, say=print):
    """Trains `config` with each seed of `seed_list` in `runs_dir/seed-<seed>/` (a
    finished run is reused, an interrupted one resumed), evaluates each as
    `evaluate` does (its report in `report_dir/seed-<seed>/`: the test split,
    the Amazon and NYT snippets, the negation and contrast sentences), and
    writes `report_dir/report.md`: each seed, the mean and the spread, beside
    the baselines. `data`: the user's CSV file instead of the tweets (then the
    sets beyond the tweets are not scored). Returns `{seed: metrics}` (each
    seed's `metrics.json`)."""
    import dataclasses
    import json

    results = {}
    for seed in seed_list:
        seeded = dataclasses.replace(config, train=dataclasses.replace(config.train, seed=seed))
        run_dir = pathlib.Path(runs_dir) / f"seed-{seed}"
        say(f"seed {seed}: training in {run_dir} ...")
        train(seeded, run_dir, data=data, resume=True, verbose=0)
        seed_report = pathlib.Path(report_dir) / f"seed-{seed}"
        evaluate(run_dir, seed_report, say=say)
        results[seed] = json.loads((seed_report / "metrics.json").read_text())
        say(report.seed_line(seed, results[seed]))
    report.write_seeds(pathlib.Path(report_dir), config, results)
    return results
