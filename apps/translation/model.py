"""The translation model: a seqlib `Seq2Seq` of the config's shape.

Sentences reach it as ids of the two vocabularies (`apps.common.text`): source
ids 0 pads and 1 is `[UNK]`; target ids 0 pads, 1 is `[UNK]`, 2 starts and 3
ends a sentence.
"""

from apps.common.text import END, PAD, START
from seqlib.models import Seq2Seq


def build_model(config, source_vocabulary_size, target_vocabulary_size):
    """The `Seq2Seq` of `config.model`, for the given vocabulary sizes."""
    m = config.model
    return Seq2Seq(
        source_vocab_size=source_vocabulary_size,
        target_vocab_size=target_vocabulary_size,
        embedding_dim=m.embedding_dim,
        units=m.units,
        encoder_layers=m.encoder_layers,
        decoder_layers=m.decoder_layers,
        cell=m.cell,
        bidirectional=m.bidirectional,
        attention=None if m.attention == "none" else m.attention,
        attention_score=m.attention_score,
        input_feeding=m.input_feeding,
        reverse_source=m.reverse_source,
        dropout=m.dropout,
        start_id=START,
        end_id=END,
        pad_id=PAD,
        name="seq2seq",
    )
