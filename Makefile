# HW7 VAE airfoil kit. Every target is one call; the logic lives in Python.
#   make grade   grade the submissions in $(SUBMISSIONS) into $(OUT)   (sets itself up; STRICT=1: only sandboxed)
#   make audit   a TA's check of the 2.3 scores in $(OUT): sample, page, sheet; once filled, the agreement
#   make test    lint (ruff, import contracts) + tests                 (sets itself up)
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements-installed
DATA := data/airfoils.npz
SUBMISSIONS ?= examples/submissions
OUT ?= grades

.PHONY: setup data test lint student pdf grade audit examples gradescope handout fuzz bench clean lock

setup: $(STAMP) $(DATA)

# pip installs torch and uv: where a machine keeps torch's CPU build on disk for pip (these do), only pip finds it.
# On Linux, PyPI's torch is the CUDA build, which loads NVIDIA libraries that --no-deps leaves out: PyTorch's CPU
# index is offered too, and its build wins (2.13.0+cpu sorts above 2.13.0).  uv installs the rest, several
# downloads at a time, and byte-compiles on every core: about a minute less than pip on 2 cores
# (bench/README.md).  Where uv cannot (an index configured for pip alone, say), pip does it all.  Last, torch
# must import (autograder/run/preflight.py names the fix if not).  (--retries 2: where that index cannot be
# reached, as on machines with a PyPI mirror only, pip gives up on it in seconds, not after its backoff.)
TORCH_INDEX := $(if $(filter Linux,$(shell uname -s)),--retries 2 --extra-index-url https://download.pytorch.org/whl/cpu)
$(STAMP): requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python >= 3.11 is needed (PYTHON=$(PYTHON))"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps $(TORCH_INDEX) $$(grep -E '^torch==' requirements.txt)
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps $$(grep -E '^uv==' requirements.txt)
	$(VENV)/bin/uv pip install --quiet --system-certs --python $(PY) --no-deps --compile-bytecode -r requirements.txt \
	  || $(PY) -m pip install --quiet --disable-pip-version-check --no-deps -r requirements.txt
	$(PY) -m autograder.run.preflight
	$(PY) scripts/install_jupyter_config.py
	touch $@

$(DATA): | $(STAMP)
	$(PY) scripts/build_dataset.py

# Rebuild on demand: make data FORCE=1
data: $(STAMP)
	$(PY) scripts/build_dataset.py $(if $(FORCE),--force)

# ruff, then the layering contract (pyproject.toml's [tool.importlinter]: what may import what).
lint: $(STAMP)
	$(PY) -m ruff check .
	$(VENV)/bin/lint-imports --no-cache

# Two pytest-xdist workers, a test file each at a time, in tests/conftest.py's order (the longest files
# first; by default xdist would reorder them by their number of tests): the suite's gradings use both
# cores.  TEST_WORKERS=0 runs it in one process.
TEST_WORKERS ?= 2
test: setup lint
	$(PY) -m pytest $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder) $(PYTEST_ARGS)

# The main job: grade every submission in $(SUBMISSIONS) (default: the bundled examples) into $(OUT)/.
grade: setup
	$(PY) -m autograder grade-all $(SUBMISSIONS) --out $(OUT) $(if $(WORKERS),--workers $(WORKERS)) $(if $(FORCE),--force) $(if $(SCHEDULER),--scheduler $(SCHEDULER)) $(if $(ROSTER),--roster $(ROSTER)) $(if $(STRICT),--strict) $(if $(NO_CACHE),--no-cache)

# The audit of part 2.3 by a TA (autograder/audit.py): AUDIT_SIZE submissions drawn with SEED.
AUDIT_SIZE ?= 12
SEED ?= 0
audit: setup
	$(PY) -m autograder audit --out $(OUT) --size $(AUDIT_SIZE) --seed $(SEED)

# Regenerate examples/submissions/ from the solution and student notebooks.
examples: setup
	$(PY) scripts/make_examples.py

# The Gradescope autograder zip: build/autograder.zip
gradescope: $(STAMP)
	$(PY) scripts/make_gradescope.py

# What students get: build/handout/HW7/ and build/HW7_handout.zip (the same files).
handout: setup
	$(PY) scripts/make_handout.py

# The student notebook, generated from the solution with nbgrader's preprocessors.
student: $(STAMP)
	$(PY) scripts/make_student.py

# A PDF of an executed notebook: make pdf NB=path/to/executed.ipynb (default: the solution, run into build/).
NB ?=
pdf: setup
	$(PY) scripts/make_pdf.py $(NB)

# The long fuzzing run of the intake (10,000 examples per test; make test runs 150).
fuzz: setup
	HW7_FUZZ_EXAMPLES=10000 $(PY) -m pytest tests/test_fuzz.py -q

bench: setup
	$(PY) bench/run_all.py

clean:
	rm -rf $(VENV) data grades build .pytest_cache .ruff_cache

# Re-pin every dependency from the current virtual environment, in requirements.txt's order and with its
# comments (pip freeze -r); setuptools too (--all: torch needs it, and the file is installed with --no-deps).
lock: $(STAMP)
	$(PY) -m pip freeze --all --exclude-editable -r requirements.txt | grep -v -e '^pip==' -e '^## The following' | sed -e 's/+cpu$$//' > requirements.txt.new && mv requirements.txt.new requirements.txt
