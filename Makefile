# Everything runs inside .venv, created on first use, so a machine with only python3 and make suffices.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
MO_FILES := $(patsubst %.po,%.mo,$(wildcard webapp/translations/*/LC_MESSAGES/messages.po))

.PHONY: run test lint bench translations extract clean

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

%.mo: %.po $(STAMP)
	$(BIN)/pybabel compile --use-fuzzy -i $< -o $@

translations: $(MO_FILES)

run: $(STAMP) translations
	$(BIN)/srsp demo run

test: $(STAMP) translations
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .

BENCHMARKS ?= registration collect synth means_test payroll cases

bench: $(STAMP) translations
	@for name in $(BENCHMARKS); do \
	  if [ -f bench/$$name.py ]; then echo "== bench/$$name.py"; $(BIN)/python -m bench.$$name || exit 1; fi; \
	done

extract: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -o webapp/translations/messages.pot .
	$(BIN)/pybabel update -i webapp/translations/messages.pot -d webapp/translations --no-fuzzy-matching

clean:
	rm -rf $(VENV) instance .pytest_cache
