"""Translation: a seqlib Seq2Seq (bidirectional encoder, attention decoder)
trained on Tatoeba's English-Spanish pairs, decoded by beam search inside the
graph and scored with sacreBLEU against greedy search, a model without
attention and a reversed source.

`python -m apps.translation prepare | train | evaluate | translate | export`.
"""
