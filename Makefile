# kubetfx: `make run` and `make test` each work as the only command typed on a fresh machine.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# Where images come from; nothing below hard-codes a registry, project or bucket.
IMAGE_REPO ?= localhost:5000
OUT ?= compile
# The train step's placement (README, "Distributed training"); unset, `kubetfx compile`'s defaults
# apply: a single-GPU trainer. COMPILE_FLAGS takes the other flags (--node-selector, --toleration, ...).
GPU_TYPE ?=
GPU_COUNT ?=
WORKERS ?=
COMPILE_FLAGS ?=
DATA_CACHE ?= $(HOME)/.cache/kubetfx
RUN_DIR ?= build/run
SIZES ?= 100000,1000000,5000000
EVAL_SIZES ?= 25000,1000000
ITEMS ?= 0
SERVING_ROOT ?= build/serving
PORT ?= 8080
# Images (README, "Images"): docker, podman or buildah builds them, the first one installed unless
# CONTAINER_ENGINE names one; push-images records the digests in IMAGES_FILE, and compile pins them.
CONTAINER_ENGINE ?=
IMAGES_FILE ?= build/images.json
# Submission (README, "Submitting to Kubeflow and Vertex AI"): TARGET is kfp or vertex; KFP_HOST,
# KFP_TOKEN, GOOGLE_CLOUD_PROJECT and GOOGLE_CLOUD_REGION come from the environment. SERVING_ROOT is
# passed only when set on the command line or in the environment (its default serves `make run`).
# SUBMIT_FLAGS takes the other flags (--param NAME=VALUE, --experiment, --schedule, --wait, ...).
TARGET ?= kfp
PIPELINE_ROOT ?=
INTERACTIONS ?=
USERS ?=
ITEMS ?=
SUBMIT_FLAGS ?=

export TF_USE_LEGACY_KERAS := 1
export TF_CPP_MIN_LOG_LEVEL := 2
export PYTHONUNBUFFERED := 1

.PHONY: install run test compile lint lock clean bench gpu-check images push-images submit serve

install: $(STAMP)

$(STAMP): requirements.txt requirements-client.txt requirements-dev.txt constraints.txt setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip==25.3 setuptools==80.9.0 wheel==0.45.1
	$(BIN)/pip install --quiet -c constraints.txt -r requirements.txt -r requirements-client.txt -r requirements-dev.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/kubetfx run --data-cache $(DATA_CACHE) --run-dir $(RUN_DIR) --serving-root $(SERVING_ROOT)

test: $(STAMP)
	$(BIN)/python -m pytest -q tests

compile: $(STAMP)
	$(BIN)/kubetfx compile --image-repo $(IMAGE_REPO) --out $(OUT) $(if $(GPU_TYPE),--gpu-type $(GPU_TYPE)) \
		$(if $(GPU_COUNT),--gpu-count $(GPU_COUNT)) $(if $(WORKERS),--workers $(WORKERS)) $(COMPILE_FLAGS) \
		$(if $(wildcard $(IMAGES_FILE)),--images-file $(IMAGES_FILE))

# Plain Python, no .venv: building images needs only the standard library and an OCI builder.
images:
	$(PYTHON) -m kubetfx.images build --image-repo $(IMAGE_REPO) $(if $(CONTAINER_ENGINE),--engine $(CONTAINER_ENGINE))

push-images: images
	$(PYTHON) -m kubetfx.images push --image-repo $(IMAGE_REPO) --images-file $(IMAGES_FILE) \
		$(if $(CONTAINER_ENGINE),--engine $(CONTAINER_ENGINE))

submit: $(STAMP)
	$(BIN)/kubetfx submit --target $(TARGET) $(if $(PIPELINE_ROOT),--pipeline-root $(PIPELINE_ROOT)) \
		$(if $(INTERACTIONS),--interactions $(INTERACTIONS)) $(if $(USERS),--users $(USERS)) $(if $(ITEMS),--items $(ITEMS)) \
		$(if $(filter-out file,$(origin SERVING_ROOT)),--serving-root $(SERVING_ROOT)) $(SUBMIT_FLAGS)

serve: $(STAMP)
	$(BIN)/kubetfx serve --serving-root $(SERVING_ROOT) --port $(PORT)

gpu-check: $(STAMP)
	$(BIN)/python -m kubetfx.pipelines.recommender.gpu_check

bench: $(STAMP)
	$(BIN)/kubetfx bench --sizes $(SIZES) --evaluate-sizes $(EVAL_SIZES) --items $(ITEMS) --out build/bench

lint: $(STAMP)
	$(BIN)/ruff check kubetfx components pipelines tests setup.py

lock: $(STAMP)
	{ head -n 2 constraints.txt; $(BIN)/pip freeze --exclude-editable; sed -n '/^# GPU image only/,$$p' constraints.txt; } \
		> constraints.txt.new && mv constraints.txt.new constraints.txt

clean:
	rm -rf build
