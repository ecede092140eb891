"""datasets.scenes: the caption grammar read back, held-out pairs, the geometry and colours
of the pictures, and the written files."""

import itertools
import json
import os
import re

import numpy as np
import pytest
from PIL import Image

from datasets import scenes
from datasets.scenes import (
    COLOURS,
    HELD_OUT,
    RGB,
    SHAPES,
    SIZES,
    VALIDATION_HELD_OUT,
    VOCABULARY,
    Scene,
    SceneObject,
    caption_of,
    draw,
    generate_scenes,
    load_scenes,
    main,
    read_scenes,
    scene_splits,
    write_scenes,
)

SMALL = {"train": 6, "validation": 2, "test": 2}


@pytest.fixture(scope="module")
def splits():
    """The default splits (no pictures drawn: about 1.5 s)."""
    return scene_splits()


def parse(caption):
    """`(relation, [(size, colour, shape), ...])` from a caption, or AssertionError."""
    relation = "above" if " above " in caption else "left of" if " left of " in caption else None
    phrases = caption.split(f" {relation} ") if relation else [caption]
    assert 1 <= len(phrases) <= 3
    named = []
    for phrase in phrases:
        words = phrase.split()
        assert len(words) == 4 and words[0] == "a", phrase
        assert words[1] in SIZES and words[2] in COLOURS and words[3] in SHAPES, phrase
        named.append(tuple(words[1:]))
    return relation, named


def box(obj):
    r = scenes.RADIUS[obj.size]
    return obj.x - r, obj.y - r, obj.x + r, obj.y + r


def pairs_of(scene):
    return {(o.colour, o.shape) for o in scene.objects}


# ---------------------------------------------------------------------------
# Captions


def test_constants():
    assert len(SHAPES) == 4 and len(COLOURS) == 6 and SIZES == ("small", "large")
    assert len(HELD_OUT) == 5 and len(set(HELD_OUT)) == 5
    assert len(VALIDATION_HELD_OUT) == 4 and not set(HELD_OUT) & set(VALIDATION_HELD_OUT)
    # Every colour stays in train in two other pairs, every shape in three.
    allowed = set(itertools.product(COLOURS, SHAPES)) - set(HELD_OUT) - set(VALIDATION_HELD_OUT)
    assert min(sum(c == colour for c, _ in allowed) for colour in COLOURS) == 2
    assert min(sum(s == shape for _, s in allowed) for shape in SHAPES) == 3
    assert len(VOCABULARY) == len(set(VOCABULARY)) == 16
    assert scenes.RADIUS["large"] / scenes.RADIUS["small"] >= 1.8
    # Colours well apart in RGB.
    for a, b in itertools.combinations(COLOURS, 2):
        assert np.linalg.norm(np.subtract(RGB[a], RGB[b])) > 90, (a, b)


def test_caption_of_names_shapes_in_order():
    red = SceneObject("circle", "red", "small", 0.2, 0.5)
    blue = SceneObject("square", "blue", "large", 0.7, 0.52)
    assert caption_of([red]) == "a small red circle"
    assert caption_of([blue, red]) == "a small red circle left of a large blue square"
    up = SceneObject("diamond", "green", "large", 0.5, 0.2)
    down = SceneObject("triangle", "yellow", "small", 0.47, 0.8)
    mid = SceneObject("circle", "purple", "small", 0.53, 0.5)
    assert caption_of([down, up, mid]) == (
        "a large green diamond above a small purple circle above a small yellow triangle"
    )
    scene = Scene.of([down, up, mid])
    assert scene.objects == (up, mid, down)
    assert Scene((down, up, mid), scene.caption).caption == scene.caption


def test_caption_of_refuses_what_it_cannot_name():
    a = SceneObject("circle", "red", "small", 0.2, 0.2)
    with pytest.raises(ValueError, match="neither a clear row nor a clear column"):
        caption_of([a, SceneObject("circle", "red", "small", 0.6, 0.5)])  # a diagonal
    with pytest.raises(ValueError, match="neither a clear row"):
        caption_of([a, SceneObject("circle", "red", "small", 0.2, 0.2)])  # one on the other
    with pytest.raises(ValueError, match="unknown colour 'pink'"):
        caption_of([SceneObject("circle", "pink", "small", 0.2, 0.2)])
    with pytest.raises(ValueError, match="at least one shape"):
        caption_of([])
    with pytest.raises(ValueError, match="does not match the shapes"):
        Scene((a,), "a large red circle")


