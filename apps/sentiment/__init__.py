"""Tweet sentiment: a bidirectional seqlib RNN with attention pooling, trained on
the human-rated tweets of Hutto & Gilbert (ICWSM 2014) and measured against
TF-IDF + logistic regression and VADER on the same test split.

`python -m apps.sentiment prepare | train | evaluate | predict | export`.
"""
