# The two commands of README.md: `make demo` and `make test`. Each makes .venv and installs the project first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: demo test bench install clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-* && touch $@

demo: $(STAMP)
	$(BIN)/govledger demo

test: $(STAMP)
	$(BIN)/python -m pytest -n auto

bench: $(STAMP)
	$(BIN)/python bench/append.py
	$(BIN)/python bench/group_commit.py
	$(BIN)/python bench/routing.py
	$(BIN)/python bench/verify.py
	$(BIN)/python bench/projections.py
	$(BIN)/python bench/train.py

clean:
	rm -rf $(VENV) govledger-data
