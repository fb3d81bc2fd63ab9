import fcntl
import os
import sys
from pathlib import Path

import pytest

# MuJoCo picks its GL backend at import: headless EGL before any test module imports mujoco
os.environ.setdefault("MUJOCO_GL", "egl")
# Parallel test workers (pytest-xdist) share the machine's cores: one compute thread per worker for torch (OpenMP) and
# XLA, set before either is imported, as the experiment's evaluation workers do. Two workers that each spin two
# OpenMP threads on two cores slowed a 35 s LoRA fine-tune past the 300 s test timeout in CI.
if int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) > 1:
    os.environ["OMP_NUM_THREADS"] = "1"
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false "
                               "intra_op_parallelism_threads=1").strip()

REPO = Path(__file__).resolve().parent.parent

# `make test-fast`: the ROS-free core, what a developer runs while editing (`pytest -m fast`, ~1 min). Tests of
# these modules are marked `fast` unless marked `slow` (a DDS graph, a training run, a TensorFlow read);
# `make test` runs everything.
FAST_MODULES = {"test_vla_core", "test_episodes", "test_imports", "test_safety", "test_config",
                "test_convert_real_bags", "test_hil", "test_eval", "test_keyboard", "test_spacemouse_hid",
                "test_graphs", "test_rl", "test_spec"}


def pytest_configure(config):
    config.addinivalue_line("markers", "fast: part of the fast tier (make test-fast)")
    config.addinivalue_line("markers", "slow: left out of the fast tier (a DDS graph, a training run, ...)")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.module.__name__.rsplit(".", 1)[-1] in FAST_MODULES and item.get_closest_marker("slow") is None:
            item.add_marker(pytest.mark.fast)
BIN = Path(sys.executable).parent
_LOCK_DIR = Path("/tmp/rldg-test-domains")


@pytest.fixture
def domain_id():
    """A ROS_DOMAIN_ID no other test (of this or a parallel run on this machine) holds: flock per domain."""
    _LOCK_DIR.mkdir(exist_ok=True)
    start = os.getpid() % 100
    for k in range(100):
        d = 1 + (start + k) % 100
        f = open(_LOCK_DIR / f"{d}.lock", "w")  # noqa: SIM115 - held for the test's lifetime
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.close()
            continue
        try:
            yield d
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
            f.close()
        return
    pytest.fail("no free ROS_DOMAIN_ID in 1..100")


@pytest.fixture
def ros_env(domain_id):
    """Environment for child processes: own domain, discovery on this host only."""
    env = dict(os.environ)
    env["ROS_DOMAIN_ID"] = str(domain_id)
    env["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    return env


@pytest.fixture
def ros_context(domain_id):
    """An rclpy context of this test process on the test's domain."""
    import rclpy
    from rclpy.context import Context

    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    ctx = Context()
    rclpy.init(context=ctx, domain_id=domain_id)
    try:
        yield ctx
    finally:
        rclpy.shutdown(context=ctx)
