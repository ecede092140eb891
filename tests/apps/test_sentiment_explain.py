"""The sentiment export's `explain` signature: the words the model read and its
attention over them, beside an unchanged `serving_default`, in a process that
cannot import the project and over the REST server."""

import json
import urllib.request

import numpy as np
from app_fixtures import SENTIMENT_TINY as TINY
from app_fixtures import sentiment_data
from click.testing import CliRunner

from apps.sentiment.cli import cli


def test_explain_gives_words_and_attention_beside_an_unchanged_serving_default(home, model_server):
    from seqlib.export.testing import run_isolated

    data = sentiment_data(home)
    for args in (["train", *data, *TINY], ["export"]):
        result = CliRunner().invoke(cli, args, catch_exceptions=False)
        assert result.exit_code == 0, result.output
    export_dir = home / "models" / "sentiment" / "1"

    # Longer than the model reads (data.sequence_length=12 in TINY): the rest is cut.
    texts = ["I LOVE it!!", "worst day", "a b c d e f g h i j k l m n o"]
    inputs = {"text": np.array(texts, dtype=object)}
    default = run_isolated(export_dir, inputs)
    assert sorted(default) == ["label", "positive_probability", "probability"]
    explained = run_isolated(export_dir, inputs, signature="explain")
    for key in default:
        np.testing.assert_array_equal(explained[key], default[key])

    words = [[w.decode() for w in row] for row in explained["words"]]
    attention = explained["attention"]
    assert explained["words"].shape == attention.shape == (3, 12)
    assert words[0][:5] == ["i", "love", "it", "!!", ""]  # standardized, as the model reads
    assert words[2] == list("abcdefghijkl")
    for row, weights in zip(words, attention):
        read = np.array([w != "" for w in row])
        assert np.all(weights >= 0) and np.all(weights[~read] < 1e-6)
        np.testing.assert_allclose(weights[read].sum(), 1.0, atol=1e-5)

    # Over TF Serving's REST API, row format: one object per text.
    url = model_server(home / "models") + "/v1/models/sentiment:predict"
    body = json.dumps({"signature_name": "explain", "instances": texts[:1]}).encode()
    with urllib.request.urlopen(urllib.request.Request(url, body)) as response:
        (row,) = json.loads(response.read())["predictions"]
    assert row["words"][:3] == ["i", "love", "it"] and len(row["attention"]) == 12
    assert row["label"] == default["label"][0].decode()


def test_members_answer_with_their_mean_and_explain_reads_split_clitics(home):
    from apps.sentiment import pipeline
    from seqlib.export.testing import run_isolated

    data = sentiment_data(home)
    members = ["--set", "model.members=3", "--set", "data.split_clitics=true"]
    for args in (["train", *data, *TINY, *members], ["export"]):
        result = CliRunner().invoke(cli, args, catch_exceptions=False)
        assert result.exit_code == 0, result.output
    model = pipeline.Run(home / "runs" / "sentiment" / "cpu-small").load_model()
    texts = np.array(["I don't love it", "it's great"], dtype=object)
    each = model.predict(texts, verbose=0)["probability"]
    assert each.shape == (2, 3) and not np.allclose(each[:, 0], each[:, 1])  # 3 members
    assert {"bidirectional_0_member0", "bidirectional_0_member1", "probability_member2"} <= {
        layer.name for layer in model.layers
    }

    export_dir = home / "models" / "sentiment" / "1"
    served = run_isolated(export_dir, {"text": texts})
    np.testing.assert_allclose(served["positive_probability"], each.mean(axis=1), rtol=1e-5)
    explained = run_isolated(export_dir, {"text": texts}, signature="explain")
    assert [w.decode() for w in explained["words"][0][:5]] == ["i", "do", "n't", "love", "it"]
    np.testing.assert_allclose(explained["attention"].sum(axis=1), 1.0, atol=1e-5)
