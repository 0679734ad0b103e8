# Shoal: the two commands a newcomer needs.
#   make demo   set everything up, then run the main job on the embedded local model
#   make test   set everything up, then run the whole test suite (what CI runs)
SHELL := /bin/bash
VENV  := .venv
SHOAL := $(VENV)/bin/shoal
PYTEST_ARGS ?=

.PHONY: setup demo test test-fast lint doctor clean-workspace sandbox-image

setup:
	@bash scripts/setup.sh

DEMO_TOPIC ?= Does momentum speed up full-batch gradient descent on a small synthetic least-squares problem?

demo: setup  ## a complete small run on the embedded model: ideas -> experiments -> figures -> paper -> review
	$(SHOAL) --config configs/demo.toml run --topic "$(DEMO_TOPIC)" --num-ideas 1 --max-revisions 0 \
	  --code-to-use configs/demo_baseline.py

test: setup lint  ## lint first (ruff, ruff format, mypy), then the whole test suite: what CI runs
	$(VENV)/bin/python -m pytest -q $(PYTEST_ARGS)

test-fast: setup  ## everything except the tests that run the real embedded model
	$(VENV)/bin/python -m pytest -q -m "not embedded" $(PYTEST_ARGS)

lint:  ## ruff check, ruff format --check and mypy over agents/ and reviewer/ (config in pyproject.toml)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

doctor: setup
	$(SHOAL) doctor

sandbox-image:  ## an image with the experiment environment (docker/sandbox-requirements.txt) for the docker backend
	docker build -f docker/sandbox.Dockerfile -t shoal-sandbox:latest \
	  --build-arg SHOAL_REQUIREMENTS_SHA256=$$(sha256sum docker/sandbox-requirements.txt | cut -d' ' -f1) docker

clean-workspace:
	find workspace -mindepth 1 -not -name .gitkeep -delete
