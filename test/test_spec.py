"""Each shared fact is defined once (issue #19): the control rate, the action/state layout, the data-source codes,
the seed bases, the dataset version in ``rldg_ros/spec.py``; topic names in ``rldg_ros/topics.py``. The checks
read the code (not docstrings or comments), so a copy of a fact written somewhere else fails here."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from rldg_ros import spec

PKG = Path(__file__).resolve().parents[1] / "rldg_ros"
SPEC = PKG / "spec.py"
TOPICS = PKG / "topics.py"
#: names only spec.py may give a value (elsewhere they are imported, or re-exported as ``X = spec.X``)
SPEC_NAMES = {"CONTROL_HZ", "ACTION_NAMES", "ACTION_DIM", "GRIPPER_DIM", "STATE_NAMES", "STATE_DIM",
              "SOURCE_POLICY", "SOURCE_HUMAN", "SOURCE_SCRIPTED", "SOURCE_HOLD", "COLLECT_FIRST_SEED",
              "EVAL_FIRST_SEED", "TUNING_FIRST_SEED", "DATASET_VERSION", "GRIPPER_OPEN", "GRIPPER_CLOSED"}
SEED_BASES = {spec.COLLECT_FIRST_SEED, spec.EVAL_FIRST_SEED, spec.TUNING_FIRST_SEED}


def _modules():
    for f in sorted(PKG.rglob("*.py")):
        yield f, ast.parse(f.read_text(), str(f))


def _docstrings(tree) -> set[int]:
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                out.add(id(first.value))
    return out


def _targets(node) -> list[str]:
    ts = node.targets if isinstance(node, ast.Assign) else [node.target]
    names = []
    for t in ts:
        names += [e.id for e in (t.elts if isinstance(t, ast.Tuple) else [t]) if isinstance(e, ast.Name)]
    return names


def _is_int(node, values) -> bool:
    return isinstance(node, ast.Constant) and type(node.value) is int and node.value in values


def test_spec_facts_are_assigned_only_in_spec():
    bad = []
    for f, tree in _modules():
        if f == SPEC:
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
                from_spec = {n.attr for n in ast.walk(node.value) if isinstance(n, ast.Attribute)
                             and isinstance(n.value, ast.Name) and n.value.id == "spec"}
                for name in _targets(node):
                    if name in SPEC_NAMES and name not in from_spec:  # X = spec.X, list(spec.X): re-exports
                        bad.append(f"{f.relative_to(PKG.parent)}:{node.lineno} assigns {name}")
    assert not bad, "facts that belong to rldg_ros/spec.py:\n" + "\n".join(bad)


def test_seed_bases_are_not_written_as_numbers_outside_spec():
    """A seed default or seed variable that is one of the bases must name it (spec.EVAL_FIRST_SEED, ...)."""
    bad = []
    for f, tree in _modules():
        if f == SPEC:
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
                if any("seed" in n.lower() for n in _targets(node)):
                    value = node.value.args[0] if (isinstance(node.value, ast.Call) and node.value.args) \
                        else node.value
                    if _is_int(value, SEED_BASES):
                        bad.append(f"{f.relative_to(PKG.parent)}:{node.lineno}")
            if isinstance(node, ast.Call):
                for kw in node.keywords:
                    if kw.arg and "seed" in kw.arg.lower() and _is_int(kw.value, SEED_BASES):
                        bad.append(f"{f.relative_to(PKG.parent)}:{node.lineno} ({kw.arg}=)")
                named = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
                if any("seed" in n for n in named):  # argparse: add_argument("--first-seed", default=100000)
                    bad += [f"{f.relative_to(PKG.parent)}:{node.lineno}" for kw in node.keywords
                            if kw.arg == "default" and _is_int(kw.value, SEED_BASES)]
    assert not bad, "seed bases written as numbers (use rldg_ros.spec):\n" + "\n".join(bad)


def test_topic_names_and_the_dataset_version_are_written_once():
    bad = []
    for f, tree in _modules():
        docs = _docstrings(tree)
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Constant) and isinstance(node.value, str)) or id(node) in docs:
                continue
            v = node.value
            if f != TOPICS and (v.startswith("rldg/") or v.startswith("camera/camera/")):
                bad.append(f"{f.relative_to(PKG.parent)}:{node.lineno} topic {v!r} (use rldg_ros.topics)")
            if f != SPEC and v == spec.DATASET_VERSION:
                bad.append(f"{f.relative_to(PKG.parent)}:{node.lineno} dataset version (use spec.DATASET_VERSION)")
    assert not bad, "\n".join(bad)


def test_control_rate_parameters_default_to_the_spec_rate():
    """Every ``control_hz`` setting starts from spec.CONTROL_HZ rather than its own 10.0."""
    found = 0
    for f, tree in _modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) \
                    and node.target.id == "control_hz" and isinstance(node.value, ast.Call):
                found += 1
                first = node.value.args[0] if node.value.args else None
                assert not isinstance(first, ast.Constant), f"{f}:{node.lineno}: control_hz defaults to a number"
    assert found >= 3  # the bridge, the mux, teleop and the sim cell have one


def test_the_checks_catch_a_copy(tmp_path, monkeypatch):
    """The scanner is not vacuous: a module that copies a fact is flagged."""
    import test_spec as me

    pkg = tmp_path / "rldg_ros"
    pkg.mkdir()
    (pkg / "spec.py").write_text("EVAL_FIRST_SEED = 100_000\n")
    (pkg / "topics.py").write_text("")
    (pkg / "copy.py").write_text('EVAL_FIRST_SEED = 100_000\nfirst_seed = 100_000\nT = "rldg/reward"\n')
    monkeypatch.setattr(me, "PKG", pkg)
    monkeypatch.setattr(me, "SPEC", pkg / "spec.py")
    monkeypatch.setattr(me, "TOPICS", pkg / "topics.py")
    for check in (me.test_spec_facts_are_assigned_only_in_spec,
                  me.test_seed_bases_are_not_written_as_numbers_outside_spec,
                  me.test_topic_names_and_the_dataset_version_are_written_once):
        with pytest.raises(AssertionError):
            check()
