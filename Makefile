# byoc_lab — two set-up commands: `make lab` and `make test`.
# Needs only python3 (>=3.11, with venv), make and, for system packages, apt-get.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.byoc_lab-installed
LAB_PORT ?= 8888
LAB_ARGS ?=
# Jupyter refuses to run as root unless told; CI and containers run as root.
ROOT_ARGS := $(if $(filter 0,$(shell id -u)),--allow-root)
NOTEBOOKS := $(wildcard notebooks/*.ipynb)

# The interop peer, pytrickle 0.1.6 from PyPI, in its own venv: it pins av==14.2.0 and
# pulls torch, which must not meet byoc_lab's own av. torch==2.13.0 is the CPU build here.
PEER_VENV  := .venv-pytrickle
PEER_STAMP := $(PEER_VENV)/.installed-0.1.6

.PHONY: lab test demo bench soak golden notebooks lint typecheck pytest venv peers sysdeps clean help

help:
	@echo "make lab    create .venv, install everything, serve JupyterLab on the tutorials"
	@echo "make test   create .venv if needed, install, run lint, types and every test"
	@echo "make demo   run the original quickstart end to end, headless"
	@echo "make bench  measure byoc_lab beside pytrickle and the floors (under 10 min);"
	@echo "            writes benchmarks/results.md and the table in README.md"
	@echo "make soak   a 30 fps stream for SOAK_MINUTES (10) and 200 batch jobs/s for 60 s"
	@echo "            through a local network; fails if a frame is lost or anything grows"

venv: $(STAMP)

# Re-install only when the package's metadata changes.
$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "byoc_lab needs Python >= 3.11, found " + sys.version.split()[0])'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || { echo "python3 -m venv failed: install the venv module (Debian: apt-get install python3-venv)"; exit 1; }
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[lab,dev]"
	@touch $(STAMP)

peers: $(PEER_STAMP)

$(PEER_STAMP):
	@test -x $(PEER_VENV)/bin/python || $(PYTHON) -m venv $(PEER_VENV)
	$(PEER_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(PEER_VENV)/bin/python -m pip install --quiet torch==2.13.0
	$(PEER_VENV)/bin/python -m pip install --quiet --only-binary av av==14.2.0 pytrickle==0.1.6
	@touch $(PEER_STAMP)

# System packages the wheels and tests need, as package:file pairs (a shared library
# for OpenCV; a command for the media peers and for the browser tests' Chromium, which
# Playwright drives: never a downloaded browser). Installed only when missing: with
# apt-get as root (CI), through sudo, or else named for the user to install.
SYS_LIBS := libgl1:libGL.so.1 libglib2.0-0:libgthread-2.0.so.0
SYS_BINS := ffmpeg:ffprobe chromium:chromium
sysdeps:
	@missing=""; \
	for entry in $(SYS_LIBS); do \
	  pkg=$${entry%%:*}; lib=$${entry#*:}; \
	  ldconfig -p 2>/dev/null | grep -qF "$$lib" || missing="$$missing $$pkg"; \
	done; \
	for entry in $(SYS_BINS); do \
	  pkg=$${entry%%:*}; bin=$${entry#*:}; \
	  command -v "$$bin" >/dev/null || missing="$$missing $$pkg"; \
	done; \
	[ -z "$$missing" ] && exit 0; \
	echo "byoc_lab: installing system packages:$$missing"; \
	if [ "$$(id -u)" = 0 ]; then sudo=""; elif command -v sudo >/dev/null; then sudo=sudo; \
	else echo "byoc_lab: as root, run: apt-get install -y$$missing" >&2; exit 1; fi; \
	command -v apt-get >/dev/null || { echo "byoc_lab: install the equivalents of:$$missing" >&2; exit 1; }; \
	$$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends $$missing

lab: $(STAMP) sysdeps
	$(VENV)/bin/jupyter lab --ip=127.0.0.1 --port=$(LAB_PORT) --ServerApp.root_dir=notebooks $(ROOT_ARGS) $(LAB_ARGS)

# Re-run the tutorials in place so their committed outputs are current (one with
# NB=notebooks/01_quickstart.ipynb). nbval compares the cells marked NBVAL_CHECK_OUTPUT
# with these outputs in `make test`; a cell meant to fail carries the raises-exception tag.
# Widget state is not stored: it would repeat each widget's JavaScript in every notebook,
# and code hosts cannot run it anyway; displayed previews carry a still image instead.
NB ?= $(NOTEBOOKS)
notebooks: $(STAMP) sysdeps
	cd notebooks && for nb in $(notdir $(NB)); do \
	  ../$(VENV)/bin/jupyter nbconvert --to notebook --execute --inplace \
	    --ExecutePreprocessor.timeout=120 --ExecutePreprocessor.store_widget_state=False \
	    "$$nb" || exit 1; \
	done

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy

pytest: $(STAMP) sysdeps peers
	$(PY) -m pytest tests $(if $(NOTEBOOKS),notebooks --nbval-lax --nbval-current-env --nbval-cell-timeout=120 --nbval-sanitize-with notebooks/sanitize.cfg)

test: lint typecheck pytest

# The original quickstart end to end, headless: worker, orchestrator and gateway as
# separate processes on its ports (8000, 8936, 8935), then its send_job.py unchanged.
demo: $(STAMP)
	$(PY) examples/quickstart/demo.py

# Benchmarks: live streams (vs pytrickle 0.1.6 and the codec floor), batch jobs (vs a
# bare aiohttp echo), the preview in JupyterLab + Chromium, footprint. Prints each table,
# writes benchmarks/results.md and the table in README.md. `$(PY) -m benchmarks.run
# --quick` is a seconds-long smoke run; `--only batch,footprint` runs part (both print only).
bench: $(STAMP) sysdeps peers
	$(PY) -m benchmarks.run

# Soak: a 30 fps live stream for SOAK_MINUTES (default 10) and 200 batch jobs/s for 60 s
# through a LocalNetwork, sampling RSS, file descriptors and tasks; prints a table and
# fails if a frame is lost or anything keeps growing. `make soak SOAK_MINUTES=1` is quick.
SOAK_MINUTES ?= 10
soak: $(STAMP)
	$(PY) -m tests.reliability.soak --minutes $(SOAK_MINUTES)

# The golden export contexts (docker/examples/) and the package's copy of the export
# templates, both regenerated from docker/templates/; tests/export checks they agree.
golden: $(STAMP)
	$(PY) tests/export/golden.py

clean:
	rm -rf $(VENV) $(PEER_VENV) build *.egg-info .mypy_cache .ruff_cache .pytest_cache
