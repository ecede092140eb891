# Every target bootstraps .venv from a fresh clone on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export KERAS_BACKEND := tensorflow
export TF_CPP_MIN_LOG_LEVEL := 3
PYTEST_WORKERS ?= 2
APPS := sentiment stocks music translation captioning

.PHONY: help install test test-all lint bench gpu-check diagnostics $(APPS) translation-ablations \
	sentiment-ablations sentiment-seeds captioning-seeds \
	export serve clean

help:
	@echo "make sentiment    the main job (end to end)"
	@echo "make stocks       stock forecasting (end to end)"
	@echo "make music        character-level ABC tunes (end to end)"
	@echo "make translation  Spanish -> English seq2seq with attention and beam search (end to end)"
	@echo "make sentiment-ablations    what each ingredient of the preset adds, 3 seeds, validation"
	@echo "make sentiment-seeds        the sentiment preset with seeds 1, 2, 3 on test: each, mean, spread"
	@echo "make translation-ablations  attention vs none, reversed vs normal source, one budget"
	@echo "make captioning   image captioning (Show, Attend and Tell) on generated scenes (end to end)"
	@echo "make captioning-seeds       the captioning preset with seeds 1, 2, 3 on test: each, mean, spread"
	@echo "make export       export every trained app -> models/<app>/<version>/, models/models.config"
	@echo "make serve        serve models/ with TF Serving's REST API on 127.0.0.1:8501"
	@echo "make test         fast test tier"
	@echo "make test-all     fast + slow tiers"
	@echo "make lint         ruff"
	@echo "make bench        seqlib vs keras (vs torch) speed table, REST load test -> bench/results/"
	@echo "make diagnostics  gradient-flow plots and the long-range task -> reports/diagnostics/"
	@echo "make gpu-check    on a GPU machine: GPU-only tests, bench, a gpu-full epoch of each app, export"

install: $(STAMP)

# With node 18+ on PATH it also installs the playground page's npm packages
# (package-lock.json: abcjs, and puppeteer-core + @sparticuz/chromium for the
# browser tests) and copies what the page loads into serving/playground/vendor/;
# without node the Python side installs alone and the browser tests are skipped.
$(STAMP): pyproject.toml package-lock.json
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install -e '.[dev]'
	@if node -e 'process.exit(Number(process.versions.node.split(".")[0]) < 18 ? 1 : 0)' 2>/dev/null \
	    && command -v npm >/dev/null; then \
	  npm ci --no-audit --no-fund && node serving/playground/tools/vendor.mjs; \
	else \
	  echo "node 18+ and npm not found: the playground page is served without abcjs" \
	       "(no sheet music) and the browser tests are skipped"; \
	fi
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q -n $(PYTEST_WORKERS) --durations=15

# The fuzz tests (tests/fuzz) run their long hypothesis profile here: 500 random
# examples per property instead of make test's 60 fixed ones.
test-all: $(STAMP)
	HYPOTHESIS_PROFILE=long $(PY) -m pytest -q -n $(PYTEST_WORKERS) -m '' --durations=15

lint: $(STAMP)
	$(VENV)/bin/ruff check seqlib apps datasets tests bench
	$(VENV)/bin/ruff format --check seqlib apps datasets tests bench

bench: $(STAMP)
	$(PY) -m bench.rnn
	$(PY) -m bench.serving

# The GPU story in one call (under 10 minutes on one GPU); exits 0 without a GPU.
gpu-check: $(STAMP)
	PY=$(PY) bash bench/gpu_check.sh

diagnostics: $(STAMP)
	$(PY) -m seqlib.diagnostics --out reports/diagnostics

# Every app end to end on its default preset: the data and its saved split,
# training (resumed if it was interrupted), the comparison with the baselines on
# the test split (reports/<app>/report.md) and the export TF Serving loads
# (models/<app>/<version>/, models/models.config). `make sentiment` is the main job.
APP_TRY_sentiment := $(PY) -m apps.sentiment predict "what a lovely day"
APP_TRY_stocks := $(PY) -m apps.stocks predict --ticker AAPL --horizon 5
APP_TRY_music := ls reports/music/samples/   (.abc, .mid, .png; tunes.md says which parse)
APP_TRY_translation := $(PY) -m apps.translation translate "¿Dónde está la biblioteca?"
APP_TRY_captioning := $(PY) -m apps.captioning caption data/captioning/scenes-64/test/000000.png --show-attention reports/captioning/try

$(APPS): %: $(STAMP)
	$(PY) -m apps.$* prepare
	$(APP_PRETRAIN_$*)
	$(PY) -m apps.$* train --resume
	$(PY) -m apps.$* evaluate
	$(PY) -m apps.$* export
	$(APP_EXTRA_$*)
	@echo "report: reports/$*/report.md   export: models/$*/ (models/models.config)"
	@echo 'try:    $(APP_TRY_$*)'

# sentiment pretrains its encoder first when the preset asks for it (cached).
APP_PRETRAIN_sentiment = $(PY) -m apps.sentiment pretrain

# music also writes five sample tunes from a fixed prefix.
APP_EXTRA_music = $(PY) -m apps.music generate --num 5 --temperature 0.8 --top-k 0 \
	    --prefix 'X:1\nM:6/8\nK:D\n' --seed 1 --out reports/music/samples

# The captioning preset with seeds 1, 2 and 3, each scored on the test split, and the
# table of each seed, the mean and the spread (about 50 minutes on 2 CPU cores;
# finished runs are reused).
captioning-seeds: $(STAMP)
	$(PY) -m apps.captioning prepare
	$(PY) -m apps.captioning seeds

# What each ingredient of the sentiment preset adds, 3 seeds each, scored on the
# validation split (about 4 hours on 2 CPU cores; finished runs are reused).
sentiment-ablations: $(STAMP)
	$(PY) -m apps.sentiment prepare
	$(PY) -m apps.sentiment ablations

# The sentiment preset with seeds 1, 2 and 3, each evaluated on the test split and the
# sets beyond it, and the table of each seed, the mean and the spread (about 15 minutes
# on 2 CPU cores; finished runs are reused).
sentiment-seeds: $(STAMP)
	$(PY) -m apps.sentiment prepare
	$(PY) -m apps.sentiment seeds

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
