# The few commands people type. `make help` lists them.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PHOTOS ?=
HOST ?= 127.0.0.1
PORT ?= 5000
# The real models and photos the tests read (README, "Test data"): ATW_TEST_DATA, default
# ../shared; `make test-data` downloads them. When the models are there (this project's
# development machines), index with them too; override or set ATW_* in the environment elsewhere.
ATW_TEST_DATA ?= ../shared
export ATW_TEST_DATA := $(abspath $(ATW_TEST_DATA))
SHARED := $(ATW_TEST_DATA)
SHARED_CLS := $(wildcard $(SHARED)/models/mobilenet_v2_imagenet_from_tflite.pth)
SHARED_YOLO := $(wildcard $(SHARED)/models/yolov8n_int8.onnx)
ifneq ($(SHARED_CLS),)
export ATW_IMAGENET_MODEL ?= mobilenet_v2
export ATW_IMAGENET_WEIGHTS ?= $(SHARED_CLS)
endif
ifneq ($(SHARED_YOLO),)
export ATW_YOLO_MODEL ?= $(SHARED_YOLO)
endif

.PHONY: help setup setup-dev system-deps index serve run test test-fast test-data lint format bench clean

help:
	@echo "make run PHOTOS=/path/to/photos   set up, index PHOTOS, then serve the dashboard on $(HOST):$(PORT)"
	@echo "make run                          serve what is already indexed"
	@echo "make test                         set up (venv, pip, apt) and run the whole test suite"
	@echo "make test-fast                    the tests without the slow and browser ones"
	@echo "make test-data                    download the tests' models and photos into ATW_TEST_DATA"
	@echo "make index PHOTOS=...             index (incremental) without serving"
	@echo "make serve                        serve the dashboard (waitress)"
	@echo "make lint / make format           ruff; lint: also the import contracts and cycle check"
	@echo "make bench                        run the benchmarks in bench/"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# The pinned set (requirements.txt, the README's), then atw itself, editable and without
# dependencies (they are the pinned ones; `pip check` says they satisfy pyproject.toml): this
# puts the `atw` command in $(BIN).
$(VENV)/.installed: requirements.txt pyproject.toml $(BIN)/python
	$(BIN)/pip install -q -r requirements.txt
	$(BIN)/pip install -q --no-deps -e .
	$(BIN)/pip check
	touch $@

$(VENV)/.installed-dev: requirements-dev.txt requirements.txt $(VENV)/.installed
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@

setup: $(VENV)/.installed

setup-dev: $(VENV)/.installed-dev system-deps

# exiftool (reference values in tests), Chromium (browser tests) and PostgreSQL's programs
# (the tests start a throwaway cluster of their own, tests/pg.py: no server needs to run),
# from Debian's packages.
system-deps:
	@if ! command -v exiftool >/dev/null || ! command -v chromium >/dev/null \
	  || ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	      chromium libimage-exiftool-perl fonts-dejavu-core postgresql; \
	  else \
	    echo "Please install: sudo apt-get install chromium libimage-exiftool-perl postgresql"; \
	    exit 1; \
	  fi; \
	fi

index: setup
	@test -n "$(PHOTOS)" || (echo "usage: make index PHOTOS=/path/to/photos" && exit 2)
	$(BIN)/atw index $(PHOTOS)

serve: setup
	$(BIN)/atw serve --host $(HOST) --port $(PORT)

# With PHOTOS: index them (incremental), then serve. Without: serve what is already indexed
# (an empty index shows the dashboard's first page, which says which command to run).
run: setup
	@if [ -n "$(PHOTOS)" ]; then $(MAKE) --no-print-directory index PHOTOS="$(PHOTOS)"; \
	else echo "atw: no PHOTOS given: serving what is already indexed (make run PHOTOS=/path/to/photos indexes a folder first)"; fi
	@$(MAKE) --no-print-directory serve

test: setup-dev
	$(BIN)/python -m pytest

test-fast: setup-dev
	$(BIN)/python -m pytest -m "not slow and not browser"

# Download the real models and photos where missing, from the public sources in
# tests/data/manifest.csv (sha256 checked; nothing overwritten); Python's standard library only.
test-data:
	$(PYTHON) scripts/test_data.py fetch --dir "$(SHARED)"

# ruff, then the import contracts of pyproject.toml and the cycle check (docs/architecture.md).
lint: setup-dev
	$(BIN)/ruff check . && $(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/python scripts/check_import_cycles.py

format: setup-dev
	$(BIN)/ruff check --fix . && $(BIN)/ruff format .

bench: setup-dev
	$(BIN)/python bench/index_throughput.py

clean:
	rm -rf .pytest_cache .ruff_cache test-artifacts
