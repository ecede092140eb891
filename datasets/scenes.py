"""Generated scenes of coloured shapes with one exact caption each: the captioning app's default data.

No real photo-and-caption set can be fetched here, so the default data is
drawn: images with one to three shapes and a caption that says what is in
them. The captioning model is scored by BLEU-4 on a test set of colour-shape
combinations never seen in training, so the data is built for that:

- the caption is a function of the image: every shape is named in full, by a
  fixed grammar, and the scene's layout decides the order. A model that sees
  the image perfectly can reach BLEU 1.0;
- five colour-shape pairs (`HELD_OUT`: red triangle, green circle, blue
  diamond, purple square, orange triangle) never appear in train nor in
  validation; every test scene holds at least one of them. Four others
  (`VALIDATION_HELD_OUT`: red circle, green triangle, blue square, yellow
  diamond) never appear in train nor in test's required slot; every
  validation scene holds at least one of them. Every colour, shape, size and
  word still appears in train, in the 15 other pairs (each colour in at least
  two, each shape in at least three).

The grammar. A shape is named `a <size> <colour> <shape>`:

```
size    small | large
colour  red | green | blue | yellow | purple | orange
shape   circle | square | triangle | diamond
```

One shape: `a large red circle`. Two or three shapes stand either in a row
(side by side) or in a column (one above the other), and are named in order,
left to right or top to bottom, joined by `left of` or `above`:

```
a small red circle left of a large blue square
a small red circle above a large blue square above a small green diamond
```

So the sixteen words are `a`, the 2 sizes, 6 colours, 4 shapes, `above`,
`left` and `of`; there is no punctuation and no capital. `caption_of` names
any row or column of shapes; it refuses shapes that are neither (see there).

The pictures. Coordinates are fractions of the image side, `x` to the right
and `y` downward from the top-left corner (image rows), each shape's centre
in [0, 1]. Each shape fits a square box of half-side `RADIUS[size]` (0.07
small, 0.13 large: large is 1.86 times small, 3.4 times the area): a circle
of that radius, an upright square of 0.85 of it, an upward triangle as wide
and as tall as the box, a diamond touching the box's side midpoints. Boxes
keep `MARGIN` (0.03) from the border; in a row or column consecutive boxes
are at least `GAP` (0.06) apart along it, and each shape sits at most
`OFFSET` (0.04) off the row's (column's) line. So the distance between
neighbours along a row is at least 0.2 while the spread across it is at most
0.08: whether the scene is a row or a column, and in which order, reads off
the image. Shapes never overlap or touch the border; the free space is
shared out at random, so positions vary from image to image. The
background is a light grey with a faint random tint, and every pixel gets a
little Gaussian noise (sigma 3 of 255); colours are flat, well apart in RGB
(`RGB`). Shapes are drawn at 4 times the size and scaled down, so edges are
smooth. The noise is seeded from the scene itself, so `draw(scene)` always
gives the same pixels.

The splits (`scene_splits`), 8,000 / 500 / 1,000 scenes by default:

- train: `generate_scenes(train, seed, held_out="exclude")`, no held-out pair
  of either kind;
- validation: `generate_scenes(validation, seed + 1, held_out="validation")`;
- test: `generate_scenes(test, seed + 2, held_out="require")`.

Validation is drawn like test, with another seed and its own held-out pairs:
model selection (early stopping, checkpoints, every choice made on
validation) is measured on compositions never seen in training, and never
sees a test pair. In a test scene one shape (chosen at random) takes a pair
of `HELD_OUT`, the others any of the 24 pairs; in a validation scene one
takes a pair of `VALIDATION_HELD_OUT`, the others any pair but `HELD_OUT`'s. The number of shapes is 1, 2 or 3 with equal
chances, a row or a column likewise, and sizes are drawn independently.

`write_scenes` writes the images as PNG files with `captions.json` under
`<root>/captioning/scenes-<image size>/`, through a temporary folder and a
rename, so a reader sees the whole set or none. `settings.json` holds the
generator's version and settings; a folder that matches them is reused, one
that does not is replaced. `load_scenes` returns the paths and captions as a
`datasets.caption_data.CaptionData`, building the files on first use.

The data root is `$SEQLIB_DATA` when set, else `<repo>/data` (git-ignored).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from datasets.caption_data import CaptionData, CaptionExample
from datasets.fetch import DataError, data_root
from datasets.saved_split import SPLITS, write_atomic
from datasets.splits import ROOT_HELP, run_main

__all__ = [
    "COLOURS",
    "DataError",
    "HELD_OUT",
    "UNSEEN",
    "VALIDATION_HELD_OUT",
    "RGB",
    "SHAPES",
    "SIZES",
    "VOCABULARY",
    "Scene",
    "SceneObject",
    "caption_of",
    "data_root",
    "draw",
    "generate_scenes",
    "load_scenes",
    "missing_words",
    "read_scenes",
    "scene_splits",
    "scenes_dir",
    "write_scenes",
]

logger = logging.getLogger(__name__)

SHAPES = ("circle", "square", "triangle", "diamond")
COLOURS = ("red", "green", "blue", "yellow", "purple", "orange")
SIZES = ("small", "large")
# (colour, shape) pairs never in train, required in every test scene and never
# in a validation scene.
HELD_OUT = (
    ("red", "triangle"),
    ("green", "circle"),
    ("blue", "diamond"),
    ("purple", "square"),
    ("orange", "triangle"),
)
# Pairs never in train, required in every validation scene: model selection's
# own unseen compositions. Every colour and shape is still in train in others.
VALIDATION_HELD_OUT = (
    ("red", "circle"),
    ("green", "triangle"),
    ("blue", "square"),
    ("yellow", "diamond"),
)
UNSEEN = HELD_OUT + VALIDATION_HELD_OUT  # every pair that training never shows
RELATIONS = {"row": "left of", "column": "above"}
VOCABULARY = ("a", *SIZES, *COLOURS, *SHAPES, "above", "left", "of")

RGB = {
    "red": (215, 35, 35),
    "green": (40, 165, 60),
    "blue": (40, 80, 220),
    "yellow": (240, 220, 40),
    "purple": (140, 50, 180),
    "orange": (245, 130, 25),
}
# Half-side of the square box each shape fits, as a fraction of the image side.
RADIUS = {"small": 0.07, "large": 0.13}
SQUARE = 0.85  # a square's half-side, as a fraction of its box's
MARGIN = 0.03
GAP = 0.06
OFFSET = 0.04
NOISE = 3.0
BACKGROUND = (205.0, 240.0)  # the grey level's range
TINT = 10.0  # each channel's offset from the grey, at most
SUPERSAMPLE = 4

# Bump when the pictures or the scenes drawn for a seed change: written sets are then rebuilt.
GENERATOR_VERSION = 2
FILES_FORMAT = 1
SPLIT_SEED = 1234
SPLIT_SIZES = {"train": 8000, "validation": 500, "test": 1000}
MAX_OBJECTS = 3

_PAIRS = tuple((c, s) for c in COLOURS for s in SHAPES)
_ALLOWED = tuple(p for p in _PAIRS if p not in frozenset(UNSEEN))
_NOT_TEST = tuple(p for p in _PAIRS if p not in frozenset(HELD_OUT))


@dataclasses.dataclass(frozen=True)
class SceneObject:
    """One shape in a scene.

    Args:
        shape: one of `SHAPES`.
        colour: one of `COLOURS`.
        size: one of `SIZES`.
        x: the centre's distance from the left edge, a fraction of the width.
        y: the centre's distance from the top edge, a fraction of the height.
    """

    shape: str
    colour: str
    size: str
    x: float
    y: float

    def phrase(self) -> str:
        """`a <size> <colour> <shape>`."""
        return f"a {self.size} {self.colour} {self.shape}"


@dataclasses.dataclass(frozen=True)
class Scene:
    """Shapes and their caption; the caption must be `caption_of(objects)`.

    Args:
        objects: the shapes; `Scene.of` puts them in the caption's order.
        caption: the caption; `Scene.of(objects)` fills it in.
    """

    objects: tuple[SceneObject, ...]
    caption: str

    def __post_init__(self):
        object.__setattr__(self, "objects", tuple(self.objects))
        expected = caption_of(self.objects)
        if self.caption != expected:
            raise ValueError(f"caption {self.caption!r} does not match the shapes: {expected!r}")

    @classmethod
    def of(cls, objects: Iterable[SceneObject]) -> Scene:
        """The scene of `objects`, ordered as the caption names them."""
        objects = _in_caption_order(tuple(objects))
        return cls(objects, caption_of(objects))

    def image(self, size: int = 64) -> np.ndarray:
        """`draw(self, size)`: `(size, size, 3)` uint8."""
        return draw(self, size)


# ---------------------------------------------------------------------------
# Captions


def _check_object(obj: SceneObject) -> None:
    for value, allowed, what in (
        (obj.shape, SHAPES, "shape"),
        (obj.colour, COLOURS, "colour"),
        (obj.size, SIZES, "size"),
    ):
        if value not in allowed:
            raise ValueError(f"unknown {what} {value!r}; expected one of {', '.join(allowed)}")


def _layout(objects: Sequence[SceneObject]) -> str:
    """`"row"` or `"column"` for 2 or more shapes; raises ValueError when neither is clear."""
    xs = [o.x for o in objects]
    ys = [o.y for o in objects]
    layout, along, across = ("row", xs, ys) if np.ptp(xs) >= np.ptp(ys) else ("column", ys, xs)
    steps = np.diff(sorted(along))
    if steps.min() < 2 * np.ptp(across) or steps.min() == 0:
        raise ValueError(
            "the shapes are neither a clear row nor a clear column: neighbours along the "
            f"line are {steps.min():.3f} apart, the spread across it is {np.ptp(across):.3f}"
        )
    return layout


def _in_caption_order(objects: tuple[SceneObject, ...]) -> tuple[SceneObject, ...]:
    if len(objects) < 2:
        return objects
    key = (lambda o: o.x) if _layout(objects) == "row" else (lambda o: o.y)
    return tuple(sorted(objects, key=key))


def caption_of(objects: Iterable[SceneObject]) -> str:
    """The one caption of a scene (see the module's grammar), whatever the order of `objects`.

    Two or more shapes must stand in a row or a column: along the line with
    the larger spread of centres, each shape must be at least twice as far
    from its neighbour as the centres spread across the line (the generator
    keeps 0.2 or more along, 0.08 or less across).

    Raises:
        ValueError: no shape, an unknown word, or shapes neither in a row nor
            in a column.
    """
    objects = tuple(objects)
    if not objects:
        raise ValueError("a scene needs at least one shape")
    for obj in objects:
        _check_object(obj)
    if len(objects) == 1:
        return objects[0].phrase()
    relation = RELATIONS[_layout(objects)]
    return f" {relation} ".join(o.phrase() for o in _in_caption_order(objects))


# ---------------------------------------------------------------------------
# Drawing


def _noise_seed(scene: Scene) -> int:
    objects = _in_caption_order(scene.objects)
    text = ";".join(f"{o.shape},{o.colour},{o.size},{o.x!r},{o.y!r}" for o in objects)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")


def _outline(obj: SceneObject, side: float) -> tuple[str, list[tuple[float, float]]]:
    """The shape as `("ellipse", [corner, corner])` or `("polygon", points)`, in pixels."""
    x, y, r = obj.x * side, obj.y * side, RADIUS[obj.size] * side
    if obj.shape == "circle":
        return "ellipse", [(x - r, y - r), (x + r, y + r)]
    if obj.shape == "square":
        h = SQUARE * r
        return "polygon", [(x - h, y - h), (x + h, y - h), (x + h, y + h), (x - h, y + h)]
    if obj.shape == "triangle":
        return "polygon", [(x, y - r), (x + r, y + r), (x - r, y + r)]
    return "polygon", [(x, y - r), (x + r, y), (x, y + r), (x - r, y)]


def draw(scene: Scene, image_size: int = 64) -> np.ndarray:
    """The scene's picture, `(image_size, image_size, 3)` uint8.

    The same scene always gives the same pixels: the background tint and the
    noise are drawn from a seed made of the scene's shapes.
    """
    rng = np.random.default_rng(_noise_seed(scene))
    grey = rng.uniform(*BACKGROUND)
    background = tuple(int(round(grey + t)) for t in rng.uniform(-TINT, TINT, 3))
    side = image_size * SUPERSAMPLE
    picture = Image.new("RGB", (side, side), background)
    pen = ImageDraw.Draw(picture)
    for obj in scene.objects:
        kind, points = _outline(obj, side)
        # Pixel centres sit at +0.5: shift so the shape is centred on (x, y).
        points = [(px - 0.5, py - 0.5) for px, py in points]
        if kind == "ellipse":
            pen.ellipse(points, fill=RGB[obj.colour])
        else:
            pen.polygon(points, fill=RGB[obj.colour])
    pixels = np.asarray(picture.reduce(SUPERSAMPLE), dtype=np.float32)
    pixels += rng.normal(0.0, NOISE, pixels.shape).astype(np.float32)
    return np.clip(np.rint(pixels), 0, 255).astype(np.uint8)


# ---------------------------------------------------------------------------
# Generating


def _place_line(rng: np.random.Generator, radii: list[float]) -> list[tuple[float, float]]:
    """`(along, across)` centres for shapes in a line: gaps of at least `GAP`, the
    free space shared out at random, each at most `OFFSET` off a random line."""
    slack = 1.0 - 2 * MARGIN - 2 * sum(radii) - GAP * (len(radii) - 1)
    shares = rng.dirichlet(np.ones(len(radii) + 1)) * slack
    low = MARGIN + max(radii) + OFFSET
    line = rng.uniform(low, 1.0 - low)
    centres, edge = [], MARGIN
    for i, r in enumerate(radii):
        edge += shares[i] + (GAP if i else 0.0)
        centres.append((edge + r, line + rng.uniform(-OFFSET, OFFSET)))
        edge += 2 * r
    return centres


def _scene(rng: np.random.Generator, n: int, held_out: str) -> Scene:
    if held_out == "exclude":
        pairs = [_ALLOWED[i] for i in rng.integers(len(_ALLOWED), size=n)]
    elif held_out == "validation":
        pairs = [_NOT_TEST[i] for i in rng.integers(len(_NOT_TEST), size=n)]
        pairs[rng.integers(n)] = VALIDATION_HELD_OUT[rng.integers(len(VALIDATION_HELD_OUT))]
    else:
        pairs = [_PAIRS[i] for i in rng.integers(len(_PAIRS), size=n)]
        pairs[rng.integers(n)] = HELD_OUT[rng.integers(len(HELD_OUT))]
    sizes = [SIZES[i] for i in rng.integers(len(SIZES), size=n)]
    radii = [RADIUS[s] for s in sizes]
    if n == 1:
        low, high = MARGIN + radii[0], 1.0 - MARGIN - radii[0]
        centres = [(rng.uniform(low, high), rng.uniform(low, high))]
    elif rng.integers(2):
        centres = _place_line(rng, radii)  # a row: along is x
    else:
        centres = [(x, y) for y, x in _place_line(rng, radii)]  # a column: along is y
    return Scene.of(
        SceneObject(shape, colour, size, float(x), float(y))
        for (colour, shape), size, (x, y) in zip(pairs, sizes, centres)
    )


def generate_scenes(
    n: int, seed: int, held_out: str = "exclude", max_objects: int = MAX_OBJECTS
) -> list[Scene]:
    """`n` random scenes, the same for the same arguments.

    Args:
        n: how many.
        seed: the random generator's seed.
        held_out: `"exclude"`: no shape takes a pair of `UNSEEN`;
            `"require"`: one shape of each scene takes a pair of `HELD_OUT`,
            the others any pair; `"validation"`: one takes a pair of
            `VALIDATION_HELD_OUT`, the others any pair but `HELD_OUT`'s.
        max_objects: 1, 2 or 3; each scene has 1 to `max_objects` shapes,
            with equal chances.
    """
    if held_out not in ("exclude", "require", "validation"):
        raise ValueError(f"held_out={held_out!r}; expected 'exclude', 'require' or 'validation'")
    if not 1 <= max_objects <= MAX_OBJECTS:
        raise ValueError(f"max_objects={max_objects}; expected 1 to {MAX_OBJECTS}")
    rng = np.random.default_rng(seed)
    counts = rng.integers(1, max_objects + 1, size=n)
    return [_scene(rng, int(k), held_out) for k in counts]


def scene_splits(
    train: int = SPLIT_SIZES["train"],
    validation: int = SPLIT_SIZES["validation"],
    test: int = SPLIT_SIZES["test"],
    seed: int = SPLIT_SEED,
) -> dict[str, list[Scene]]:
    """Train without held-out pairs (seed `seed`); validation (`seed + 1`) with one
    of its own in every scene, test (`seed + 2`) with one of `HELD_OUT`."""
    return {
        "train": generate_scenes(train, seed, "exclude"),
        "validation": generate_scenes(validation, seed + 1, "validation"),
        "test": generate_scenes(test, seed + 2, "require"),
    }


def missing_words(scenes: Iterable[Scene]) -> list[str]:
    """The words of `VOCABULARY` that no caption of `scenes` uses."""
    seen = {word for scene in scenes for word in scene.caption.split()}
    return [word for word in VOCABULARY if word not in seen]


# ---------------------------------------------------------------------------
# Files


def _settings(image_size: int, sizes: dict) -> dict:
    unknown = set(sizes) - {*SPLITS, "seed"}
    if unknown:
        raise TypeError(f"unknown settings {', '.join(sorted(unknown))}; expected {SPLITS}, seed")
    if not isinstance(image_size, int) or not 16 <= image_size <= 1024:
        raise ValueError(f"image_size={image_size!r}; expected a whole number from 16 to 1024")
    counts = {name: int(sizes.get(name, SPLIT_SIZES[name])) for name in SPLITS}
    if min(counts.values()) < 1:
        raise ValueError(f"split sizes {counts}; each must be at least 1")
    return {
        "format": FILES_FORMAT,
        "generator": GENERATOR_VERSION,
        "image_size": image_size,
        "seed": int(sizes.get("seed", SPLIT_SEED)),
        **counts,
        "max_objects": MAX_OBJECTS,
        "held_out": [f"{colour} {shape}" for colour, shape in HELD_OUT],
        "validation_held_out": [f"{colour} {shape}" for colour, shape in VALIDATION_HELD_OUT],
    }


def scenes_dir(root: str | os.PathLike | None = None, image_size: int = 64) -> Path:
    """`<root>/captioning/scenes-<image_size>`."""
    return data_root(root) / "captioning" / f"scenes-{image_size}"


def _is_current(directory: Path, settings: dict) -> bool:
    try:
        saved = json.loads((directory / "settings.json").read_text(encoding="utf-8"))
        listed = json.loads((directory / "captions.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if saved != settings:
        return False
    images = [item["image"] for name in SPLITS for item in listed.get(name, [])]
    return len(images) == sum(settings[name] for name in SPLITS) and all(
        (directory / image).is_file() for image in images
    )


def _object_json(obj: SceneObject) -> dict:
    return dataclasses.asdict(obj)


def _captions_json(listed: dict) -> str:
    """`listed` as JSON with one scene a line."""
    parts = [f'{{"format": {listed["format"]}']
    for name in SPLITS:
        items = ",\n".join(json.dumps(item) for item in listed[name])
        parts.append(f'"{name}": [\n{items}\n]')
    return ",\n".join(parts) + "}\n"


def _write_files(directory: Path, settings: dict) -> None:
    splits = scene_splits(**{k: settings[k] for k in (*SPLITS, "seed")})
    listed = {"format": FILES_FORMAT}
    for name, scenes in splits.items():
        (directory / name).mkdir()
        width = max(6, len(str(len(scenes) - 1)))
        listed[name] = []
        for i, scene in enumerate(scenes):
            image = f"{name}/{i:0{width}d}.png"
            Image.fromarray(draw(scene, settings["image_size"])).save(directory / image)
            listed[name].append(
                {
                    "image": image,
                    "caption": scene.caption,
                    "objects": [_object_json(o) for o in scene.objects],
                }
            )
    write_atomic(directory / "captions.json", _captions_json(listed))
    write_atomic(directory / "settings.json", json.dumps(settings, indent=1) + "\n")


def write_scenes(root: str | os.PathLike | None = None, image_size: int = 64, **sizes: int) -> Path:
    """Writes the scenes as PNG files under `<root>/captioning/scenes-<image_size>/`,
    or reuses them, and returns that folder.

    The folder holds `train/`, `validation/`, `test/` (`000000.png`, ...),
    `captions.json` (`{"format": 1, "train": [{"image": "train/000000.png",
    "caption": ..., "objects": [{"shape", "colour", "size", "x", "y"}, ...]},
    ...], ...}`) and `settings.json` (the generator's version, the image size,
    the seed, the split sizes, the held-out pairs). It is reused when
    `settings.json` equals the settings asked for and every listed image is
    there; otherwise a new set is written into a temporary folder beside it
    and renamed into place (the old one is removed after), so readers never
    see a part of a set.

    Args:
        root: the data root; `data_root()` when None.
        image_size: the images' side in pixels.
        **sizes: `train`, `validation`, `test` (scene counts) and `seed`, as
            in `scene_splits`.
    """
    settings = _settings(image_size, sizes)
    directory = scenes_dir(root, image_size)
    if _is_current(directory, settings):
        return directory
    directory.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(dir=directory.parent, prefix=f".{directory.name}."))
    try:
        tmp.chmod(0o755)  # mkdtemp makes it private; the data is not.
        _write_files(tmp, settings)
        if directory.exists():
            old = Path(tempfile.mkdtemp(dir=directory.parent, prefix=f".{directory.name}.old."))
            os.replace(directory, old / directory.name)
            os.replace(tmp, directory)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, directory)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    logger.info("wrote %s in %.1f s", directory, time.perf_counter() - started)
    return directory


def _scene_from_json(item: dict) -> Scene:
    objects = tuple(SceneObject(**o) for o in item["objects"])
    return Scene(objects, item["caption"])


def read_scenes(directory: str | os.PathLike) -> dict[str, list[tuple[Path, Scene]]]:
    """The `(image path, scene)` pairs per split of a folder `write_scenes` wrote.

    Raises:
        DataError: `captions.json` is missing or does not read back.
    """
    directory = Path(directory)
    path = directory / "captions.json"
    try:
        listed = json.loads(path.read_text(encoding="utf-8"))
        base = directory.resolve()
        return {
            name: [(base / item["image"], _scene_from_json(item)) for item in listed[name]]
            for name in SPLITS
        }
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise DataError(
            f"{path} cannot be read back ({error}); delete {directory} to write it again"
        ) from None


def load_scenes(
    root: str | os.PathLike | None = None, image_size: int = 64, **sizes: int
) -> CaptionData:
    """The generated scenes as paths and captions, written on first use (see `write_scenes`).

    Returns:
        A `CaptionData`, one caption per image; `split_path` is None (the
        split is part of the generator).
    """
    settings = _settings(image_size, sizes)
    directory = write_scenes(root, image_size, **sizes)
    scenes = read_scenes(directory)
    seed = settings["seed"]
    held = ", ".join(f"{colour} {shape}" for colour, shape in HELD_OUT)
    held_validation = ", ".join(f"{colour} {shape}" for colour, shape in VALIDATION_HELD_OUT)
    notes = [
        f"held out of train and validation, one in every test scene: {held}",
        f"held out of train, one in every validation scene: {held_validation} (seeds: "
        f"train {seed}, validation {seed + 1}, test {seed + 2}), so model selection never "
        "sees a test pair",
    ]
    unused = missing_words(scene for _, scene in scenes["train"])
    if unused:
        notes.append(f"words no train caption uses: {', '.join(unused)}; train is too small")
    total = sum(len(items) for items in scenes.values())
    return CaptionData(
        **{
            name: [CaptionExample(path, (scene.caption,)) for path, scene in items]
            for name, items in scenes.items()
        },
        source=(
            f"generated scenes ({directory}): {total:,} images of {image_size}x{image_size}, "
            f"1 to {MAX_OBJECTS} shapes each, generator version {GENERATOR_VERSION}"
        ),
        notes=tuple(notes),
    )


def _arguments(parser) -> None:
    parser.add_argument("--root", help=ROOT_HELP)
    parser.add_argument("--image-size", type=int, default=64, help="image side in pixels")
    for name in SPLITS:
        parser.add_argument(f"--{name}", type=int, default=SPLIT_SIZES[name], help="scenes")
    parser.add_argument("--seed", type=int, default=SPLIT_SEED)


def _load(args) -> CaptionData:
    sizes = {name: getattr(args, name) for name in SPLITS}
    return load_scenes(args.root, args.image_size, **sizes, seed=args.seed)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m datasets.scenes`: write (or reuse) the scenes, describe them."""
    started = time.perf_counter()
    status = run_main(
        argv, "python -m datasets.scenes", __doc__, _arguments, _load, (DataError, ValueError)
    )
    if status == 0:
        print(f"ready in {time.perf_counter() - started:.1f} s")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
