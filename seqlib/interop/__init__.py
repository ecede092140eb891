"""Interoperability with other frameworks' recurrent layers.

`seqlib.interop.torch` loads PyTorch `nn.LSTM` / `nn.GRU` / `nn.RNN` state dicts into
Keras-layout layers without importing torch.
"""

from seqlib.interop.torch import (
    load_torch_gru,
    load_torch_lstm,
    load_torch_rnn_stack,
    load_torch_simple_rnn,
)

__all__ = [
    "load_torch_gru",
    "load_torch_lstm",
    "load_torch_rnn_stack",
    "load_torch_simple_rnn",
]
