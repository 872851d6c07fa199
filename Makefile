# seqstack: `make demo` sets everything up and runs the pipeline locally; `make test` runs the checks.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# command:package where they differ (igzip is in Debian's isal).
APT_TOOLS := fastqc bwa samtools igzip:isal
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all setup venv tools demo test lint typecheck unit golden bench bench-peer bench-check images clean

all: test

setup: venv tools

# The virtualenv with seqstack and its dev tools, rebuilt when pyproject.toml changes.
venv: $(BIN)/seqstack
$(BIN)/seqstack: pyproject.toml
	@# Debian and Ubuntu ship venv's pip bootstrap separately (python3-venv).
	@$(PYTHON) -c 'import ensurepip' 2>/dev/null || { \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq python3-venv; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@# pulumi-policy pins protobuf 5 while the Google clients need protobuf 6; the pack works with 6,
	@# so install it without letting it downgrade protobuf (the pack's own venv uses policies/requirements.txt).
	$(BIN)/pip install --quiet --no-deps 'pulumi-policy==1.21.0'
	@touch $@

# FastQC, bwa, samtools and igzip from Debian/Ubuntu packages, installed only when missing.
tools:
	@missing=""; for t in $(APT_TOOLS); do command -v $${t%%:*} >/dev/null || missing="$$missing $${t##*:}"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

demo: setup
	$(BIN)/seqstack demo --outdir demo-results

test: setup lint typecheck unit

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck:
	$(BIN)/mypy stacks components workflows seqstack policies

# pytest exits 5 when it collected no test: that is a failure here, never a silent pass.
unit:
	$(BIN)/pytest -q

# Regenerate golden files (workflow YAML); review the diff before committing. Never run in CI.
golden: venv
	$(BIN)/python -m tests.regenerate_golden

bench: setup
	$(BIN)/python benchmarks/mock_evaluation.py
	$(BIN)/python benchmarks/render_scale.py

# seqstack run vs Snakemake vs a plain shell loop vs the CPU floor, on three workloads (issue 16);
# installs its pinned Snakemake into benchmarks/.venv-snakemake once. Long: PEER_ARGS='--workload c --repeat 1'.
PEER_ARGS ?=
bench-peer: setup
	$(BIN)/python benchmarks/peer.py $(PEER_ARGS)

# The FASTQ input check's CPU on one 1 M-read file vs decompressing alone vs dnaio (installed into
# benchmarks/.venv-dnaio once).
bench-check: setup
	$(BIN)/python benchmarks/fastq_check.py

# Build every tool image (containers/<name>/Dockerfile) for linux/amd64 as seqstack/<name>:local,
# then run each line of containers/<name>/smoke the way the pipeline's pods run scripts: bash -c,
# uid 1000, read-only root filesystem, no network, no capabilities, /work the only writable place.
# Needs Docker; `pulumi up` builds and pushes the same Dockerfiles to the stack's registry.
IMAGES := $(patsubst containers/%/Dockerfile,%,$(wildcard containers/*/Dockerfile))
images:
	@command -v docker >/dev/null || { echo "make images needs Docker (docker not found on PATH)"; exit 1; }
	@set -euo pipefail; for image in $(IMAGES); do \
	  docker build --platform linux/amd64 -t seqstack/$$image:local containers/$$image; \
	  grep -v -e '^[[:space:]]*#' -e '^[[:space:]]*$$' containers/$$image/smoke | while IFS= read -r cmd; do \
	    echo "smoke $$image: $$cmd"; \
	    docker run --rm --platform linux/amd64 --user 1000:1000 --read-only --network none --cap-drop ALL \
	      --security-opt no-new-privileges --tmpfs /work:uid=1000,gid=1000 -e WORK=/work -e TMPDIR=/work -e HOME=/work \
	      seqstack/$$image:local bash -c "set -euo pipefail; $$cmd" </dev/null; \
	  done; \
	done

clean:
	rm -rf $(VENV) benchmarks/.venv-snakemake benchmarks/.venv-dnaio demo-results .mypy_cache .ruff_cache .pytest_cache
