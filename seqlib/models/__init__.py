"""Whole models built from seqlib's layers: an attention encoder-decoder, a
recurrent language model and an attention decoder over image features. Each
exposes a one-step function that the graph decoders of `seqlib.decoding`
drive, so generation exports with the model."""

from seqlib.models.components import RECURRENT_LAYERS, attention_layer, recurrent_layer
from seqlib.models.language_model import LanguageModel
from seqlib.models.pretraining import (
    BidirectionalLanguageModel,
    PretrainedEncoder,
    load_encoder,
    save_encoder,
    transfer_encoder,
)
from seqlib.models.seq2seq import Seq2Seq
from seqlib.models.show_attend_tell import ShowAttendTell

__all__ = [
    "RECURRENT_LAYERS",
    "BidirectionalLanguageModel",
    "LanguageModel",
    "PretrainedEncoder",
    "Seq2Seq",
    "ShowAttendTell",
    "attention_layer",
    "load_encoder",
    "recurrent_layer",
    "save_encoder",
    "transfer_encoder",
]
