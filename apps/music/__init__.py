"""Character-level ABC tunes: a stacked seqlib LSTM trained by truncated BPTT on
every ABC tune of music21's corpus, measured in bits per character against an
interpolated character n-gram, its samples checked, played and drawn with
music21.

`python -m apps.music prepare | train | evaluate | generate | export`.
"""
