# kubetfx: `make run` and `make test` each work as the only command typed on a fresh machine.
#
# Where it runs (README, "Where it runs"): the TFX wheels need glibc 2.39 or newer. On such a host
# (Debian 13, Ubuntu 24.04) `make install` makes a native .venv; on an older one (Debian 12) it
# builds the Debian 13 root the step images are made of (images/root.sh, as root) and every Python
# command below runs inside it, transparently. ENVIRONMENT=native|root overrides the choice.
HOST_GLIBC := $(shell getconf GNU_LIBC_VERSION 2>/dev/null | awk '{print $$2}')
GLIBC_NEEDED := 2.39
ENVIRONMENT ?= $(if $(filter $(GLIBC_NEEDED),$(firstword $(shell printf '%s\n' $(GLIBC_NEEDED) $(HOST_GLIBC) | sort -V))),$(if $(HOST_GLIBC),native,root),root)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(ENVIRONMENT)
ifeq ($(ENVIRONMENT),root)
ROOT_DIR := .root
ROOT_STAMP := $(ROOT_DIR)/.kubetfx-root
IN_ENV := images/root.sh exec
ENV_PYTHON := python3
VENV_FLAGS := --system-site-packages
ENV_LINE := kubetfx: in the Debian 13 root $(ROOT_DIR) (this host's glibc $(HOST_GLIBC) is older than the $(GLIBC_NEEDED) TFX's wheels need)
else
ROOT_STAMP :=
IN_ENV :=
ENV_PYTHON ?= python3
VENV_FLAGS :=
ENV_LINE := kubetfx: in the native environment $(VENV) (glibc $(HOST_GLIBC))
endif

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
# make run's pipeline: recommender (retrieval) or ranking; ranking runs and pushes beside it, in
# RUN_DIR-ranking and SERVING_ROOT-ranking, so the two never share a LATEST.
PIPELINE ?= recommender
PIPELINE_SUFFIX := $(if $(filter recommender,$(PIPELINE)),,-$(PIPELINE))
RUN_DIR ?= build/run
SIZES ?= 100000,1000000,5000000
# Evaluate against model.evaluate at 25k eval examples here; at 1M interactions (250k eval examples)
# the sizes' own baselines compare them. 1M eval examples would mean a 4M-interaction pipeline and
# model.evaluate scoring 1M examples against 66k items: over an hour on 2 cores.
EVAL_SIZES ?= 25000
BENCH_ITEMS ?= 0
SERVING_ROOT ?= build/serving
PORT ?= 8080
# Images (README, "Images"): podman, docker or buildah builds them, the first one installed unless
# CONTAINER_ENGINE names one; push-images records the digests in IMAGES_FILE, and compile pins them.
# RUNTIME_IMAGE is their base (images/Dockerfile.runtime), named after its recipe's hash; on a root
# host it is the root itself, imported. STEP_IMAGE_FILE names the local CPU image by digest, for runs.
CONTAINER_ENGINE ?=
IMAGES_FILE ?= build/images.json
RUNTIME_IMAGE := localhost/kubetfx-runtime:$(shell images/root.sh hash)
STEP_IMAGE_FILE := build/step-image
# make run's runner: docker (each step in the step image's container, through podman's or Docker's
# API, as on a cluster) or subprocess (each step in the environment itself: quicker to iterate).
RUNNER ?= docker
REGISTRY_PORT ?= 5000
# The step image's repository: local for runs; the tests push it to a registry on loopback.
STEP_REPO ?= localhost
TEST_REGISTRY := 127.0.0.1:$(REGISTRY_PORT)
TEST_IMAGES_FILE := build/test-images.json
# Test processes (pytest-xdist), each taking whole files: most tests keep one core busy, and each
# process holds TensorFlow (2-3 GB).
TEST_WORKERS ?= 2
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

# Commands that need containers run in a session (images/podman.sh session): where podman is the
# engine, its Docker-compatible API is started for the command and stopped after it; with Docker,
# DOCKER_HOST is left to Docker.
ENGINE := $(or $(CONTAINER_ENGINE),$(if $(shell command -v podman),podman,$(if $(shell docker info >/dev/null 2>&1 && echo up),docker,podman)))
ifeq ($(ENGINE),podman)
SESSION := images/podman.sh session --api
ENGINE_READY := images/podman.sh configure
else
SESSION := images/podman.sh session
ENGINE_READY := @true
endif

.PHONY: install run test compile lint lock clean bench gpu-check images push-images submit serve step-image registry

install: $(STAMP)

ifeq ($(ENVIRONMENT),root)
$(ROOT_STAMP): images/provision.sh requirements.txt constraints.txt
	images/root.sh build
endif

