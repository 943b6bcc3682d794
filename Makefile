# Deadline Session Watch: every target sets up what it needs on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt lambda_src/requirements.txt | cksum | cut -d' ' -f1)

.PHONY: setup test fuzz synth demo bench scan clean

setup: $(STAMP) node_modules/.installed

# Set-up writes only to stderr, so that a target's stdout is its own (make demo DEMO_ARGS=--json | jq .).
$(STAMP): requirements.txt lambda_src/requirements.txt
	@echo "setup: $(VENV) (pip install -r requirements.txt)" >&2
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) >&2
	@$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt >&2
	@rm -f $(VENV)/.installed-*
	@touch $@

node_modules/.installed: package.json package-lock.json
	@echo "setup: node_modules (npm ci: the pinned CDK CLI)" >&2
	@npm ci --no-audit --no-fund --loglevel=error >&2
	@touch $@

# derandomized hypothesis (profile "ci", tests/hypothesis_profiles.py): the same examples on every run
test: setup
	$(PY) -m pytest

# random hypothesis with 10x the examples and an example database under .hypothesis/ (profile "fuzz")
fuzz: setup
	HYPOTHESIS_PROFILE=fuzz $(PY) -m pytest -m fuzz $(FUZZ_ARGS)

synth: setup
	npx cdk synth --quiet

# No echo of the command: with --json, stdout is the JSON document and nothing else.
demo: setup
	@$(PY) -m local.demo --synth $(DEMO_ARGS)

bench: setup
	$(PY) -m benchmarks.run

.venv-checkov/.installed:
	test -x .venv-checkov/bin/python || $(PYTHON) -m venv .venv-checkov
	.venv-checkov/bin/pip install --quiet --disable-pip-version-check checkov==3.3.30
	touch $@

# checkov on the synthesised template, in its own virtualenv. Acknowledged findings carry their reasons on
# the resources (infra/checkov.py): checkov prints them as SKIPPED with the reason; any other finding fails.
scan: setup .venv-checkov/.installed
	rm -rf .build/scan && CDK_OUTDIR=.build/scan $(PY) app.py
	.venv-checkov/bin/checkov -f .build/scan/DeadlineSessionWatch.template.json --framework cloudformation --skip-download --compact

clean:
	rm -rf $(VENV) .venv-checkov node_modules cdk.out .pytest_cache .hypothesis
