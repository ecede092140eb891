"""The honest baselines the model is measured against, on the same test split.

- majority: always the most frequent training label (the floor);
- TF-IDF over character n-grams + logistic regression (scikit-learn), its
  regularisation chosen on the validation split;
- VADER (Hutto & Gilbert 2014), the rule-based lexicon, at its authors'
  threshold: compound >= 0.05 is positive. Its authors published these very
  tweets to evaluate VADER, and built its lexicon and rules from social-media
  text of the same kind: on this dataset it is a strong reference, not a
  held-out baseline.
"""

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.pipeline import make_pipeline

TFIDF_C_GRID = (1.0, 3.0, 10.0, 30.0)


def majority(data):
    label = int(data.train["label"].mode()[0])
    return np.full(len(data.test), label)


def tfidf_logistic_regression(data, c_grid=TFIDF_C_GRID):
    """Character 2-5-grams (within word boundaries), sublinear TF-IDF, balanced
    logistic regression; `C` picked by validation macro-F1."""

    def fit(c):
        return make_pipeline(
            TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2),
            LogisticRegression(C=c, max_iter=2000, class_weight="balanced"),
        ).fit(data.train["text"], data.train["label"])

    def validation_f1(pipeline):
        predicted = pipeline.predict(data.validation["text"])
        return f1_score(data.validation["label"], predicted, average="macro")

    best = max((fit(c) for c in c_grid), key=validation_f1)
    return best.predict(data.test["text"])


def vader(data, threshold=0.05):
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()
    compound = np.array([analyzer.polarity_scores(t)["compound"] for t in data.test["text"]])
    return (compound >= threshold).astype(int)


BASELINES = {
    "TF-IDF char n-grams + logistic regression": tfidf_logistic_regression,
    "VADER lexicon (compound >= 0.05)": vader,
    "majority class": majority,
}


def predict_all(data):
    """`{name: test predictions}` of every baseline."""
    return {name: fn(data) for name, fn in BASELINES.items()}


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
