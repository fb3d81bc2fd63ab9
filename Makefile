# rldg: one command for each job. Every target installs what it needs (idempotent: a re-run with nothing
# changed takes seconds). See README.md.
SHELL := /bin/bash
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMPS := $(VENV)/.stamps
PIP := $(BIN)/python -m pip install --disable-pip-version-check -q -c requirements/constraints.txt
MSGS := $(wildcard rldg_msgs/msg/*.msg rldg_msgs/srv/*.srv) rldg_msgs/CMakeLists.txt rldg_msgs/package.xml

# keep DDS discovery on this host (tests, demo, bench); multi-host users override it
export ROS_AUTOMATIC_DISCOVERY_RANGE ?= LOCALHOST
export PYTHONDONTWRITEBYTECODE ?= 1

.PHONY: setup test test-fast lint demo bench lock clean distclean

setup: $(STAMPS)/editable $(STAMPS)/msgs $(STAMPS)/sim $(STAMPS)/ml $(STAMPS)/vla
	@echo "setup: ok ($(VENV), rldg_msgs built in ws/install)"

$(STAMPS)/apt: scripts/apt_deps.sh
	@bash scripts/apt_deps.sh
	@mkdir -p $(STAMPS) && touch $@

$(BIN)/python: | $(STAMPS)/apt
	$(PY) -c 'import sys; assert sys.version_info[:2] == (3, 11), f"need Python 3.11, got {sys.version}"'
	$(PY) -m venv $(VENV)
	@mkdir -p $(STAMPS)

$(STAMPS)/deps: $(BIN)/python requirements/constraints.txt requirements/core.txt requirements/build.txt requirements/dev.txt
	$(PIP) -r requirements/core.txt -r requirements/build.txt -r requirements/dev.txt
	@touch $@

# the MuJoCo cell: gym-hil only for its assets, without its env code's dependencies
$(STAMPS)/sim: $(STAMPS)/deps requirements/sim.txt requirements/panel.txt
	$(PIP) -r requirements/sim.txt -r requirements/panel.txt
	$(PIP) --no-deps gym-hil
	@touch $@

# learning on CPU: JAX/flax/optax (reward classifier, RL specialists), TensorBoard logs, plots
$(STAMPS)/ml: $(STAMPS)/deps requirements/ml.txt
	$(PIP) -r requirements/ml.txt
	@touch $@

# TensorFlow + TFDS in a venv of their own, only to check that TF reads our RLDS output (test_data.py)
TFVENV := .venv-tf
$(STAMPS)/tf: requirements/tf.txt | $(BIN)/python
	$(PY) -m venv $(TFVENV)
	$(TFVENV)/bin/python -m pip install --disable-pip-version-check -q -r requirements/tf.txt
	@mkdir -p $(STAMPS) && touch $@

# LeRobot's dataset reader in a venv of its own, only to check that it reads our LeRobot export (test_lerobot.py):
# lerobot pins torch<2.11 and only torch 2.13.0 installs here, so lerobot goes in without its dependency pins
LRVENV := .venv-lerobot
LEROBOT := lerobot==0.4.4
$(STAMPS)/lerobot: requirements/lerobot.txt requirements/lerobot-constraints.txt | $(BIN)/python
	$(PY) -m venv $(LRVENV)
	$(LRVENV)/bin/python -m pip install --disable-pip-version-check -q -c requirements/lerobot-constraints.txt \
		-r requirements/lerobot.txt
	$(LRVENV)/bin/python -m pip install --disable-pip-version-check -q --no-deps $(LEROBOT)
	@mkdir -p $(STAMPS) && touch $@

# the OpenVLA-style generalist: torch (2.13.0 CPU, pinned), transformers, peft
$(STAMPS)/vla: $(STAMPS)/deps requirements/vla.txt
	$(PIP) -r requirements/vla.txt
	@touch $@

$(STAMPS)/msgs: $(STAMPS)/deps $(MSGS) scripts/build_msgs.sh scripts/fix_ros_cmake_paths.py scripts/install_msgs_pth.py
	bash scripts/build_msgs.sh
	@touch $@

# setup.cfg puts console scripts where 'ros2 run' looks (lib/rldg_ros); link them into .venv/bin as well
$(STAMPS)/editable: $(STAMPS)/deps setup.py setup.cfg pyproject.toml rldg_ros/executables.py
	$(PIP) --no-deps --no-build-isolation -e .
	@for f in $(VENV)/lib/rldg_ros/*; do [ -e "$$f" ] && ln -sfn "../lib/rldg_ros/$${f##*/}" "$(BIN)/$${f##*/}"; done; true
	@test -x $(BIN)/rldg || { echo "setup: rldg was not installed" >&2; exit 1; }
	@touch $@

lint: setup
	$(BIN)/ruff check .

test: setup lint $(STAMPS)/tf $(STAMPS)/lerobot
	@set +e; $(BIN)/python -m pytest test; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests: the suite is missing" >&2; exit 1; fi; \
	exit $$rc

# the ROS-free core only (pytest -m fast, about a minute): what to run while editing; CI runs `make test`
test-fast: setup lint
	$(BIN)/python -m pytest -m fast test

demo: setup
	$(BIN)/rldg demo

bench: setup
	$(BIN)/python bench/run.py

# refresh the lock after editing requirements/*.txt
lock: $(STAMPS)/deps
	bash scripts/lock.sh

clean:
	rm -rf ws/build ws/install ws/log $(STAMPS)/msgs .pytest_cache .ruff_cache

distclean: clean
	rm -rf $(VENV) $(TFVENV) $(LRVENV)
