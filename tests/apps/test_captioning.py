"""The captioning app: images decoded in the graph, captions framed into
fixed-length targets, BLEU against sacreBLEU, the doubly stochastic switch;
every verb end to end on a few generated scenes and on a small folder in
Flickr8k's layout; the export served without the project, equal to the
in-process captions for PNG and JPEG bytes; a refused run left as it was;
one-line errors for bad input."""

import io
import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from app_fixtures import CAPTIONING_TINY as TINY
from click.testing import CliRunner
from PIL import Image

from apps.captioning.cli import cli


def _invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def _tiny_config(*overrides):
    from apps.captioning.config import PRESETS
    from seqlib.training import from_overrides

    sets = [TINY[i + 1] for i in range(0, len(TINY), 2)]
    return from_overrides(PRESETS["cpu-small"], [*sets, *overrides])


def _encoded(pixels, kind):
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, kind)
    return buffer.getvalue()


def _scene_pixels(size=32, seed=0):
    from datasets.scenes import generate_scenes

    return generate_scenes(1, seed)[0].image(size)


# -- pieces -------------------------------------------------------------------


def test_images_decode_in_the_graph():
    from apps.captioning.model import decode_image, decode_images

    pixels = _scene_pixels(32)
    png = decode_image(tf.constant(_encoded(pixels, "PNG")), 32).numpy()
    np.testing.assert_allclose(png, pixels / 255.0, atol=1e-6)  # same size: untouched
    big = _scene_pixels(48)[:, :40]
    jpeg = decode_image(tf.constant(_encoded(big, "JPEG")), 32).numpy()
    assert jpeg.shape == (32, 32, 3) and 0.0 <= jpeg.min() and jpeg.max() <= 1.0
    grey = decode_image(tf.constant(_encoded(pixels[:, :, 0], "PNG")), 32).numpy()
    assert grey.shape == (32, 32, 3) and np.array_equal(grey[..., 0], grey[..., 2])
    batch = decode_images(
        tf.constant([_encoded(pixels, "PNG"), _encoded(big, "JPEG")], tf.string), 32
    )
    np.testing.assert_array_equal(batch.numpy(), np.stack([png, jpeg]))


def test_captions_become_fixed_length_targets():
    from apps.captioning.data import caption_tokens, encode_split, frame
    from apps.captioning.metrics import canonical
    from apps.common.text import END, PAD, START, TARGET_SPECIALS, Vocabulary
    from datasets.caption_data import CaptionExample

    examples = [CaptionExample("one.png", ("A Dog, running.", "A Dog"))]
    tokens = [["a", "dog", ",", "running", "."], ["a", "dog"]]
    assert caption_tokens(examples, _tiny_config()) == tokens
    assert caption_tokens(examples, _tiny_config("data.lowercase=false"))[1] == ["A", "Dog"]
    assert canonical(["A dog runs .", "Two  cats"]) == ["a dog runs.", "two cats"]
    assert frame([7, 8], 4) == [START, 7, 8, END, PAD, PAD]

    vocabulary = Vocabulary.from_sentences([["a", "dog"], ["a", "cat"]], 7, TARGET_SPECIALS)
    config = _tiny_config("data.max_tokens=3")
    examples = [
        CaptionExample("one.png", ("A dog.", "a very very long caption")),
        CaptionExample("two.png", ("far too many words here",)),
        CaptionExample("three.png", ("a cat",)),
    ]
    paths, targets, dropped = encode_split(examples, vocabulary, config)
    assert paths == ["one.png", "three.png"] and dropped == 2
    a, dog, cat = (vocabulary.index[w] for w in ("a", "dog", "cat"))
    # "." is not in the vocabulary: [UNK] (1).
    assert targets == [[[START, a, dog, 1, END]], [[START, a, cat, END, PAD]]]


