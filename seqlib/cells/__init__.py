"""Recurrent cells written from their equations, honouring the keras cell contract."""

from seqlib.cells.base import GatedCell, RecurrentCell
from seqlib.cells.gru_cell import GRUCell
from seqlib.cells.lstm_cell import LSTMCell
from seqlib.cells.simple_rnn_cell import SimpleRNNCell
from seqlib.cells.zoneout import ZoneoutWrapper

__all__ = ["GRUCell", "GatedCell", "LSTMCell", "RecurrentCell", "SimpleRNNCell", "ZoneoutWrapper"]
