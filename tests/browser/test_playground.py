"""The playground page (`serving/playground/`) in a real headless Chromium,
against the local server (`make serve`) serving tiny trained exports of the five
apps: each tab's output, the busy state, a server error shown in place, the
keyboard, a phone's width, and no error in the browser console.

The browser is driven once, by `drive.mjs` (puppeteer-core and
@sparticuz/chromium from `npm ci`), and each test checks one part of what it
saw. Under xdist the first worker to get here trains, serves and drives; the
other reads its answer (a file lock in the session's shared temporary folder).
Skipped, with the reason in the warnings summary, without node 18+ or the npm
packages. `PLAYGROUND_SCREENSHOTS=docs/img` writes a screenshot of each tab
there (the README's).

The page is served from a copy of `serving/playground/` whose sample prices
(`samples/stocks.csv`, which `make stocks` writes and git ignores) are the tiny
stocks model's synthetic ones; the driver also answers that file 404 once, as
in a checkout before `make stocks`.
"""

import contextlib
import fcntl
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import threading
import warnings

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
APPS = ("sentiment", "stocks", "music", "translation", "captioning")
# Enough for the tiny translation model to write words rather than only the end mark.
MORE = {"translation": ["--set", "train.epochs=8", "--set", "train.learning_rate=0.01"]}


def why_not():
    """Why the browser tests cannot run here, or None."""
    node = shutil.which(os.environ.get("SEQLIB_NODE", "node"))
    if node is None:
        return "node is not on PATH (install Node.js 18 or later, then `make install`)"
    version = subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip()
    major = re.match(r"v(\d+)", version)
    if not major or int(major[1]) < 18:
        return f"node {version or '?'} is older than 18"
    for package in ("abcjs", "puppeteer-core", "@sparticuz/chromium"):
        if not (ROOT / "node_modules" / package / "package.json").is_file():
            return (
                f"the npm package {package} is not installed (`npm ci`, which `make install` runs)"
            )
    if not (ROOT / "serving" / "playground" / "vendor" / "abcjs-basic-min.js").is_file():
        return "serving/playground/vendor/ is empty (`node serving/playground/tools/vendor.mjs`)"
    return None


def app_fixtures():
    """`tests/apps/app_fixtures.py`: the app tests' small data sets and tiny configs."""
    folder = str(ROOT / "tests" / "apps")
    if folder not in sys.path:
        sys.path.insert(0, folder)
    import app_fixtures

    return app_fixtures


@contextlib.contextmanager
def locked(path):
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def train_and_export(home):
    """The five apps' tiny configs trained on their small data sets and exported to
    `home/models` (as the app tests do)."""
    import importlib

    from click.testing import CliRunner

    cases = app_fixtures().APPS
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SEQLIB_HOME", str(home))
        patch.setenv("SEQLIB_DATA", str(home / "data"))
        for app in APPS:
            case = cases[app]
            cli = importlib.import_module(f"apps.{app}.cli").cli
            train = ["train", *case.data(home), *case.tiny, *MORE.get(app, [])]
            for args in (train, ["export"]):
                result = CliRunner().invoke(cli, args, catch_exceptions=False)
                assert result.exit_code == 0, f"{app} {args[0]}: {result.output}"
    return home / "models"


def playground(home):
    """A copy of `serving/playground/` (vendor/ included) in `home`, with sample
    prices in the columns `make stocks` writes: the last 160 days of each ticker
    the tiny stocks model was trained on (`app_fixtures.stocks_data`)."""
    site = home / "playground"
    shutil.rmtree(site, ignore_errors=True)
    shutil.copytree(ROOT / "serving" / "playground", site)
    prices = app_fixtures().synthetic_prices(split_day=30).groupby("Ticker").tail(160)
    prices.to_csv(site / "samples" / "stocks.csv", index=False)
    return site


