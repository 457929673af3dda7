# reslib: two commands for a fresh machine.
#   make lab    install if needed, then open JupyterLab on the series (127.0.0.1, with a fresh token
#               passed on the command line, so no config file can turn authentication off)
#   make assignments  (lecturers) an nbgrader course from course.toml: graded releases of the exercises,
#               autograded in a fresh, memory-limited kernel (README: "Teaching a course with the series")
#   make site   build site/ from the committed notebooks' stored outputs (no kernel, no network): one
#               page per notebook, English and Korean (ko/), with the series, contents, search and a
#               language switch; interactive plots, static explorers, local plotly.js and MathJax
#   make test   install if needed, then unit tests + nbval on every notebook + the browser test,
#               then nbval again with generic kernels on one thread on the English notebooks (outputs
#               must not depend on the CPU)
# Before a commit:
#   make check  the quick gate (~90 s on 2 cores): ruff format --check, ruff check, then every unit
#               test, `slow`-marked ones included (correctness first; `-m "not browser and not slow"`
#               skips them); no notebooks, no browser
#   make format apply ruff's safe lint fixes, then ruff's formatting (what check asks for)
#   make lint   ruff format --check and ruff check only (CI runs it before make test: it fails in seconds)
#   make evidence  re-run every check the notebooks' prose reports but Run All skips (minutes; ONLY=key)
#   make slides re-make every notebook's RISE slide metadata (after adding, removing or editing cells)
# After changing a pin in pyproject.toml:
#   make lock   regenerate constraints.txt, binder/requirements.txt, environment.yml and the pre-commit
#               ruff rev from pyproject.toml (tools/lock.py; resolves in a throw-away venv, needs PyPI)
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# nbgrader lives in an environment of its own, so the learners' JupyterLab (.venv) never loads its
# extensions: the `course` extra, for make assignments and tests/test_course.py.
COURSE_VENV  := .venv-course
COURSE_PY    := $(COURSE_VENV)/bin/python
COURSE_STAMP := $(COURSE_VENV)/.installed
# nbval compares stored outputs exactly on a CPU; on a GPU (CUDA or Apple's MPS: whatever
# reslib.device() picks) kernels differ, so only errors and the notebooks' asserts count.
NBVAL   = $(shell $(PY) -c "import reslib; print('--nbval' if reslib.device().type == 'cpu' else '--nbval-lax')")
# The second nbval pass: torch's generic CPU kernels on one thread, a stand-in for another machine.
# On the English notebooks: a Korean one runs its twin's code on the same numbers (tests/test_translation.py
# refuses other code, or checked outputs with other numbers), so its outputs hold wherever its twin's do.
# Both editions took 17 of CI's 73 minutes; the first pass still runs both.
PORTABLE_ENV := ATEN_CPU_CAPABILITY=default OMP_NUM_THREADS=1
PORTABLE_NOTEBOOKS := $(wildcard notebooks/[0-9][0-9]_*.ipynb)
NBVAL_ARGS = $(NBVAL) --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg --nbval-cell-timeout=300

# Jupyter refuses to run as root (containers, CI) unless told to; the token still applies.
# tools/lab.py binds 127.0.0.1 and passes a fresh token, printing the URL to open first.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root)

# What ruff lints and formats (notebooks included); .pre-commit-config.yaml names the same.
RUFF       := $(VENV)/bin/ruff
RUFF_PATHS := reslib tests tools notebooks

.PHONY: install course-install assignments lab site test check format unit notebooks portable browser outputs bench evidence slides lint lock clean

install: $(STAMP)

# The last step: JupyterLab's settings for the series (no news pop-up, no update check, an English
# interface until a learner picks a language, RISE slides that scroll), from the one file Binder's
# postBuild installs too, into the environment's {sys.prefix}/share/jupyter/lab/settings/, and the
# small extension that lets the explorers' widgets load in RISE's slideshow (binder/rise-widgets).
LAB_FILES := binder/overrides.json binder/rise-widgets/package.json binder/rise-widgets/static/remoteEntry.js
$(STAMP): pyproject.toml constraints.txt $(LAB_FILES)
	$(PYTHON) -c "import sys; sys.exit(sys.version_info < (3, 11) and 'reslib needs Python >= 3.11')"
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[lab,test]'
	$(PY) -m tools.lab --install-settings
	touch $(STAMP)

