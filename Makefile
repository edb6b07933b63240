# Every target installs what it needs: a fresh clone runs `make run` or `make test` and nothing else.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test lint typecheck run demo bench catalogs clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $(STAMP)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

test: install lint typecheck
	$(BIN)/pytest

run: install
	mkdir -p -m 700 var
	$(BIN)/kexue-notifier run

# The whole system offline for about a minute (tests/support/demo.py): a local blog, Telegram and SMTP server,
# simulated readers and the real service between them; it prints what each reader receives and stops by itself.
# DEMO_SPEED=fast shortens the waits (about 15 s, without the daily digest).
demo: install
	$(BIN)/python -m tests.support.demo

bench: install
	$(BIN)/python -m bench

# Re-extract every message of templates/ and the Python packages (babel.cfg) into locales/messages.pot, then
# bring each locales/<lang>/LC_MESSAGES/messages.po up to date: new messages arrive untranslated (or fuzzy, from a
# near match) and `make test` fails until they are translated. A new language: `$(BIN)/pybabel init -D messages
# -i locales/messages.pot -d locales -l <lang>`, then translate it.
catalogs: install
	$(BIN)/pybabel extract -F babel.cfg --add-comments=Translators: --add-location=file --sort-by-file --no-wrap \
		--project=kexue-notifier --version=0.1.0 --copyright-holder=kexue-notifier -o locales/messages.pot .
	$(BIN)/pybabel update -D messages -i locales/messages.pot -d locales --ignore-obsolete --no-wrap

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
