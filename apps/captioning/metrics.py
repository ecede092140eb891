"""The captioning scores: sacreBLEU's BLEU-1 to BLEU-4 against every reference,
the exact-match rate, and on the generated scenes where the held-out
colour-shape pairs are named right."""

import collections
import re

import tensorflow as tf

from apps.common.decoder import reference_streams
from apps.common.text import detokenize, normalize, tokenize
from datasets.scenes import SHAPES, UNSEEN


def bleu_scores(hypotheses, refs, lowercase=True):
    """sacreBLEU's BLEU-1 to BLEU-4 (fractions, 0 to 1) of hypotheses against
    lists of references (any number per image), with sacreBLEU's signature of
    the BLEU-4 settings. BLEU-n is `BLEU(max_ngram_order=n)`."""
    from sacrebleu.metrics import BLEU

    streams = reference_streams(refs)
    scores = {}
    for n in (1, 2, 3, 4):
        bleu = BLEU(max_ngram_order=n, lowercase=lowercase)
        scores[f"bleu{n}"] = bleu.corpus_score(hypotheses, streams).score / 100.0
    scores["signature"] = str(bleu.get_signature())
    return scores


def canonical(texts, lowercase=True):
    """Captions as the model writes them: normalised, cut into tokens and
    joined again (`"A dog runs ."` -> `"a dog runs."`)."""
    if not texts:
        return []
    joined = detokenize(tokenize(normalize(tf.constant(texts, tf.string), lowercase)))
    return [t.decode("utf-8") for t in joined.numpy()]


def exact_match(hypotheses, refs, lowercase=True):
    """The fraction of hypotheses equal to one of their references, both in
    `canonical` form (case and spacing of punctuation aside)."""
    hyps = canonical(list(hypotheses), lowercase)
    flat = canonical([r for rs in refs for r in rs], lowercase)
    hits, at = 0, 0
    for hyp, rs in zip(hyps, refs):
        hits += hyp in flat[at : at + len(rs)]
        at += len(rs)
    return hits / max(1, len(hyps))


def shapes_in(caption):
    """How many shapes a scene's caption names (`datasets.scenes`' grammar)."""
    return 1 + caption.count(" left of ") + caption.count(" above ")


def exact_match_by_shapes(captions, refs, lowercase=True):
    """`{search: {shapes: (exact-match rate, images)}}` over the scenes with 1, 2
    and 3 shapes: where the held-out compositions are hardest to get right."""
    out = {}
    for method, texts in captions.items():
        out[method] = {}
        for shapes in sorted({shapes_in(r[0]) for r in refs}):
            chosen = [i for i, r in enumerate(refs) if shapes_in(r[0]) == shapes]
            rate = exact_match([texts[i] for i in chosen], [refs[i] for i in chosen], lowercase)
            out[method][str(shapes)] = (rate, len(chosen))
    return out


_SHAPE_PHRASE = re.compile(r"\b(\w+) (" + "|".join(SHAPES) + r")\b")


def pairs_named(captions, refs):
    """`{search: {"held-out": (rate, shapes), "seen": (rate, shapes)}}`: the share
    of the shapes of the reference captions, taken in caption order, whose colour
    and shape the caption names right, for colour-shape pairs held out of
    training (`datasets.scenes.UNSEEN`: test's and validation's) and for the
    others. A caption naming another number of shapes gets none of its shapes
    right."""
    held_out = {" ".join(pair) for pair in UNSEEN}
    out = {}
    for method, texts in captions.items():
        hits = collections.Counter()
        totals = collections.Counter()
        for text, rs in zip(texts, refs):
            want = [" ".join(m) for m in _SHAPE_PHRASE.findall(rs[0].lower())]
            got = [" ".join(m) for m in _SHAPE_PHRASE.findall(text.lower())]
            for i, pair in enumerate(want):
                kind = "held-out" if pair in held_out else "seen"
                totals[kind] += 1
                hits[kind] += len(got) == len(want) and got[i] == pair
        out[method] = {k: (hits[k] / max(1, totals[k]), totals[k]) for k in ("held-out", "seen")}
    return out


def most_frequent_caption(examples, lowercase=True):
    """The baseline's one caption: the most frequent training caption (in
    `canonical` form; ties go to the first seen)."""
    counts = collections.Counter(canonical([c for e in examples for c in e.captions], lowercase))
    return counts.most_common(1)[0][0]