def test_training_batches_hold_every_caption_once_in_a_seeded_order(tmp_path):
    from apps.captioning.data import training_batches

    paths, targets = [], []
    for i, count in enumerate([1, 3, 2, 1, 1]):
        path = tmp_path / f"{i}.png"
        path.write_bytes(_encoded(np.full((8, 8, 3), 10 * i, np.uint8), "PNG"))
        paths.append(str(path))
        targets.append([[2, 10 * i + k, 3] for k in range(count)])
    train_data, steps = training_batches(paths, targets, 8, 2, seed=1, say=lambda *_: None)
    assert steps == 4

    def epoch(k):
        seen = []
        for (images, target_in), target_out in train_data(tf.constant(k, tf.int64)):
            assert images.shape == (2, 8, 8, 3) and target_in.shape == (2, 2)
            for image, t_in, t_out in zip(images.numpy(), target_in.numpy(), target_out.numpy()):
                assert t_in[0] == 2 and t_out[-1] == 3
                # The image is the caption's own image.
                assert round(float(image[0, 0, 0]) * 255) == 10 * (t_out[0] // 10)
                seen.append(int(t_out[0]))
        return seen

    first = epoch(0)
    assert sorted(first) == [0, 10, 11, 12, 20, 21, 30, 40]
    assert epoch(0) == first
    assert any(epoch(k) != first for k in (1, 2, 3))


def test_bleu_matches_sacrebleu():
    import sacrebleu
    from sacrebleu.metrics import BLEU

    from apps.captioning.metrics import bleu_scores, exact_match

    hyps = ["a small red circle", "a dog runs on the grass", "two cats"]
    refs = [
        ["a small red circle", "A small red circle ."],
        ["a dog is running on grass"],
        ["Two cats sleep", "two cats on a sofa", "cats"],
    ]
    got = bleu_scores(hyps, refs)
    streams = [[r[k] if k < len(r) else None for r in refs] for k in range(3)]
    assert got["bleu4"] == pytest.approx(
        sacrebleu.corpus_bleu(hyps, streams, lowercase=True).score / 100
    )
    for n in (1, 2, 3):
        direct = BLEU(max_ngram_order=n, lowercase=True).corpus_score(hyps, streams)
        assert got[f"bleu{n}"] == pytest.approx(direct.score / 100)
    # BLEU-1 by hand: clipped unigram matches over the 4 + 6 + 2 hypothesis
    # words; the closest references (ties to the shorter) have 4 + 6 + 1 words,
    # fewer than the hypotheses, so there is no brevity penalty.
    matches = 4 + 4 + 2
    assert got["bleu1"] == pytest.approx(matches / 12)
    assert "case:lc" in got["signature"] and "nrefs:var" in got["signature"]
    assert bleu_scores([r[0] for r in refs], refs)["bleu4"] == pytest.approx(1.0)
    assert exact_match(hyps, refs) == pytest.approx(1 / 3)


def test_doubly_stochastic_switch_changes_the_training_loss():
    from apps.captioning.model import build_model, build_variables
    from apps.common.text import PAD
    from seqlib.training import SparseCategoricalCrossentropy

    rng = np.random.default_rng(0)
    images = rng.random((4, 32, 32, 3)).astype("float32")
    target = rng.integers(4, 20, (4, 17)).astype("int32")
    target[:, 10:] = PAD
    target_in = np.concatenate([np.full((4, 1), 2, np.int32), target[:, :-1]], axis=1)
    losses, models = {}, {}
    for weight in (1.0, 0.0):
        config = _tiny_config(f"model.doubly_stochastic={weight}", "model.dropout=0")
        model = build_variables(build_model(config, 20), 32)
        if models:
            model.set_weights(models[1.0].get_weights())
        model.compile(
            optimizer=keras.optimizers.SGD(0.0),
            loss=SparseCategoricalCrossentropy(from_logits=True, ignore_class=PAD),
            run_eagerly=True,  # the same step, without the cost of tracing it
        )
        losses[weight] = float(model.train_on_batch((images, target_in), target))
        models[weight] = model
    _, alpha = models[1.0]((images, target_in), return_attention=True)
    real = (target_in != PAD).astype("float32")
    real[:, 0] = 1.0
    coverage = np.sum(np.asarray(alpha) * real[:, :, None], axis=1)
    penalty = np.mean(np.sum((1.0 - coverage) ** 2, axis=-1))
    assert penalty > 1.0
    assert losses[1.0] - losses[0.0] == pytest.approx(penalty, rel=1e-4)


def test_pairs_named_splits_held_out_from_seen_pairs():
    from apps.captioning.metrics import pairs_named

    refs = [["a small red triangle left of a large yellow square"], ["a small green square"]]
    named = pairs_named(
        {
            "greedy": ["a small red diamond left of a large yellow square", "a small green square"],
            "beam": ["a small red triangle", "a small green square"],  # one shape missing
        },
        refs,
    )
    assert named["greedy"] == {"held-out": (0.0, 1), "seen": (1.0, 2)}
    assert named["beam"] == {"held-out": (0.0, 1), "seen": (0.5, 2)}


def test_factored_encoder_separates_colour_from_form():
    from apps.captioning.model import FigureGround, build_encoder

    background = np.full((1, 32, 32, 3), 0.85, "float32")
    red, blue = background.copy(), background.copy()
    red[0, 8:16, 8:16] = (1.0, 0.0, 0.0)
    blue[0, 8:16, 8:16] = (0.0, 0.0, 1.0)
    maps = np.asarray(FigureGround()(np.concatenate([red, blue])))  # (2, 32, 32, 1)
    assert maps.shape == (2, 32, 32, 1)
    assert maps[:, 8:16, 8:16].min() > 0.99 and maps[:, :8].max() < 1e-3
    np.testing.assert_allclose(maps[0], maps[1], atol=1e-3)  # colour-blind
    config = _tiny_config("model.encoder=factored")
    encoder = build_encoder(config.model, 32)
    grid = np.asarray(encoder(np.concatenate([red, blue])))  # (2, h, w, 32 + C)
    side = 32 // 2 ** len(config.model.cnn_filters)
    assert grid.shape == (2, side, side, 32 + config.model.cnn_filters[-1])
    # The form features do not see the colour; the colour features do.
    np.testing.assert_allclose(grid[0, ..., 32:], grid[1, ..., 32:], atol=1e-3)
    assert not np.allclose(grid[0, ..., :32], grid[1, ..., :32], atol=1e-3)


def test_backbone_weights_come_from_a_local_file(tmp_path, monkeypatch):
    from apps.captioning.config import ModelConfig
    from apps.captioning.model import BACKBONE_LAYER, build_encoder

    def no_download(*args, **kwargs):
        raise AssertionError("nothing may be downloaded")

    monkeypatch.setattr(keras.utils, "get_file", no_download)
    source = keras.applications.MobileNetV2(
        input_shape=(32, 32, 3), include_top=False, weights=None
    )
    path = tmp_path / "mobilenet.weights.h5"
    source.save_weights(path)
    encoder = build_encoder(ModelConfig(encoder="mobilenet_v2", backbone_weights=str(path)), 32)
    image = np.random.default_rng(0).random((1, 32, 32, 3)).astype("float32")
    cut = keras.Model(source.input, source.get_layer(BACKBONE_LAYER).output)
    np.testing.assert_allclose(encoder(image), cut(image * 2.0 - 1.0), atol=1e-5)
    assert encoder.output.shape == (None, 2, 2, 576) and not encoder.trainable_weights
    (tmp_path / "wrong.weights.h5").write_bytes(b"not weights")
    with pytest.raises(ValueError, match="does not hold MobileNetV2"):
        build_encoder(
            ModelConfig(
                encoder="mobilenet_v2", backbone_weights=str(tmp_path / "wrong.weights.h5")
            ),
            32,
        )


# -- every verb ----------------------------------------------------------------


def test_every_verb_on_tiny_scenes(home, model_server):
    from apps.captioning import pipeline, serving
    from seqlib.export.testing import run_isolated

    result = _invoke("prepare", *TINY)
    assert result.exit_code == 0, result.output
    assert "training captions with at most 12 tokens: 41 of 64" in result.output
    assert "TFDS: not built" in result.output

    result = _invoke("train", *TINY)
    assert result.exit_code == 0, result.output
    run = home / "runs" / "captioning" / "cpu-small"
    history = (run / "history.csv").read_text().splitlines()
    assert len(history) == 3 and "val_loss" in history[0] and "val_cross_entropy" in history[0]
    vocabulary = json.loads((run / "vocabulary.json").read_text())
    assert len(vocabulary["tokens"]) == 4 + 16  # the specials and the scenes' 16 words

    result = _invoke("evaluate")
    assert result.exit_code == 0, result.output
    name = "colour + form CNN + GRU, doubly stochastic 1, word dropout 0.5, factored output"
    for row in ("| most frequent training caption | - |", f"| {name} | greedy |"):
        assert row in result.output
    assert f"| {name} | beam 3 |" in result.output
    report = home / "reports" / "captioning"
    for file in ("report.md", "metrics.json", "training_curves.png", "attention-1.png"):
        assert (report / file).is_file(), file
    assert (report / "samples" / "1.png").is_file()
    metrics = json.loads((report / "metrics.json").read_text())
    assert metrics["test_images"] == 16 and metrics["scenes"]
    for system in metrics["systems"]:
        assert all(0.0 <= system[f"bleu{n}"] <= 1.0 for n in (1, 2, 3, 4))
        assert 0.0 <= system["exact_match"] <= 1.0
    text = (report / "report.md").read_text()
    assert "BLEU-4" in text and "Exact match by the number of shapes" in text

    test_dir = home / "data" / "captioning" / "scenes-32" / "test"
    pngs = [test_dir / "000000.png", test_dir / "000001.png"]
    jpeg = home / "scene.jpg"
    Image.open(pngs[0]).save(jpeg, "JPEG", quality=90)
    shown = home / "attention"
    result = _invoke("caption", *pngs, jpeg, "--greedy", "--show-attention", shown)
    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == 3  # one caption per image
    for stem in ("000000", "000001", "scene"):
        assert (shown / f"{stem}.png").stat().st_size > 1000

    result = _invoke("export")
    assert result.exit_code == 0, result.output
    export_dir = home / "models" / "captioning" / "1"
    assert (export_dir / "saved_model.pb").is_file()
    assert "captioning" in (home / "models" / "models.config").read_text()

    # The export captions as the run does, in a process that cannot import the project.
    captioner = pipeline.find_captioner(None, run, home / "models")
    images = [pngs[0].read_bytes(), jpeg.read_bytes(), pngs[1].read_bytes()]
    expected, expected_ids, expected_scores = serving.caption_images(captioner, images)
    served = run_isolated(export_dir, {"image": np.array(images, dtype=object)})
    assert [t.decode("utf-8") for t in served["caption"]] == expected
    np.testing.assert_array_equal(served["ids"], np.stack(expected_ids))
    np.testing.assert_allclose(served["score"], expected_scores, rtol=1e-4, atol=1e-5)
    # Greedy search and attention of the loaded export, as in-process.
    loaded = pipeline.find_captioner(str(export_dir), run, home / "models")
    assert (
        serving.caption_images(loaded, images, greedy=True)[0]
        == (serving.caption_images(captioner, images, greedy=True)[0])
    )
    weights, tokens, grid = serving.attention_of(loaded, images[1], expected_ids[1])
    want = serving.attention_of(captioner, images[1], expected_ids[1])
    np.testing.assert_allclose(weights, want[0], atol=1e-5)
    assert tokens == want[1] and grid == (8, 8) and weights.shape[1] == 64
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-5)
    # The export through the command line, and the beam it cannot change.
    result = _invoke("caption", "--model", export_dir, pngs[0])
    assert result.exit_code == 0 and result.output.strip() == expected[0]
    result = _invoke("caption", "--model", export_dir, "--beam", "2", pngs[0])
    assert result.exit_code == 1 and "is an export" in result.output
    # Through TF Serving's REST API (images as base64): the same captions and attention.
    url = model_server(home / "models")
    result = _invoke("caption", "--server", url, pngs[0], jpeg, pngs[1])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == expected
    remote = pipeline.find_captioner(None, run, home / "models", server=url)
    assert (
        serving.caption_images(remote, images, greedy=True)[0]
        == (serving.caption_images(loaded, images, greedy=True)[0])
    )
    got = serving.attention_of(remote, images[1], expected_ids[1])
    np.testing.assert_array_equal(
        got[0], serving.attention_of(loaded, images[1], expected_ids[1])[0]
    )


