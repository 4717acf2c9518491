# The two commands: `make run` serves the portal, `make test` runs every check.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck unit system-packages browser-tools bench clean pam messages

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/otpgate serve

system-packages:
	bash scripts/system-packages.sh

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -q

# axe-core, which the browser tests inject into each page to check accessibility (WCAG
# 2.1 A/AA). Without npm the accessibility test skips, naming what is missing (it fails
# under CI=true).
AXE_CORE_VERSION := 4.10.3
NODE_TOOLS := .cache/node
browser-tools:
	@if command -v npm >/dev/null; then \
		test -f $(NODE_TOOLS)/node_modules/axe-core/package.json \
		&& grep -q '"version": "$(AXE_CORE_VERSION)"' $(NODE_TOOLS)/node_modules/axe-core/package.json \
		|| npm install --prefix $(NODE_TOOLS) --no-audit --no-fund --save-exact axe-core@$(AXE_CORE_VERSION); \
	else echo "npm not found: install Debian's npm for the accessibility test" >&2; fi

test: $(STAMP) system-packages browser-tools lint typecheck unit

# The SSH PAM module (needs gcc and libpam0g-dev); install it with
# `install -m 0644 pam/pam_otpgate.so /lib/$$(gcc -print-multiarch)/security/`.
PAM_CFLAGS ?= -O2 -Wall -Wextra -Werror -fPIC -D_FORTIFY_SOURCE=2 -fstack-protector-strong
pam: pam/pam_otpgate.so

pam/pam_otpgate.so: pam/pam_otpgate.c
	$(CC) $(PAM_CFLAGS) -shared -o $@ $< -lpam

# Benchmarks are not tests: they print ratios against peers measured in the same run.
bench: $(STAMP)
	$(BIN)/python benchmarks/otp_core.py
	$(BIN)/python benchmarks/http_verify.py

# Translations: extract the strings, merge them into the catalogs, compile the .mo files.
LOCALE := src/otpgate/web/locale
messages: $(STAMP)
	$(BIN)/pybabel extract -F $(LOCALE)/babel.cfg -k N_ --no-location --omit-header \
		-o $(LOCALE)/messages.pot src/otpgate/web
	$(BIN)/pybabel update -i $(LOCALE)/messages.pot -d $(LOCALE) -D messages -w 100
	$(BIN)/pybabel compile -d $(LOCALE) -D messages --statistics

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .cache
