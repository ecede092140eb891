"""Drop-in sequence layers: keras' API and weight layout, seqlib's equations and loop."""

from seqlib.layers.bidirectional import Bidirectional
from seqlib.layers.gru import GRU
from seqlib.layers.lstm import LSTM
from seqlib.layers.rnn import RNN
from seqlib.layers.simple_rnn import SimpleRNN
from seqlib.layers.subword_embedding import SubwordEmbedding

__all__ = ["GRU", "LSTM", "RNN", "Bidirectional", "SimpleRNN", "SubwordEmbedding"]
