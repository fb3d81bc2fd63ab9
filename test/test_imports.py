"""The package's module graph has no import cycle (lazy imports inside functions included; imports for type checking
only are not imports), and the ROS-free core does not import rclpy."""

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "rldg_ros"


def _module(p: Path) -> str:
    parts = p.relative_to(PKG.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skip = set()
    for n in ast.walk(tree):
        if isinstance(n, ast.If) and "TYPE_CHECKING" in ast.unparse(n.test):
            skip |= {id(x) for x in ast.walk(n)}
    return skip


def imports(mods: dict[str, Path], name: str) -> set[str]:
    tree = ast.parse(mods[name].read_text())
    skip = _type_checking_nodes(tree)
    out = set()
    for n in ast.walk(tree):
        if id(n) in skip:
            continue
        if isinstance(n, ast.ImportFrom) and n.module and n.module.startswith("rldg_ros"):
            for a in n.names:
                sub = f"{n.module}.{a.name}"
                out.add(sub if sub in mods else n.module)
        elif isinstance(n, ast.Import):
            out |= {a.name for a in n.names if a.name.startswith("rldg_ros")}
    return {m for m in out if m in mods and m != name}


def test_no_import_cycles():
    mods = {_module(p): p for p in PKG.rglob("*.py")}
    graph = {m: imports(mods, m) for m in mods}
    cycles, done = [], set()

    def visit(m, path):
        if m in path:
            cycles.append(path[path.index(m):] + [m])
            return
        if m in done:
            return
        for d in sorted(graph[m]):
            visit(d, path + [m])
        done.add(m)

    for m in sorted(graph):
        visit(m, [])
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles[:5])


def test_the_core_does_not_import_ros():
    core = ["episodes", "spec", "safety", "spinning", "rl/actor_policy", "rl/learner", "data/convert",
            "vla/policy", "vla/serving", "experiment/pipeline"]
    for name in core:
        text = (PKG / f"{name}.py").read_text()
        assert "import rclpy" not in text and "from rclpy" not in text, name
