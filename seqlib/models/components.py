"""Builders that turn config strings into seqlib layers, so a model's cell and
attention are injected by its config and an experiment is a config change."""

from seqlib.attention import BahdanauAttention, LuongAttention
from seqlib.layers import GRU, LSTM, SimpleRNN

RECURRENT_LAYERS = {"lstm": LSTM, "gru": GRU, "simple_rnn": SimpleRNN}
ATTENTIONS = ("bahdanau", "luong")


def recurrent_layer(cell, units, **kwargs):
    """Returns the seqlib sequence layer named by `cell` ("lstm", "gru", "simple_rnn")."""
    if cell not in RECURRENT_LAYERS:
        raise ValueError(f"Expected one of {set(RECURRENT_LAYERS)}. Received: cell={cell!r}")
    return RECURRENT_LAYERS[cell](units, **kwargs)


def attention_layer(attention, units, score="general", **kwargs):
    """Returns the attention named by `attention`: `"bahdanau"` (additive, `units`
    hidden) or `"luong"` (multiplicative, with `score` one of dot/general/concat)."""
    if attention == "bahdanau":
        return BahdanauAttention(units, **kwargs)
    if attention == "luong":
        return LuongAttention(score=score, **kwargs)
    raise ValueError(f"Expected one of {set(ATTENTIONS)}. Received: attention={attention!r}")


def check_choice(name, value, choices):
    if value not in choices:
        raise ValueError(f"Expected one of {set(choices)}. Received: {name}={value!r}")