def test_generation_is_fixed_by_the_seed():
    first = generate_scenes(200, seed=7)
    assert first == generate_scenes(200, seed=7)
    assert first != generate_scenes(200, seed=8)
    assert np.array_equal(draw(first[0]), draw(first[0]))
    assert np.array_equal(first[1].image(32), draw(first[1], 32))
    counts = np.bincount([len(s.objects) for s in first])
    assert counts[0] == 0 and min(counts[1:]) > 40
    assert {len(s.objects) for s in generate_scenes(50, 1, max_objects=1)} == {1}
    with pytest.raises(ValueError, match="held_out='some'"):
        generate_scenes(3, 1, held_out="some")
    with pytest.raises(ValueError, match="max_objects=4"):
        generate_scenes(3, 1, max_objects=4)


def test_captions_parse_back_to_the_shapes(splits):
    for scene in itertools.chain(*splits.values()):
        relation, named = parse(scene.caption)
        assert named == [(o.size, o.colour, o.shape) for o in scene.objects]
        xs, ys = [o.x for o in scene.objects], [o.y for o in scene.objects]
        if relation == "left of":  # a row, left to right
            assert np.all(np.diff(xs) >= 0.2) and np.ptp(ys) <= 2 * scenes.OFFSET + 1e-9
        elif relation == "above":  # a column, top to bottom
            assert np.all(np.diff(ys) >= 0.2) and np.ptp(xs) <= 2 * scenes.OFFSET + 1e-9
        else:
            assert len(scene.objects) == 1
    relations = {parse(s.caption)[0] for s in splits["train"]}
    assert relations == {None, "left of", "above"}


# ---------------------------------------------------------------------------
# Held-out pairs


def test_held_out_pairs_only_in_validation_and_test(splits):
    assert {name: len(v) for name, v in splits.items()} == scenes.SPLIT_SIZES
    held, own = set(HELD_OUT), set(VALIDATION_HELD_OUT)
    train_pairs = set().union(*map(pairs_of, splits["train"]))
    assert not train_pairs & (held | own)
    assert train_pairs == set(itertools.product(COLOURS, SHAPES)) - held - own
    # Test: a test pair in every scene; validation: one of its own, never a test pair.
    assert all(pairs_of(scene) & held for scene in splits["test"])
    assert set().union(*map(pairs_of, splits["test"])) >= held
    assert all(pairs_of(scene) & own for scene in splits["validation"])
    validation_pairs = set().union(*map(pairs_of, splits["validation"]))
    assert validation_pairs >= own and not validation_pairs & held
    assert scenes.missing_words(splits["train"]) == []
    # Validation and test are drawn with different seeds.
    assert not {s.objects for s in splits["validation"]} & {s.objects for s in splits["test"]}


# ---------------------------------------------------------------------------
# Geometry and pixels


def test_shapes_stay_apart_and_inside(splits):
    gap = scenes.GAP - 1e-9
    for scene in splits["train"][:3000] + splits["test"]:
        boxes = [box(o) for o in scene.objects]
        for left, top, right, bottom in boxes:
            assert left >= scenes.MARGIN - 1e-9 and top >= scenes.MARGIN - 1e-9
            assert right <= 1 - scenes.MARGIN + 1e-9 and bottom <= 1 - scenes.MARGIN + 1e-9
        for a, b in itertools.combinations(boxes, 2):
            apart_x = max(b[0] - a[2], a[0] - b[2])
            apart_y = max(b[1] - a[3], a[1] - b[3])
            assert max(apart_x, apart_y) >= gap, scene.caption


@pytest.mark.parametrize("size", [64, 96])
def test_each_shape_has_its_colour_at_its_centre(splits, size):
    for scene in splits["train"][:150] + splits["test"][:50]:
        pixels = draw(scene, size).astype(int)
        assert pixels.shape == (size, size, 3)
        for obj in scene.objects:
            row, col = int(obj.y * size), int(obj.x * size)
            assert np.abs(pixels[row, col] - RGB[obj.colour]).max() <= 16, (scene, obj)


def test_background_shows_at_the_border_and_no_shape_leaks(splits):
    for scene in splits["train"][:100]:
        pixels = draw(scene, 64).astype(int)
        border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
        # A light, nearly grey background: no shape colour reaches the edge.
        assert border.min() >= 170 and np.ptp(border.mean(axis=0)) <= 2 * scenes.TINT + 6
        # The area of each shape's colour is about the shape's area.
        for obj in scene.objects:
            near = np.abs(pixels - RGB[obj.colour]).max(axis=2) <= 16
            area = sum(
                4.2 * (scenes.RADIUS[o.size] * 64) ** 2
                for o in scene.objects
                if o.colour == obj.colour
            )
            assert near.sum() <= area


