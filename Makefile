# kubetfx: `make run` and `make test` each work as the only command typed on a fresh machine.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# Where images come from; nothing below hard-codes a registry, project or bucket.
IMAGE_REPO ?= localhost/kubetfx
OUT ?= compile
DATA_CACHE ?= $(HOME)/.cache/kubetfx
RUN_DIR ?= build/run
SIZES ?= 100000,1000000,5000000
SERVING_ROOT ?= build/serving

export TF_USE_LEGACY_KERAS := 1
export TF_CPP_MIN_LOG_LEVEL := 2
export PYTHONUNBUFFERED := 1

.PHONY: install run test compile lint lock clean bench

install: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt constraints.txt setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip==25.3 setuptools==80.9.0 wheel==0.45.1
	$(BIN)/pip install --quiet -c constraints.txt -r requirements.txt -r requirements-dev.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/kubetfx run --data-cache $(DATA_CACHE) --run-dir $(RUN_DIR) --serving-root $(SERVING_ROOT)

test: $(STAMP)
	$(BIN)/python -m pytest -q tests

compile: $(STAMP)
	$(BIN)/kubetfx compile --image-repo $(IMAGE_REPO) --out $(OUT)

bench: $(STAMP)
	$(BIN)/kubetfx bench --sizes $(SIZES) --out build/bench

lint: $(STAMP)
	$(BIN)/ruff check kubetfx components pipelines tests setup.py

lock: $(STAMP)
	{ head -n 2 constraints.txt; $(BIN)/pip freeze --exclude-editable; } > constraints.txt.new && mv constraints.txt.new constraints.txt

clean:
	rm -rf build
