# Two entry points (see README): `make book` and `make test`. Each creates .venv
# and installs the pinned stack on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: book test bench clean

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

# The real reproduction: every notebook in the `paper` profile. Runs already in
# results/ are read from the store, the rest are computed (several hours from
# empty on 2 cores; 3-4 minutes with the store filled). --all re-executes every
# chapter: Sphinx alone would skip chapters whose text is unchanged even when the
# package changed.
book: $(STAMP)
	HCVAE_PROFILE=paper $(BIN)/jupyter-book build --all -W -n --keep-going .
	@echo "Open _build/html/index.html"

# Unit tests, nbval over every notebook and the strict book build, all in the `quick` profile.
test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py
	$(BIN)/python benchmarks/gmm_parallel.py
	$(BIN)/python benchmarks/hct_overhead.py
	$(BIN)/python benchmarks/sweep_scaling.py
	$(BIN)/python benchmarks/baselines_cost.py

clean:
	rm -rf _build
