"""The honest baselines the model is measured against, on the same texts.

- majority: always the most frequent training label (the floor);
- TF-IDF over character n-grams + logistic regression (scikit-learn), its
  regularisation chosen on the validation split;
- VADER (Hutto & Gilbert 2014), the rule-based lexicon, at its authors'
  threshold: compound >= 0.05 is positive. Its authors published these very
  tweets to evaluate VADER, and built its lexicon and rules from social-media
  text of the same kind: on this dataset it is a strong reference, not a
  held-out baseline;
- TF-IDF + VADER's four sentence scores (negative, neutral, positive,
  compound) as extra features of the same logistic regression: the stacked
  baseline. Feeding VADER's output to a classifier beats VADER at once, so a
  model that reads the lexicon has to beat this row, not VADER's.

Each baseline is fitted once on the training split (`fit_all`) and returns a
function `texts -> labels`, so the same fitted baseline labels the test split
and the other evaluation sets.
"""

import numpy as np
from scipy.sparse import csr_matrix
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.pipeline import make_pipeline, make_union

TFIDF_C_GRID = (1.0, 3.0, 10.0, 30.0)


def majority(data):
    label = int(data.train["label"].mode()[0])
    return lambda texts: np.full(len(texts), label)


def _vader():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


class VaderScores(BaseEstimator, TransformerMixin):
    """VADER's four sentence scores of each text, `(n, 4)`: a feature block."""

    def fit(self, texts, labels=None):
        return self

    def transform(self, texts):
        analyzer = _vader()
        scores = [analyzer.polarity_scores(str(t)) for t in texts]
        return csr_matrix([[s["neg"], s["neu"], s["pos"], s["compound"]] for s in scores])


def _char_tfidf():
    return TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2)


def _best_on_validation(data, make_features, c_grid):
    """Balanced logistic regression over `make_features()`, `C` picked by
    validation macro-F1; returns its `predict`."""

    def fit(c):
        return make_pipeline(
            make_features(), LogisticRegression(C=c, max_iter=3000, class_weight="balanced")
        ).fit(data.train["text"], data.train["label"])

    def validation_f1(pipeline):
        predicted = pipeline.predict(data.validation["text"])
        return f1_score(data.validation["label"], predicted, average="macro")

    return max((fit(c) for c in c_grid), key=validation_f1).predict


def tfidf_logistic_regression(data, c_grid=TFIDF_C_GRID):
    """Character 2-5-grams (within word boundaries), sublinear TF-IDF, balanced
    logistic regression; `C` picked by validation macro-F1."""
    return _best_on_validation(data, _char_tfidf, c_grid)


def tfidf_vader_scores(data, c_grid=TFIDF_C_GRID):
    """The TF-IDF features plus VADER's four sentence scores, one logistic regression."""
    return _best_on_validation(data, lambda: make_union(_char_tfidf(), VaderScores()), c_grid)


def vader(data, threshold=0.05):
    def predict(texts):
        analyzer = _vader()
        compound = np.array([analyzer.polarity_scores(str(t))["compound"] for t in texts])
        return (compound >= threshold).astype(int)

    return predict


TFIDF = "TF-IDF char n-grams + logistic regression"
VADER = "VADER lexicon (compound >= 0.05)"
STACKED = "TF-IDF + VADER's four scores, logistic regression (stacked)"

BASELINES = {
    TFIDF: tfidf_logistic_regression,
    VADER: vader,
    STACKED: tfidf_vader_scores,
    "majority class": majority,
}


def fit_all(data):
    """`{name: predict(texts) -> labels}` of every baseline, fitted on `data.train`."""
    return {name: fit(data) for name, fit in BASELINES.items()}


def score(y_true, predictions):
    """Rows `(name, accuracy, macro-F1)`, in the order given."""
    return [
        (
            name,
            float(accuracy_score(y_true, y_pred)),
            float(f1_score(y_true, y_pred, average="macro")),
        )
        for name, y_pred in predictions.items()
    ]
