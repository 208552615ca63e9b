# ch9-interpret: `make lab` opens the course, `make test` runs every test.
# Both create .venv on first use and install the pinned dependencies.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PORT   ?= 8888
# Tests and nbval always use the bundled models, fully offline. One torch thread per process:
# the tests run two or more kernels at once on 2 cores, and two kernels of 2 threads each spin
# on each other (09_2_1 and 09_3 at once: 49.7 s and 57.1 s with 2 threads, 11.1 s and 19.1 s with 1;
# benchmarks/bench_threads.py). The stored notebook outputs are made the same way.
TEST_ENV := CH9_MODEL_SOURCE=bundled HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 OMP_NUM_THREADS=1

HUB    := deploy/jupyterhub
CHP    := $(HUB)/node_modules/.bin/configurable-http-proxy
LAB_SETTINGS := $(CURDIR)/deploy/jupyterlab/settings

.PHONY: install lab test unit nbval tvpath editions notebooks browser classroom student assignments hub hub-install slides bench sync clean

install: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name ch9-interpret \
		--display-name "Python (ch9-interpret)" >/dev/null
	# the bundled weights converted once into a file every kernel maps (helpers.models.sources)
	CH9_MODEL_SOURCE=bundled $(BIN)/python -c "import helpers; helpers.load_model('efficientnet_lite0', device='cpu')" >/dev/null
	touch $(STAMP)

# Opens JupyterLab on notebooks/ (prints the URL). --allow-root because
# classroom images and CI often run as root; --no-browser when there is no display.
lab: install
	$(BIN)/jupyter lab --notebook-dir=notebooks --port=$(PORT) --ip=127.0.0.1 \
		--LabApp.app_settings_dir=$(LAB_SETTINGS) \
		$$( [ "$$(id -u)" = 0 ] && echo --allow-root ) \
		$$( [ -z "$$DISPLAY" ] && echo --no-browser )

# Unit tests and the notebook runs (nbval, the torchvision path, the student editions) each use
# JOBS workers of pytest-xdist; the cells of one notebook stay on one worker, in order
# (conftest.py). The classroom tests: the nbgrader class and the hub log-in (which mostly waits
# for the culler) on two workers; the grading process's tests (whose time-outs are short); the
# production hub (which mostly waits for its students' kernels) and the in-process grading (which
# refuses to grade beside a thread it did not start, such as the one an xdist worker runs).
# The two production hubs never run at once: each removes the other's accounts.
# make test runs parts side by side (scripts/together.sh prints each one's output when it ends):
# the grading process's tests beside the notebook runs; the unit tests and the in-process
# grading beside the production hub and then the browser tests, at the lowest priority (nice 19),
# so that they take only the CPU the hub's students and the browser leave: the hub test measures
# how much one student's busy loops slow another student's cell, and a process at normal priority
# beside it would halve the students' share (every student's cgroup sits in one parent group,
# which competes with each process outside it). Parts that each keep both cores busy (the
# notebook runs, the class) run apart: side by side they took longer than one after the other.
CLASS_AT_ONCE := tests/classroom/test_autograde.py tests/classroom/test_hub_login.py
PYTEST := $(TEST_ENV) $(BIN)/python -m pytest
NICE   := $(TEST_ENV) nice -n 19 $(BIN)/python -m pytest
JOBS   ?= 2
XDIST  := -n $(JOBS) --dist loadgroup
NBVAL  := --nbval --nbval-current-env --nbval-sanitize-with tests/sanitize.cfg
NOTEBOOK_RUNS := $(NBVAL) notebooks tests/tvpath tests/editions
UNIT_TESTS := $(XDIST) tests --ignore=tests/browser --ignore=tests/editions \
	--ignore=tests/classroom --ignore=tests/tvpath
CLASS  := $(PYTEST) -n 2 --dist loadfile $(CLASS_AT_ONCE)
ISOLATED := $(PYTEST) tests/classroom/test_isolated.py
HUB_TEST := $(PYTEST) tests/classroom/test_hub_production.py
GRADING  := tests/classroom/test_grading.py

test: install hub-install
	scripts/together.sh notebooks '$(PYTEST) $(XDIST) $(NOTEBOOK_RUNS)' isolated '$(ISOLATED)'
	$(CLASS)
	scripts/together.sh hub-browser '$(HUB_TEST); hub=$$?; $(PYTEST) tests/browser && exit $$hub' \
		grading '$(NICE) $(GRADING)' unit '$(NICE) $(UNIT_TESTS)'

unit: install
	$(PYTEST) $(UNIT_TESTS)

# The class: nbgrader autograde of a simulated class, the grading process, in-process grading,
# the production hub (as root: log-in, 2 students running 9.2.2 at once, a hostile student).
classroom: install hub-install
	scripts/together.sh class '$(CLASS)' isolated '$(ISOLATED)'
	scripts/together.sh hub '$(HUB_TEST)' grading '$(NICE) $(GRADING)'

# The notebooks without exercises on the textbook's torchvision path (VGG16-bn, ResNet18) with
# stand-in weights in a temporary TORCH_HOME: they must run without an error (outputs not
# compared). Those with exercises take the path in `make editions`, as their student edition.
tvpath: install
	$(PYTEST) tests/tvpath

browser: install
	$(PYTEST) tests/browser

nbval: install
	$(PYTEST) $(NBVAL) notebooks

# The student edition of every notebook with exercises runs top to bottom.
editions: install
	$(PYTEST) tests/editions

# nbval, tvpath and editions at once, as make test runs them.
notebooks: install
	$(PYTEST) $(XDIST) $(NOTEBOOK_RUNS)

# The student edition: solution cells replaced by stubs, in build/student/.
student: install
	$(BIN)/python scripts/make_student.py --out build/student

# nbgrader assignments generated from the teacher notebooks: course/source/ and the
# release versions in course/release/ (course/ is the nbgrader course directory).
assignments: install
	$(BIN)/python course/grader_kernel.py --install --prefix $(VENV) >/dev/null
	$(TEST_ENV) $(BIN)/python scripts/make_assignments.py --course course

# configurable-http-proxy for the hub, from npm (package-lock.json).
hub-install: $(CHP)

$(CHP): $(HUB)/package.json $(HUB)/package-lock.json
	cd $(HUB) && npm ci --no-audit --no-fund --loglevel=error
	touch $(CHP)

# JupyterHub for a class on this machine (as root: one unix account per student, limits,
# state in /var/lib/ch9-hub), on 127.0.0.1 (HUB_PORT, default 8000; HUB_IP=0.0.0.0 and TLS:
# docs/teaching.md 7.2). The first start asks for the teacher's password.
HUB_PORT ?= 8000
HUB_IP ?= 127.0.0.1
hub: install hub-install
	@test "$$(id -u)" = 0 || { echo "make hub runs the class hub as root: sudo make hub"; exit 1; }
	@echo "JupyterHub: http://$(HUB_IP):$(HUB_PORT)/  (teacher: $${CH9_HUB_ADMIN:-teacher})"
	@echo "  students sign up at /hub/signup; the teacher approves them at /hub/authorize"
	CH9_HUB_IP=$(HUB_IP) CH9_HUB_PORT=$(HUB_PORT) $(BIN)/jupyterhub -f $(HUB)/jupyterhub_config.py

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
