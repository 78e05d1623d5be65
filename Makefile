# dicomfab — every set-up step lives here, so a fresh machine needs only `make demo` or `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEBIAN_PACKAGES := dcmtk dicom3tools orthanc orthanc-dicomweb orthanc-postgresql postgresql \
                   postgresql-contrib gcc libc6-dev openssh-client openssh-server chromium
WEB_BUILT := src/dicomfab/web/static/index.html
WEB_SOURCES := web/package.json web/package-lock.json web/index.html web/vite.config.ts \
               web/tsconfig.json web/openapi.json \
               $(shell find web/src -type f ! -name '*.gen.ts' 2>/dev/null)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: help venv deps system-deps web demo test lint format dist dist-check bench clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | column -t -s "$$(printf '\t')"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)  ## create .venv with dicomfab and its development tools

# policy-rc.d (exit 101) keeps the packages' own services from starting while they install (Orthanc
# would listen on 0.0.0.0, the system PostgreSQL on 5432, sshd on 22): the tests start their
# own, on loopback.
system-deps:  ## install the Debian packages the tests use: DICOM tools, Orthanc, PostgreSQL, gcc, ssh, chromium
	@missing=""; for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  guard=""; \
	  if [ ! -e /usr/sbin/policy-rc.d ]; then \
	    printf '#!/bin/sh\nexit 101\n' | $(SUDO) tee /usr/sbin/policy-rc.d >/dev/null; \
	    $(SUDO) chmod +x /usr/sbin/policy-rc.d; guard=1; \
	  fi; \
	  $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq --no-install-recommends $$missing >/dev/null; rc=$$?; \
	  if [ -n "$$guard" ]; then $(SUDO) rm -f /usr/sbin/policy-rc.d; fi; \
	  exit $$rc; \
	fi

deps: venv system-deps  ## everything the tests need

demo: venv  ## run the whole scenario library end to end against the embedded PACS (./runs/<time>/)
	$(BIN)/dicomfab run --image-size small

lint: venv  ## ruff (lint + format check) and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: venv  ## apply ruff's formatting and fixes
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# the front end is built with the machine's Node.js and npm from the committed lockfile
$(WEB_BUILT): $(WEB_SOURCES)
	@command -v npm >/dev/null || { echo "the web UI is built with Node.js >= 20 and npm: install them"; exit 1; }
	cd web && npm ci --no-audit --no-fund --loglevel=error && npm run build

web: $(WEB_BUILT)  ## build the web UI (React + Vite) into src/dicomfab/web/static

test: deps web lint  ## install everything, build the UI, lint, and run the whole test suite
	$(BIN)/pytest -n 2 --dist loadfile

# the wheel and the sdist carry the built UI (src/dicomfab/web/static, gitignored: package-data);
# without PYTHONDONTWRITEBYTECODE, which only makes setuptools warn (a wheel holds no .pyc anyway)
dist: venv web  ## build the UI, then the wheel and the sdist into dist/
	rm -rf dist
	env -u PYTHONDONTWRITEBYTECODE $(BIN)/python -m build --outdir dist .

dist-check: dist  ## install the wheel in a fresh venv, without extras then with [ui], and try it
	PYTHON=$(PYTHON) .ci/dist-check dist

bench: venv system-deps  ## run the benchmarks (print ratios against baselines measured in the same run)
	$(BIN)/python benchmarks/generate.py
	$(BIN)/python benchmarks/ingest.py
	$(BIN)/python benchmarks/links.py
	$(BIN)/python benchmarks/startup.py

clean:  ## remove generated data and caches (keeps .venv)
	rm -rf out tmp dist build .pytest_cache .mypy_cache .ruff_cache .hypothesis