def test_seeds_trains_each_seed_once_and_tables_the_spread(home):
    """`seeds` on validation, with the factored output: one run per seed, reused by a
    second call, and the table of each seed, the mean and the spread."""
    args = ("seeds", "--seed", "1", "--seed", "2", "--split", "validation", *TINY)
    args += ("--set", "train.epochs=1", "--set", "model.factored_output=true")
    result = _invoke(*args)
    assert result.exit_code == 0, result.output
    runs = home / "runs" / "captioning" / "seeds"
    histories = [(runs / f"seed-{s}" / "history.csv").read_text() for s in (1, 2)]
    assert all(len(h.splitlines()) == 2 for h in histories)
    assert json.loads((runs / "seed-1" / "config.json").read_text())["app"]["train"]["seed"] == 1
    report = home / "reports" / "captioning" / "seeds"
    text = (report / "report.md").read_text()
    for row in ("| seed 1 |", "| seed 2 |", "| **mean** |", "| sd |", "| range |"):
        assert row in text, row
    assert "held-out pairs named (beam)" in text and "validation split (16 images" in text
    metrics = json.loads((report / "seed-2" / "metrics.json").read_text())
    assert metrics["split"] == "validation" and metrics["test_images"] == 16
    # Finished runs are reused: nothing is trained again.
    result = _invoke(*args)
    assert result.exit_code == 0, result.output
    assert [(runs / f"seed-{s}" / "history.csv").read_text() for s in (1, 2)] == histories


