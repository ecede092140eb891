# Every target bootstraps .venv from a fresh clone on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export KERAS_BACKEND := tensorflow
export TF_CPP_MIN_LOG_LEVEL := 3
PYTEST_WORKERS ?= 2

.PHONY: help install test test-all lint bench diagnostics sentiment stocks music translation \
	translation-ablations captioning export serve clean

help:
	@echo "make sentiment    the main job (end to end)"
	@echo "make stocks       stock forecasting (end to end)"
	@echo "make music        character-level ABC tunes (end to end)"
	@echo "make translation  Spanish -> English seq2seq with attention and beam search (end to end)"
	@echo "make translation-ablations  attention vs none, reversed vs normal source, one budget"
	@echo "make captioning   image captioning (Show, Attend and Tell) on generated scenes (end to end)"
	@echo "make export       export every trained app -> models/<app>/<version>/, models/models.config"
	@echo "make serve        serve models/ with TF Serving's REST API on 127.0.0.1:8501"
	@echo "make test         fast test tier"
	@echo "make test-all     fast + slow tiers"
	@echo "make lint         ruff"
	@echo "make bench        seqlib vs keras (vs torch) speed table, REST load test -> bench/results/"
	@echo "make diagnostics  gradient-flow plots and the long-range task -> reports/diagnostics/"

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install -e '.[dev]'
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q -n $(PYTEST_WORKERS) --durations=15

test-all: $(STAMP)
	$(PY) -m pytest -q -n $(PYTEST_WORKERS) -m '' --durations=15

lint: $(STAMP)
	$(VENV)/bin/ruff check seqlib apps datasets tests bench
	$(VENV)/bin/ruff format --check seqlib apps datasets tests bench

bench: $(STAMP)
	$(PY) -m bench.rnn
	$(PY) -m bench.serving

diagnostics: $(STAMP)
	$(PY) -m seqlib.diagnostics --out reports/diagnostics

# The main job: data, training (resumed if it was interrupted), the comparison
# with the baselines, and the export TF Serving loads.
sentiment: $(STAMP)
	$(PY) -m apps.sentiment prepare
	$(PY) -m apps.sentiment train --resume
	$(PY) -m apps.sentiment evaluate
	$(PY) -m apps.sentiment export
	@echo "report: reports/sentiment/report.md   export: models/sentiment/ (models/models.config)"
	@echo 'try:    $(PY) -m apps.sentiment predict "what a lovely day"'

# Stock forecasting end to end on the default preset: the sample stocks, training
# (resumed if it was interrupted), the baselines on the test period, the export.
stocks: $(STAMP)
	$(PY) -m apps.stocks prepare
	$(PY) -m apps.stocks train --resume
	$(PY) -m apps.stocks evaluate
	$(PY) -m apps.stocks export
	@echo "report: reports/stocks/report.md   export: models/stocks/ (models/models.config)"
	@echo 'try:    $(PY) -m apps.stocks predict --ticker AAPL --horizon 5'

# Character-level music end to end on the default preset: the ABC tunes of
# music21's corpus, training (resumed if interrupted), bpc and generated tunes, export.
music: $(STAMP)
	$(PY) -m apps.music prepare
	$(PY) -m apps.music train --resume
	$(PY) -m apps.music evaluate
	$(PY) -m apps.music export
	$(PY) -m apps.music generate --num 5 --temperature 0.8 --top-k 0 \
	    --prefix 'X:1\nM:6/8\nK:D\n' --seed 1 --out reports/music/samples
	@echo "report: reports/music/report.md   export: models/music/ (models/models.config)"
	@echo "tunes:  reports/music/samples/ (.abc, .mid, .png; tunes.md says which parse)"

# Translation end to end on the default preset: Tatoeba's pairs, training (resumed
# if interrupted), sacreBLEU of greedy and beam search on the test split, the export.
translation: $(STAMP)
	$(PY) -m apps.translation prepare
	$(PY) -m apps.translation train --resume
	$(PY) -m apps.translation evaluate
	$(PY) -m apps.translation export
	@echo "report: reports/translation/report.md   export: models/translation/ (models/models.config)"
	@echo 'try:    $(PY) -m apps.translation translate "¿Dónde está la biblioteca?"'

# The seeds' claims, each model trained on the same budget (50,000 pairs, 2 epochs):
# attention vs a fixed context vector, and, without attention, reversed vs normal source.
ABLATION := runs/translation/ablation
ABLATION_BUDGET := --set data.train_pairs=50000 --set train.epochs=2
translation-ablations: $(STAMP)
	$(PY) -m apps.translation prepare
	$(PY) -m apps.translation train --resume --run-dir $(ABLATION)/attention $(ABLATION_BUDGET)
	$(PY) -m apps.translation train --resume --run-dir $(ABLATION)/no-attention $(ABLATION_BUDGET) \
	    --set model.attention=none
	$(PY) -m apps.translation train --resume --run-dir $(ABLATION)/no-attention-uni $(ABLATION_BUDGET) \
	    --set model.attention=none --set model.bidirectional=false
	$(PY) -m apps.translation train --resume --run-dir $(ABLATION)/no-attention-uni-reversed \
	    $(ABLATION_BUDGET) --set model.attention=none --set model.bidirectional=false \
	    --set model.reverse_source=true
	$(PY) -m apps.translation evaluate --run-dir $(ABLATION)/attention \
	    --compare $(ABLATION)/no-attention --compare $(ABLATION)/no-attention-uni \
	    --compare $(ABLATION)/no-attention-uni-reversed --report-dir reports/translation/ablations
	@echo "report: reports/translation/ablations/report.md"

# Captioning end to end on the default preset: the generated scenes (and their TFDS
# dataset), training (resumed if interrupted), BLEU-1..4 and exact match of greedy
# and beam search on the held-out compositions of the test split, the export.
captioning: $(STAMP)
	$(PY) -m apps.captioning prepare
	$(PY) -m apps.captioning train --resume
	$(PY) -m apps.captioning evaluate
	$(PY) -m apps.captioning export
	@echo "report: reports/captioning/report.md   export: models/captioning/ (models/models.config)"
	@echo 'try:    $(PY) -m apps.captioning caption data/captioning/scenes-64/test/000000.png --show-attention reports/captioning/try'

# Every trained app into models/ (an app whose newest export was made from the
# same weights is left as it is) and models/models.config for TF Serving.
export: $(STAMP)
	$(PY) -m apps.export

# The exports over TF Serving's REST API on 127.0.0.1:8501 (no Docker needed);
# serving/ runs the same directory on tensorflow/serving.
serve: $(STAMP)
	$(PY) -m apps.serve

clean:
	rm -rf $(VENV) reports bench/results runs models
