# Two commands: `make demo` and `make test`. Each creates .venv when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# uv resolves and installs in parallel: this step took 10 s here with uv's cache empty, against
# 44-53 s with pip's cache filled (2026-11-28). Where uv cannot run or reach its index (it
# ignores pip's own settings, such as a private mirror), pip installs the same thing.
$(STAMP): $(BIN)/python pyproject.toml
	( $(BIN)/python -m pip install --quiet uv && \
	  $(BIN)/uv pip install --quiet --python $(BIN)/python -e ".[test]" ) || \
	( $(BIN)/python -m pip install --quiet --upgrade pip && $(BIN)/python -m pip install --quiet -e ".[test]" )
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m imitax.demo

test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 --dist loadfile --no-loadscope-reorder --durations=15

bench: $(STAMP)
	$(BIN)/python benchmarks/speed.py

clean:
	rm -rf $(VENV) runs build src/*.egg-info