def test_prepare_builds_tfds_only_for_the_builders_scenes(home, monkeypatch):
    import datasets.scene_captions as scene_captions

    built = []

    class Built:
        data_dir = "tfds-dir"

    monkeypatch.setattr(scene_captions, "build_tfds", lambda: built.append(1) or Built())
    monkeypatch.setattr(scene_captions.Builder, "IMAGE_SIZE", 32)
    monkeypatch.setattr(
        scene_captions.Builder, "SPLIT_SIZES", {"train": 64, "validation": 16, "test": 16}
    )
    result = _invoke("prepare", *TINY)
    assert result.exit_code == 0, result.output
    assert "TFDS: scene_captions 2.0.0 in tfds-dir" in result.output and built == [1]
    result = _invoke("prepare", *TINY, "--set", "data.scenes=64,16,17")
    assert result.exit_code == 0 and "TFDS: not built" in result.output and built == [1]


def _flickr_folder(root, images=24):
    """A folder in Flickr8k's (Kaggle) layout: JPEGs of 48 px scenes, two
    captions each, capitalised and with a full stop."""
    from datasets.scenes import generate_scenes

    (root / "Images").mkdir(parents=True)
    lines = ["image,caption"]
    for i, scene in enumerate(generate_scenes(images, seed=7)):
        name = f"{1000 + i}_photo.jpg"
        Image.fromarray(scene.image(48)).save(root / "Images" / name, "JPEG", quality=90)
        lines.append(f"{name},{scene.caption.capitalize()} .")
        lines.append(f'{name},"There is {scene.caption}, in a picture."')
    (root / "captions.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def test_a_flickr8k_folder_trains_through_data(home):
    from apps.captioning import pipeline

    folder = _flickr_folder(home / "flickr")
    with open(folder / "captions.txt", "a", encoding="utf-8") as f:
        f.write("9999_missing.jpg,A caption of no image .\n")
    args = (
        "train", "--data", folder, *TINY, "--set", "train.epochs=1", "--set",
        "train.batch_size=8", "--run-dir", home / "flickr-run",
    )  # fmt: skip
    result = _invoke(*args)
    assert result.exit_code == 1 and "9999_missing.jpg" in result.output
    assert not (home / "flickr-run").exists()
    result = _invoke("prepare", "--data", folder, "--skip-bad", *TINY)
    assert result.exit_code == 0 and "9999_missing.jpg" in result.output
    result = _invoke(*args, "--skip-bad")
    assert result.exit_code == 0, result.output
    run = pipeline.Run(home / "flickr-run")
    record = run.data()
    longest = record.pop("longest_caption")
    assert record == {"data": str(folder.resolve()), "skip_bad": True}
    # Captions stop at the longest training caption's length (below decode.max_length).
    assert 1 <= longest < 20 and run.captioner().steps == longest + 1
    assert len((run.path / "history.csv").read_text().splitlines()) == 2
    tokens = run.vocabulary().tokens
    assert {"there", "is", ",", "."} <= set(tokens) and "There" not in tokens
    image = next((folder / "Images").iterdir())
    result = _invoke("caption", "--model", run.path, "--greedy", image)
    assert result.exit_code == 0 and len(result.output.splitlines()) == 1


@pytest.mark.parametrize(
    "args,message",
    [
        (["caption", "scene.png"], "No trained model"),
        (["evaluate"], "No trained model"),
        (["caption"], "Give image files"),
        (["caption", "--greedy", "--beam", "2", "scene.png"], "contradict"),
        (["caption", "scene.png", "broken.png"], "broken.png: not a readable image"),
        (["train", "--set", "model.cell=rnn"], "cell"),
        (["train", "--set", "data.image_size=36"], "divisible by 8"),
        (["train", "--set", "model.encoder=mobilenet_v2"], "backbone_weights"),
        (
            [
                "train",
                "--set",
                "model.encoder=mobilenet_v2",
                "--set",
                "model.backbone_weights=missing.h5",
            ],
            "no such file missing.h5",
        ),  # fmt: skip
        (["train", "--data", "missing"], "missing: no such folder"),
        (["train", *TINY, "--set", "train.batch_size=512"], "batch"),
    ],
)
def test_user_mistakes_are_one_line_errors(home, args, message, monkeypatch):
    monkeypatch.chdir(home)
    (home / "scene.png").write_bytes(_encoded(_scene_pixels(32), "PNG"))
    (home / "broken.png").write_bytes(_encoded(_scene_pixels(32), "PNG")[:200])
    result = _invoke(*args)
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output
    assert len([line for line in result.output.splitlines() if line.strip()]) <= 3
    # A mistake leaves no half-made run behind.
    assert not (home / "runs" / "captioning" / "cpu-small" / "checkpoints").exists()


def test_an_image_with_no_figure_is_captioned_no_shapes_found(tmp_path):
    """A plain colour has nothing on its background: the factored encoder's
    figure-ground map says so, and the caption says it instead of a decode of
    shapes that are not there. A scene is decoded as usual."""
    from apps.captioning.config import PRESETS, DecodeConfig
    from apps.captioning.model import build_model, build_variables, grid_size
    from apps.captioning.serving import Captioner, caption_images
    from apps.common.text import TARGET_SPECIALS, Vocabulary
    from datasets.scenes import Scene, SceneObject, draw
    from seqlib.training import from_overrides

    config = from_overrides(PRESETS["cpu-small"], [TINY[i + 1] for i in range(0, len(TINY), 2)])
    vocabulary = Vocabulary([*TARGET_SPECIALS, "a", "red", "circle"], len(TARGET_SPECIALS))
    model = build_variables(build_model(config, vocabulary.size), 32)
    captioner = Captioner(model, vocabulary, 32, grid_size(config), DecodeConfig(max_length=4))

    def png(pixels):
        out = io.BytesIO()
        Image.fromarray(pixels).save(out, "PNG")
        return out.getvalue()

    plain = [png(np.full((32, 32, 3), colour, np.uint8)) for colour in (0, 128, (215, 35, 35))]
    scene = png(draw(Scene.of([SceneObject("circle", "red", "small", 0.5, 0.5)]), 32))
    texts, _, _ = caption_images(captioner, [*plain, scene])
    assert texts[:3] == ["no shapes found"] * 3
    assert texts[3] != "no shapes found"
    # The plain CNN has no figure-ground map: it decodes whatever it is given.
    cnn = from_overrides(config, ["model.encoder=cnn"])
    model = build_variables(build_model(cnn, vocabulary.size), 32)
    captioner = Captioner(model, vocabulary, 32, grid_size(cnn), DecodeConfig(max_length=4))
    assert "no shapes found" not in caption_images(captioner, plain)[0]


def test_decode_guards_reach_the_captioner():
    """`decode.no_repeat_ngram_size` and `decode.repetition_penalty` go to seqlib's
    decoders: a tiny untrained model that repeats itself stops repeating."""
    from apps.captioning.config import PRESETS, DecodeConfig
    from apps.captioning.model import build_model, build_variables, grid_size
    from apps.captioning.serving import Captioner, caption_images
    from apps.common.text import TARGET_SPECIALS, Vocabulary
    from datasets.scenes import Scene, SceneObject, draw
    from seqlib.training import from_overrides

    config = from_overrides(PRESETS["cpu-small"], [TINY[i + 1] for i in range(0, len(TINY), 2)])
    words = ["a", "red", "circle", "small", "blue"]
    vocabulary = Vocabulary([*TARGET_SPECIALS, *words], len(TARGET_SPECIALS))
    keras.utils.set_random_seed(3)
    model = build_variables(build_model(config, vocabulary.size), 32)
    out = io.BytesIO()
    Image.fromarray(draw(Scene.of([SceneObject("circle", "red", "small", 0.5, 0.5)]), 32)).save(
        out, "PNG"
    )
    image = [out.getvalue()]
    for guard in ({"no_repeat_ngram_size": 1}, {"repetition_penalty": 1e6}):
        decode = DecodeConfig(max_length=5, beam_width=1, **guard)
        captioner = Captioner(model, vocabulary, 32, grid_size(config), decode)
        assert captioner.generate_options() == guard
        for greedy in (True, False):
            caption = caption_images(captioner, image, greedy=greedy)[0][0].split()
            assert len(caption) == len(set(caption)), (guard, caption)
    with pytest.raises(ValueError, match="no_repeat_ngram_size >= 0"):
        DecodeConfig(no_repeat_ngram_size=-1)
