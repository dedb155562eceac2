# Two commands do all the set-up: `make run` and `make test`.
PY        ?= python3
VENV      ?= .venv
BIN       := $(VENV)/bin
TORCH_CPU ?= torch==2.13.0
SHARED    := $(abspath ../shared/data)
export PAPERZOO_DATA ?= $(if $(wildcard $(SHARED)),$(SHARED),)

.PHONY: run test test-all lint venv install install-dev report site bench mutate clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# CPU wheel first, so the package's `torch>=2.3` range is already met and no CUDA build is pulled.
	$(BIN)/pip install -q "$(TORCH_CPU)"

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-dev: $(BIN)/python pyproject.toml
	$(BIN)/pip install -q -e ".[dev]"
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

run: install  ## reproduce one paper's effect on the CPU (about 2 min) and print our numbers next to the paper's
	$(BIN)/paperzoo reproduce neural-collapse --protocol cpu --seed 0 --set net_depths=1 --set imb_depths=1

test: install-dev lint  ## lint, then the fast suite (< 10 min on 2 cores; slowest tests printed)
	$(BIN)/python -m pytest -q -n 2 --durations=15

lint: install-dev
	$(BIN)/ruff check src tests tools

mutate: install-dev  ## mutation testing of one paper: make mutate PKG=hopfield [FILES="retrieval.py"]
	$(BIN)/python -c "import mutmut" 2>/dev/null || $(BIN)/pip install -q -e ".[dev,mutate]"
	tools/mutate.sh $(PKG) $(FILES)

test-all: install-dev  ## everything, slow checks included
	$(BIN)/python -m pytest -q -m ""

report: install-dev
	$(BIN)/paperzoo report

site: install-dev  ## the static results site in site/ (open site/index.html)
	$(BIN)/paperzoo report --html site

bench: install-dev  ## every paper's side-by-side benchmark (its bench.py), CSVs under results/bench/
	for s in $$($(BIN)/python -c "from paperzoo.bench import benches; print(*benches())"); do \
	  $(BIN)/paperzoo bench $$s || exit 1; done

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache
