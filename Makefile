# LAN Chat: the two commands are `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
STAMP   = $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
# Debian packages the real-window, browser and network-namespace tests use.
APT_PACKAGES = chromium xvfb xauth xdotool x11-utils imagemagick iproute2 curl \
               libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxkbcommon-x11-0 \
               libxcb-xinerama0 libxcb-randr0 libxcb-shape0 libxcb-image0 libxcb-render-util0 \
               libegl1 libgl1 libnss3 libxcomposite1 libxdamage1 libxtst6 libasound2 fonts-dejavu-core \
               fonts-noto-color-emoji

.PHONY: run headless test test-fast bench build system-deps venv clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[desktop,test,build]'
	rm -f $(VENV)/.installed-* && touch $@

venv: $(STAMP)

## Run the desktop app (falls back to serving the UI headless when there is no display).
run: venv
	$(PY) -m desktop $(ARGS)

## Host a room with no window at all.
headless: venv
	$(PY) -m server $(ARGS)

## Install what the tests need (Debian packages when root), then run every test.
test: system-deps venv
	$(PY) -m pytest $(PYTEST_ARGS)

system-deps:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	  if [ -n "$$missing" ]; then \
	    echo "Installing Debian packages: $$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  fi; \
	else echo "Not root: skipping Debian packages ($(APT_PACKAGES))"; fi

bench: venv
	$(PY) -m tests.bench $(ARGS)

build: venv
	$(PY) build_scripts/build.py $(ARGS)

clean:
	rm -rf $(VENV) build dist test-artifacts .pytest_cache
