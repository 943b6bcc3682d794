# Deadline Session Watch: every target sets up what it needs on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt lambda_src/requirements.txt | cksum | cut -d' ' -f1)

.PHONY: setup test fuzz synth demo bench scan clean

setup: $(STAMP) node_modules/.installed

$(STAMP): requirements.txt lambda_src/requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	rm -f $(VENV)/.installed-*
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# derandomized hypothesis (profile "ci", tests/hypothesis_profiles.py): the same examples on every run
test: setup
	$(PY) -m pytest

# random hypothesis with 10x the examples and an example database under .hypothesis/ (profile "fuzz")
fuzz: setup
	HYPOTHESIS_PROFILE=fuzz $(PY) -m pytest -m fuzz $(FUZZ_ARGS)

synth: setup
	npx cdk synth --quiet

demo: setup
	$(PY) -m local.demo --synth $(DEMO_ARGS)

bench: setup
	$(PY) -m benchmarks.run

.venv-checkov/.installed:
	test -x .venv-checkov/bin/python || $(PYTHON) -m venv .venv-checkov
	.venv-checkov/bin/pip install --quiet --disable-pip-version-check checkov==3.3.30
	touch $@

# checkov on the synthesised template, in its own virtualenv (findings and reasons: docs/hardening.md)
scan: setup .venv-checkov/.installed
	rm -rf .build/scan && CDK_OUTDIR=.build/scan $(PY) app.py
	.venv-checkov/bin/checkov -f .build/scan/DeadlineSessionWatch.template.json --framework cloudformation --skip-download --compact

clean:
	rm -rf $(VENV) .venv-checkov node_modules cdk.out .pytest_cache .hypothesis
