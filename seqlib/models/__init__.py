"""Whole models built from seqlib's layers: an attention encoder-decoder and a
recurrent language model. Both expose a one-step function that the graph
decoders of `seqlib.decoding` drive, so generation exports with the model."""

from seqlib.models.components import RECURRENT_LAYERS, attention_layer, recurrent_layer
from seqlib.models.language_model import LanguageModel
from seqlib.models.seq2seq import Seq2Seq

__all__ = [
    "RECURRENT_LAYERS",
    "LanguageModel",
    "Seq2Seq",
    "attention_layer",
    "recurrent_layer",
]
