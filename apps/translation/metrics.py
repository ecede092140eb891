"""The translation scores: sacreBLEU's BLEU and chrF against every reference."""

from apps.common.decoder import reference_streams


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
