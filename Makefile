# LAN Chat: the two commands are `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
STAMP   = $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
# Debian packages the real-window, browser and network-namespace tests use (and binutils,
# whose readelf and strip the build uses to leave out unused libraries and debug symbols).
APT_PACKAGES = chromium xvfb xauth xdotool x11-utils imagemagick iproute2 curl binutils tcpdump \
               libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxkbcommon-x11-0 \
               libxcb-xinerama0 libxcb-randr0 libxcb-shape0 libxcb-image0 libxcb-render-util0 \
               libegl1 libgl1 libnss3 libxcomposite1 libxdamage1 libxtst6 libasound2 fonts-dejavu-core \
               firefox-esr webkit2gtk-driver \
               fonts-noto-core fonts-noto-cjk fonts-noto-color-emoji
# node and npm, for the npm packages the browser tests load into pages (tests/package.json).
# Installed only when there is no npm at all: a node from elsewhere often bundles its own npm and
# conflicts with Debian's npm package.
NODE_PACKAGES = nodejs npm
NODE_STAMP = tests/node_modules/.installed-$(shell cat tests/package.json | cksum | cut -d' ' -f1)

.PHONY: run headless test test-fast bench build system-deps node-deps venv clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[desktop,test,build]'
	rm -f $(VENV)/.installed-* && touch $@

venv: $(STAMP)

# Exact versions from tests/package.json; no lockfile is kept (the versions are pinned there).
$(NODE_STAMP): tests/package.json
	@if command -v npm >/dev/null; then \
	  cd tests && npm install --no-package-lock --no-audit --no-fund --loglevel=error && \
	  rm -f node_modules/.installed-* && touch ../$@; \
	else echo "No npm: skipping tests/package.json (the tests that need it say what is missing)"; fi

node-deps: $(NODE_STAMP)

## Run the desktop app (falls back to serving the UI headless when there is no display).
run: venv
	$(PY) -m desktop $(ARGS)

## Host a room with no window at all.
headless: venv
	$(PY) -m server $(ARGS)

## Install what the tests need (Debian packages when root), then run every test.
test: system-deps venv node-deps
	$(PY) -m pytest $(PYTEST_ARGS)

system-deps:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	  command -v npm >/dev/null || missing="$$missing $(NODE_PACKAGES)"; \
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
	rm -rf $(VENV) build dist test-artifacts .pytest_cache tests/node_modules
