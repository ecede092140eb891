"""Attention mechanisms and position encodings.

Every mechanism returns `(context, weights)` so that apps can draw the
attention weights as heat-maps.
"""

from seqlib.attention.attention_pooling import AttentionPooling
from seqlib.attention.bahdanau_attention import BahdanauAttention
from seqlib.attention.base_attention import BaseAttention
from seqlib.attention.luong_attention import LuongAttention
from seqlib.attention.multi_head_self_attention import MultiHeadSelfAttention
from seqlib.attention.scaled_dot_product_attention import ScaledDotProductAttention
from seqlib.attention.sinusoidal_positional_encoding import SinusoidalPositionalEncoding

__all__ = [
    "AttentionPooling",
    "BahdanauAttention",
    "BaseAttention",
    "LuongAttention",
    "MultiHeadSelfAttention",
    "ScaledDotProductAttention",
    "SinusoidalPositionalEncoding",
]