# ---------------------------------------------------------------------------
# Files


def test_write_scenes_writes_pngs_and_reuses_them(data_root):
    directory = write_scenes(**SMALL)
    assert directory == data_root / "captioning" / "scenes-64"
    settings = json.loads((directory / "settings.json").read_text())
    assert settings["generator"] == scenes.GENERATOR_VERSION
    assert {k: settings[k] for k in SMALL} == SMALL and settings["seed"] == 1234
    read = read_scenes(directory)
    expected = scene_splits(**SMALL)
    for name, items in read.items():
        assert [scene for _, scene in items] == expected[name]
        for path, scene in items:
            assert path.is_absolute() and path.parent.name == name
            assert np.array_equal(np.asarray(Image.open(path)), draw(scene))
    stamp = {p: p.stat().st_mtime_ns for p in directory.rglob("*")}
    assert write_scenes(**SMALL) == directory
    assert {p: p.stat().st_mtime_ns for p in directory.rglob("*")} == stamp
    assert [p.name for p in directory.parent.iterdir()] == ["scenes-64"]

    # A missing image or other settings: written again.
    os.remove(read["test"][0][0])
    write_scenes(**SMALL)
    assert read["test"][0][0].is_file()
    write_scenes(**{**SMALL, "test": 3})
    assert len(read_scenes(directory)["test"]) == 3
    assert [p.name for p in directory.parent.iterdir()] == ["scenes-64"]
    assert write_scenes(image_size=32, **SMALL).name == "scenes-32"
    assert Image.open(directory.parent / "scenes-32" / "train" / "000000.png").size == (32, 32)


def test_write_scenes_is_atomic(data_root, monkeypatch):
    directory = write_scenes(**SMALL)
    before = sorted(p.relative_to(directory) for p in directory.rglob("*"))

    def fail_halfway(tmp, settings):
        (tmp / "train").mkdir()
        (tmp / "train" / "000000.png").write_bytes(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(scenes, "_write_files", fail_halfway)
    with pytest.raises(OSError, match="disk full"):
        write_scenes(**{**SMALL, "train": 7})
    # The old set is whole and nothing is left beside it.
    assert sorted(p.relative_to(directory) for p in directory.rglob("*")) == before
    assert [p.name for p in directory.parent.iterdir()] == ["scenes-64"]
    assert len(read_scenes(directory)["train"]) == 6


def test_settings_are_checked(data_root):
    with pytest.raises(TypeError, match="unknown settings colours"):
        write_scenes(colours=3)
    with pytest.raises(ValueError, match="image_size=8"):
        write_scenes(image_size=8)
    with pytest.raises(ValueError, match="each must be at least 1"):
        write_scenes(train=0)


def test_read_scenes_names_a_broken_file(data_root):
    directory = write_scenes(**SMALL)
    (directory / "captions.json").write_text('{"format": 1, "train": [')
    with pytest.raises(scenes.DataError, match=r"captions.json cannot be read back .*delete "):
        read_scenes(directory)


def test_load_scenes(data_root):
    data = load_scenes(**SMALL)
    assert {name: c["images"] for name, c in data.counts().items()} == SMALL
    assert all(len(e.captions) == 1 and e.image.is_file() for e in data.train)
    assert data.split_path is None
    assert "generated scenes" in data.source and "10 images of 64x64" in data.source
    assert any("one in every test scene: red triangle" in note for note in data.notes)
    assert any("one in every validation scene: red circle" in note for note in data.notes)
    tiny = load_scenes(train=1, validation=1, test=1)
    assert any(note.startswith("words no train caption uses:") for note in tiny.notes)


def test_main_writes_and_describes(data_root, capsys):
    assert main(["--train", "4", "--validation", "2", "--test", "2", "--image-size", "32"]) == 0
    out = capsys.readouterr().out
    assert "split         images  captions      words  words/caption" in out
    assert re.search(r"^all +8 +8 ", out, re.MULTILINE)
    assert (data_root / "captioning" / "scenes-32" / "captions.json").is_file()
    assert main(["--image-size", "8"]) == 2
    assert capsys.readouterr().err.startswith("error: image_size=8")
