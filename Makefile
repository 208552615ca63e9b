# ch9-interpret: `make lab` opens the course, `make test` runs every test.
# Both create .venv on first use and install the pinned dependencies.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PORT   ?= 8888
# Tests and nbval always use the bundled models, fully offline.
TEST_ENV := CH9_MODEL_SOURCE=bundled HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1

.PHONY: install lab test unit nbval browser student slides bench sync clean

install: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name ch9-interpret \
		--display-name "Python (ch9-interpret)" >/dev/null
	touch $(STAMP)

# Opens JupyterLab on notebooks/ (prints the URL). --allow-root because
# classroom images and CI often run as root; --no-browser when there is no display.
lab: install
	$(BIN)/jupyter lab --notebook-dir=notebooks --port=$(PORT) --ip=127.0.0.1 \
		$$( [ "$$(id -u)" = 0 ] && echo --allow-root ) \
		$$( [ -z "$$DISPLAY" ] && echo --no-browser )

test: install
	$(TEST_ENV) $(BIN)/python -m pytest tests --ignore=tests/browser --ignore=tests/editions
	$(TEST_ENV) $(BIN)/python -m pytest --nbval --nbval-current-env \
		--nbval-sanitize-with tests/sanitize.cfg notebooks
	$(TEST_ENV) $(BIN)/python -m pytest tests/editions tests/browser

unit: install
	$(TEST_ENV) $(BIN)/python -m pytest tests --ignore=tests/browser --ignore=tests/editions

browser: install
	$(TEST_ENV) $(BIN)/python -m pytest tests/browser

nbval: install
	$(TEST_ENV) $(BIN)/python -m pytest --nbval --nbval-current-env \
		--nbval-sanitize-with tests/sanitize.cfg notebooks

# The student edition: solution cells replaced by stubs, in build/student/.
student: install
	$(BIN)/python scripts/make_student.py --out build/student

# Offline reveal.js slide decks of every notebook, in build/slides/.
slides: install
	bash scripts/make_slides.sh build/slides

# Benchmarks: writes benchmarks/RESULTS.md (medians and ratios; asserts nothing).
bench: install
	$(TEST_ENV) $(BIN)/python benchmarks/run_all.py

# Re-pair every notebook with its .py (jupytext percent format).
sync: install
	$(BIN)/jupytext --sync notebooks/*.ipynb

clean:
	rm -rf $(VENV) build .pytest_cache
