# Two commands matter: `make demo` and `make test`. Each sets itself up on a fresh machine.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# Keep TensorFlow's C++ logging quiet; keep tests on 2 workers (CI has 2 cores).
export TF_CPP_MIN_LOG_LEVEL := 2
export PYTHONUNBUFFERED := 1
PYTEST_WORKERS ?= 2

.PHONY: setup demo test test-tf test-jax test-torch bench docs clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[test,jax,torch]"
	touch $(STAMP)

# The flagship recipe (overfitting of the lecture's 5x100 MLP and what each
# regularizer does about it), quick mode, embedded digits.  On JAX by default:
# its 190 copies train in kerasreg.stacked's compiled programs, which JAX traces
# and compiles in a third of TensorFlow's time on CPU (README, "The flagship").
# `make demo DEMO_BACKEND=tensorflow` runs the same recipe on TensorFlow.
DEMO_BACKEND ?= jax
demo: $(STAMP)
	@KERAS_BACKEND=$(DEMO_BACKEND) $(VENV)/bin/kerasreg run overfitting --quick; rc=$$?; \
	if [ $$rc -eq 1 ]; then echo "make demo: the flagship ran; a claim did not hold at this seed (said in words in runs/overfitting/report.md)"; exit 0; fi; exit $$rc

test: test-tf test-jax test-torch

test-tf: $(STAMP)
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist worksteal -q -p no:cacheprovider tests

# Second pass: the backend-neutral tests (conformance, numpy references) on JAX.
test-jax: $(STAMP)
	KERAS_BACKEND=jax $(PY) -m pytest -n $(PYTEST_WORKERS) --dist worksteal -q -p no:cacheprovider -m jax_pass tests

# Third pass: the same backend-neutral tests on torch (CPU build).  Skipped on
# torch, each with its reason (tests/conftest.py, no_torch markers): synchronized
# BatchNormalization (Keras' torch backend has no synchronized moments),
# jit_compile=True (torch.compile: minutes per model on 2 cores; the
# jit_compile=False case of the same test runs) and kerasreg.stacked (no
# vectorized gradient in Keras' torch backend).
test-torch: $(STAMP)
	KERAS_BACKEND=torch $(PY) -m pytest -n $(PYTEST_WORKERS) --dist worksteal -q -p no:cacheprovider -m jax_pass tests

# The API reference (HTML, pdoc) from the docstrings, in docs/api/; any pdoc warning fails it.
# (tests/test_doctests.py builds it too, so `make test` checks it.)
docs: $(STAMP)
	$(PY) docs/build_api.py docs/api

bench: $(STAMP)
	$(PY) -m pip install -q "torch==2.13.0"
	for b in benchmarks/*.py; do $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache runs docs/api
