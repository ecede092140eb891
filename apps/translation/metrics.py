"""The translation scores: sacreBLEU's BLEU and chrF against every reference,
and what became of the words the vocabularies lack (`unknown_words`)."""

import re

import numpy as np

from apps.common.decoder import reference_streams, trim_at_end
from apps.common.text import UNK

# A number, for the share of numbers a translation keeps: a run of digits.
NUMBER = re.compile(r"\d+")


def bleu_scores(hypotheses, refs):
    """sacreBLEU BLEU and chrF of hypotheses against lists of references (any
    number per sentence), with sacreBLEU's signature of the BLEU settings."""
    from sacrebleu.metrics import BLEU, CHRF

    streams = reference_streams(refs)
    bleu, chrf = BLEU(), CHRF()
    return {
        "bleu": bleu.corpus_score(hypotheses, streams).score,
        "chrf": chrf.corpus_score(hypotheses, streams).score,
        "signature": str(bleu.get_signature()),
    }


def unknown_words(sources, texts, ids, copying):
    """What became of the words the vocabularies lack, over a system's translations:
    the share of translations that show `[UNK]`, of output tokens copied from the
    source (each `[UNK]` the search emitted, when `copying`), and of the source
    sentences with a number whose every number (digit run) is in the translation."""
    tokens = copied = 0
    for row in ids:
        row = trim_at_end(row)
        tokens += len(row)
        copied += int(np.sum(row == UNK)) if copying else 0
    numbered = [(s, t) for s, t in zip(sources, texts) if NUMBER.search(s)]
    return {
        "with_unk": sum("[UNK]" in t for t in texts) / max(1, len(texts)),
        "copied_tokens": copied / max(1, tokens),
        "numbers_kept": (
            sum(all(n in t for n in NUMBER.findall(s)) for s, t in numbered) / len(numbered)
            if numbered
            else float("nan")
        ),
        "with_numbers": len(numbered),
    }