$(STAMP): $(ROOT_STAMP) requirements.txt requirements-client.txt requirements-dev.txt constraints.txt setup.py
	@echo "$(ENV_LINE)"
	rm -rf $(VENV)
	$(IN_ENV) $(ENV_PYTHON) -m venv $(VENV_FLAGS) $(VENV)
	$(IN_ENV) $(BIN)/pip install --quiet -c constraints.txt -r requirements.txt -r requirements-client.txt -r requirements-dev.txt
	$(IN_ENV) $(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

# The CPU step image of the current sources, named by digest in $(STEP_IMAGE_FILE).
step-image: $(ROOT_STAMP)
	$(ENGINE_READY)
	python3 -m kubetfx.images build --only cpu --engine $(ENGINE) --image-repo $(STEP_REPO) --runtime-image $(RUNTIME_IMAGE) \
		$(if $(ROOT_STAMP),--runtime-root $(ROOT_DIR)) --reference-file $(STEP_IMAGE_FILE)

registry:
	images/podman.sh registry $(REGISTRY_PORT)

run: $(STAMP) $(if $(filter docker,$(RUNNER)),step-image)
	@echo "$(ENV_LINE); runner: $(RUNNER)"
	$(if $(filter docker,$(RUNNER)),$(SESSION) --) $(IN_ENV) $(BIN)/kubetfx run --pipeline $(PIPELINE) --data-cache $(DATA_CACHE) \
		--run-dir $(RUN_DIR)$(PIPELINE_SUFFIX) --serving-root $(SERVING_ROOT)$(PIPELINE_SUFFIX) --runner $(RUNNER) $(if $(filter docker,$(RUNNER)),--image $$(cat $(STEP_IMAGE_FILE)))

# The container tests (tests/test_containers.py) take the step image of these sources as `make
# push-images` pushes it, to a registry on loopback that lives as long as the tests.
test: STEP_REPO = $(TEST_REGISTRY)
test: $(STAMP) step-image
	@echo "$(ENV_LINE)"
	$(SESSION) --registry $(REGISTRY_PORT) -- sh -c '\
		python3 -m kubetfx.images push --only cpu --engine $(ENGINE) --image-repo $(TEST_REGISTRY) --images-file $(TEST_IMAGES_FILE) && \
		KUBETFX_TEST_IMAGE=$$(cat $(STEP_IMAGE_FILE)) KUBETFX_TEST_IMAGES_FILE=$(CURDIR)/$(TEST_IMAGES_FILE) \
		$(IN_ENV) $(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile tests'

compile: $(STAMP)
	$(IN_ENV) $(BIN)/kubetfx compile --image-repo $(IMAGE_REPO) --out $(OUT) $(if $(GPU_TYPE),--gpu-type $(GPU_TYPE)) \
		$(if $(GPU_COUNT),--gpu-count $(GPU_COUNT)) $(if $(WORKERS),--workers $(WORKERS)) $(COMPILE_FLAGS) \
		$(if $(wildcard $(IMAGES_FILE)),--images-file $(IMAGES_FILE))

# On the host, plain Python: building images needs only the standard library and an OCI builder.
images: $(ROOT_STAMP)
	$(ENGINE_READY)
	python3 -m kubetfx.images build --engine $(ENGINE) --image-repo $(IMAGE_REPO) --runtime-image $(RUNTIME_IMAGE) \
		$(if $(ROOT_STAMP),--runtime-root $(ROOT_DIR))

push-images: images
	python3 -m kubetfx.images push --engine $(ENGINE) --image-repo $(IMAGE_REPO) --images-file $(IMAGES_FILE)

submit: $(STAMP)
	$(IN_ENV) $(BIN)/kubetfx submit --target $(TARGET) $(if $(PIPELINE_ROOT),--pipeline-root $(PIPELINE_ROOT)) \
		$(if $(INTERACTIONS),--interactions $(INTERACTIONS)) $(if $(USERS),--users $(USERS)) $(if $(ITEMS),--items $(ITEMS)) \
		$(if $(filter-out file,$(origin SERVING_ROOT)),--serving-root $(SERVING_ROOT)) $(SUBMIT_FLAGS)

serve: $(STAMP)
	$(IN_ENV) $(BIN)/kubetfx serve --serving-root $(SERVING_ROOT) --port $(PORT)

gpu-check: $(STAMP)
	$(IN_ENV) $(BIN)/python -m kubetfx.pipelines.recommender.gpu_check

bench: $(STAMP)
	$(IN_ENV) $(BIN)/kubetfx bench --sizes $(SIZES) --evaluate-sizes $(EVAL_SIZES) --items $(BENCH_ITEMS) --out build/bench

lint: $(STAMP)
	$(IN_ENV) $(BIN)/ruff check kubetfx components pipelines tests setup.py

# Re-resolves the pins for the environment's Python: the run-time, client and dev sets, with the
# GPU block kept as it is.
lock: $(STAMP)
	$(IN_ENV) $(BIN)/python -m pip install --quiet --dry-run --ignore-installed --report build/lock-report.json \
		-r requirements.txt -r requirements-client.txt -r requirements-dev.txt
	$(IN_ENV) $(BIN)/python -m kubetfx.images lock build/lock-report.json constraints.txt

clean:
	rm -rf build