$(COURSE_STAMP): pyproject.toml constraints.txt
	test -x $(COURSE_PY) || $(PYTHON) -m venv $(COURSE_VENV)
	$(COURSE_PY) -m pip install --quiet --upgrade pip
	$(COURSE_PY) -m pip install --quiet -c constraints.txt -e '.[lab,course]'
	touch $(COURSE_STAMP)

course-install: $(COURSE_STAMP)

# The course course.toml describes, written to its directory, then nbgrader's generate_assignment for
# each assignment (release/ is what students get). CONFIG=other.toml for another course.
CONFIG ?= course.toml
assignments: course-install
	$(COURSE_PY) -m tools.course $(CONFIG) --release

# The notebook JupyterLab opens on; the Korean edition: make lab FIRST=notebooks/ko/01_sequential_networks.ipynb
FIRST ?= notebooks/01_sequential_networks.ipynb
lab: install
	$(PY) -m tools.lab $(ROOT_FLAG) $(FIRST)

# --durations: the slowest tests close CI's log, so its time (limit 90 min) can be read off it.
test: install course-install
	$(PY) -m pytest tests notebooks $(NBVAL_ARGS) --durations=25
	$(PORTABLE_ENV) $(PY) -m pytest $(PORTABLE_NOTEBOOKS) $(NBVAL_ARGS)

check: lint
	$(PY) -m pytest tests -m "not browser"

# Lint fixes first: a fix (a removed import, a removed noqa) can leave code the formatter changes.
# --exit-zero: what ruff cannot fix is listed and the formatter still runs; make check then fails on it.
format: install
	$(RUFF) check --fix --exit-zero $(RUFF_PATHS)
	$(RUFF) format $(RUFF_PATHS)

unit: install
	$(PY) -m pytest tests -m "not browser"

notebooks: install
	$(PY) -m pytest notebooks $(NBVAL_ARGS)

# The same notebooks as another machine would run them (make test runs both passes).
portable: install
	$(PORTABLE_ENV) $(PY) -m pytest $(PORTABLE_NOTEBOOKS) $(NBVAL_ARGS)

browser: install
	$(PY) -m pytest tests -m browser

# Re-execute every notebook and store its outputs (run after changing what a notebook prints).
# The Korean edition (notebooks/ko/) too: its checked outputs are the English ones' numbers.
outputs: install
	$(PY) -m tools.outputs notebooks/*.ipynb $(wildcard notebooks/ko/*.ipynb)

# The kernel-free website, into site/ (git-ignored); seconds, nothing is executed.
site: install
	$(PY) -m tools.site

bench: install
	$(PY) -m tools.bench

# Every check a notebook's prose reports but Run All does not run (more seeds, epochs, widths): each
# re-runs its experiment and asserts the sentence; a table at the end. ONLY=key (or a prefix) for some.
evidence: install
	$(PY) -m reslib.evidence $(ONLY)

# Every cell's RISE slide type (slide, sub-slide, fragment, notes, skip) from tools/slides.py's rules;
# tests/test_slides.py fails on a notebook whose cells changed since. The Korean edition takes the English
# slide types (tools/translation.py; tests/test_translation.py checks them).
slides: install
	$(PY) -m tools.slides
	$(PY) -m tools.translation slides

lint: install
	$(RUFF) format --check $(RUFF_PATHS)
	$(RUFF) check $(RUFF_PATHS)

# Re-pin every package after editing a pin in pyproject.toml (the one place pins are edited). Not after
# install: .venv holds the old pins, which a changed one would conflict with; tools/lock.py resolves in a
# throw-away venv with $(PYTHON) instead. make install then re-installs (constraints.txt changed).
# make lock LOCK_ARGS=--upgrade moves every unpinned package to its newest release too.
lock:
	$(PYTHON) -m tools.lock $(LOCK_ARGS)

# Everything the targets above make: the venv, the site, the benchmark's runs, caches, build outputs.
clean:
	rm -rf $(VENV) .venv-course course site .bench build dist .pytest_cache .ruff_cache *.egg-info
	find . -path ./.git -prune -o \( -name __pycache__ -o -name .ipynb_checkpoints \) -type d -prune -exec rm -rf {} +
