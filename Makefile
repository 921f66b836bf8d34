# BioXen computation services — one entry point for set-up, tests, demo and benchmarks.
# Everything installs into .venv (Python) and .tools/bin (helm); system servers (prometheus,
# dnsmasq) come from Debian packages through scripts/install-tools.sh; the images are built by a real
# Docker engine through scripts/images.sh (which installs and starts one where none runs).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# what the demo needs (the services with their engines, the VM package, matplotlib), without the test
# tools: `make demo` alone builds only this; `make install` / `make test` add the rest on top
DEMO_STAMP := $(VENV)/.installed-demo
export PATH := $(CURDIR)/.tools/bin:$(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: install tools images images-stop image-facts test test-fast demo bench soak kind-e2e serve-static serve-dynamic clean

install: $(STAMP)

$(DEMO_STAMP): common/pyproject.toml services/pyproject.toml vm_client/pyproject.toml
	@echo "== creating $(VENV) and installing the demo: bioxen-common, bioxen-services (cobra, libroadrunner," \
	      "antimony), bioxen-vm with matplotlib; a few minutes on a fresh machine =="
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --progress-bar on --upgrade pip
	$(PY) -m pip install --progress-bar on -e common -e 'services[static,dynamic]' -e 'vm_client[plot]'
	touch $(DEMO_STAMP)

$(STAMP): $(DEMO_STAMP) requirements-dev.txt
	@echo "== installing the test and benchmark tools (requirements-dev.txt), requests and pandas =="
	$(PY) -m pip install --progress-bar on -e 'vm_client[plot,requests,pandas]' -r requirements-dev.txt
	touch $(STAMP)

tools:
	bash scripts/install-tools.sh

# The three images, tagged as the chart names them (the container tests in make test build them too).
images: install tools
	PY=$(CURDIR)/$(PY) bash scripts/images.sh build

# Stops the dockerd that scripts/images.sh started from this checkout, if any (pid in .tools/dockerd.pid).
images-stop:
	bash scripts/images.sh stop-engine

# Writes the image facts the container tests recorded into deploy/README.md.
image-facts: install
	$(PY) tests/containers/facts.py

test: install tools
	$(PY) -m pytest tests

test-fast: install
	$(PY) -m pytest tests -m "not slow"

demo: $(DEMO_STAMP)
	$(VENV)/bin/bioxen demo

bench: install
	$(PY) bench/run.py --out bench/results.json

soak: install
	$(PY) bench/soak.py

kind-e2e:
	bash deploy/kind/e2e.sh

serve-static: install
	$(VENV)/bin/bioxen serve static --port 8001

serve-dynamic: install
	$(VENV)/bin/bioxen serve dynamic --port 8002

clean:
	rm -rf $(VENV) .tools .pytest_cache