def drive(models, site, out):
    """Serves `models` and the page in `site` with the local server and runs
    drive.mjs against it."""
    from seqlib.serving.server import make_server

    server = make_server(
        models,
        port=0,
        quiet=True,
        poll_seconds=0,
        log=lambda message: None,
        static_dir=site,
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    command = [
        shutil.which(os.environ.get("SEQLIB_NODE", "node")),
        str(ROOT / "tests" / "browser" / "drive.mjs"),
        f"http://127.0.0.1:{server.server_port}/",
        str(out),
    ]
    shots = os.environ.get("PLAYGROUND_SCREENSHOTS")
    if shots:
        (ROOT / shots).mkdir(parents=True, exist_ok=True)
        command.append(str(ROOT / shots))
    try:
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    if done.returncode != 0 or not out.is_file():
        return {"failed": f"drive.mjs exited {done.returncode}: {done.stderr[-3000:]}"}
    return json.loads(out.read_text())


@pytest.fixture(scope="module")
def seen(tmp_path_factory):
    """What the browser saw (drive.mjs's JSON), made once per session."""
    reason = why_not()
    if reason is not None:
        # A warning, so that the summary of `make test` (no `-rs`) says it too; a
        # built-in category, which xdist can send from a worker.
        warnings.warn(UserWarning(f"browser tests skipped: {reason}"), stacklevel=1)
        pytest.skip(f"browser tests skipped: {reason}")
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent  # the workers' common folder
    answer = shared / "playground-seen.json"
    with locked(shared / "playground.lock"):
        if not answer.is_file():
            home = shared / "playground-home"
            home.mkdir(exist_ok=True)
            result = drive(train_and_export(home), playground(home), home / "drive.json")
            answer.write_text(json.dumps(result))
    result = json.loads(answer.read_text())
    if "failed" in result:
        pytest.fail(result["failed"])
    return result


def expected(entry):
    """The console lines Chromium itself writes for the answers the tests ask for:
    the refused request of the error test, and the absent sample prices."""
    if entry["phase"] == "server-error":
        return "status of 400" in entry["text"]
    if entry["phase"] == "no-samples":
        return "status of 404" in entry["text"] and entry["url"].endswith("/samples/stocks.csv")
    return False


def test_the_page_finds_every_app_and_the_console_has_no_errors(seen):
    assert seen["served"] == f"this server serves {', '.join(APPS)}."
    assert [entry for entry in seen["console"] if not expected(entry)] == []


def test_sentiment_labels_each_text_and_shades_each_word(seen):
    tab = seen["tabs"]["sentiment"]
    assert tab["error"] is None and tab["busy"] == "Classifying…"
    results = tab["results"]
    assert [len(r["words"]) for r in results] == [4, 5, 6]  # the page's three texts
    assert results[2]["words"][3][0] == ","  # punctuation split off, as the model reads it
    for result in results:
        assert result["label"] in ("positive", "negative")
        assert 50.0 <= float(result["probability"].split()[0]) <= 100.0
        assert sum(weight for _, weight in result["words"]) == pytest.approx(1.0, abs=1e-3)


def test_stocks_draws_the_history_the_median_and_its_band(seen):
    tab = seen["tabs"]["stocks"]
    assert tab["error"] is None
    assert tab["tickers"] == ["AAA", "BBB"]  # the sample file's (the test's copy)
    horizon = 3  # the tiny config's
    assert tab["series"]["median"] == horizon + 1  # from the last close
    assert tab["series"]["interval"] == 2 * (horizon + 1)
    assert tab["series"]["history"] == 90 and tab["rows"] == horizon


def test_without_the_sample_prices_the_stocks_tab_says_make_stocks(seen):
    tab = seen["noSamples"]
    assert tab["tickers"] == 0
    assert tab["note"].startswith("No sample tickers yet: they appear after make stocks")
    assert "drop a CSV" in tab["note"]
    assert tab["submitted"] == "No ticker to forecast: drop a CSV of prices first."


def test_music_draws_notes_plays_and_offers_abc_and_midi(seen):
    tab = seen["tabs"]["music"]
    assert tab["error"] is None
    assert tab["abc"].startswith("X:1\nT:\nM:6/8\nL:1/8\nK:D\n")
    assert tab["svg"] == 1 and tab["notes"] > 0
    assert tab["label"].startswith(("Reads as ABC", "May not parse"))
    assert tab["downloads"] == [["tune-1.abc", "blob:"], ["tune-1.mid", "blob:"]]
    assert tab["play"] == "Playing."


def test_translation_has_one_heatmap_row_per_output_word(seen):
    tab = seen["tabs"]["translation"]
    assert tab["error"] is None and tab["translation"] not in ("", "(nothing)")
    rows = tab["rows"]
    assert rows[-1] == "[END]" and tab["columns"] == 5  # ¿ tres coche negro ?
    assert re.findall(r"\w+", tab["translation"]) == [
        w for w in rows[:-1] if re.fullmatch(r"\w+", w)
    ]


def test_captioning_gives_a_caption_and_the_attention_of_each_word(seen):
    tab = seen["tabs"]["captioning"]
    assert tab["error"] is None and tab["caption"] not in ("", "(nothing)")
    words = tab["caption"].split()
    # The end mark closes the row unless the caption reached the length limit.
    assert tab["words"] in (words, [*words, "[END]"])
    assert tab["cells"] > 1  # the encoder's grid


def test_a_server_error_appears_in_place(seen):
    assert seen["serverError"].startswith(
        "The server says: the prefix has characters the model never saw in training"
    )


def test_the_keyboard_reaches_everything_and_a_phone_width_fits(seen):
    assert seen["keyboard"] == {
        "afterRight": "tab-stocks",
        "afterEnd": "tab-captioning",
        "insidePanel": "panel-sentiment",
        "ctrlEnter": True,
    }
    assert seen["phone"] == dict.fromkeys(APPS, 375)
