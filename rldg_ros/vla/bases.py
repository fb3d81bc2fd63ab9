"""The pretrained bases the generalists are fine-tuned from, shipped in the repo (``models/bases/``).

A base is an ordinary local checkpoint folder (the same one ``rldg finetune --base`` takes for any checkpoint of
ours) plus ``MANIFEST.json``: what it is, the corpus it was pretrained on and its composition, the steps, the
validation metrics, the wall time, and the sha256 of every file. Fine-tuning from a folder that has a manifest first
checks the hashes (:func:`verify`), so a damaged or partly checked-out base (e.g. a Git LFS pointer) is refused
with the file named instead of being trained on.

``rldg pretrain --model octo|openvla --export models/bases/<name>`` regenerates one (docs/generalists.md gives the
command and its measured wall time).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BASES_DIR = REPO / "models" / "bases"
#: the shipped base of each model family
BASES = {"octo": BASES_DIR / "octo-style-tiny-simbase", "openvla": BASES_DIR / "openvla-style-tiny-simbase"}
MANIFEST = "MANIFEST.json"
#: what a served/fine-tunable checkpoint needs; the optimizer state and event logs stay in the training folder
_SKIP = {"train_state.msgpack", "train_state.pt", MANIFEST}
_SKIP_DIRS = {"tb", "data"}


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.name not in _SKIP
                  and not (set(p.relative_to(folder).parts[:-1]) & _SKIP_DIRS))


def export(checkpoint: str | Path, dest: str | Path, manifest: dict) -> Path:
    """Copy the checkpoint's servable files to ``dest`` and write its manifest with their sha256."""
    src, out = Path(checkpoint), Path(dest)
    if (src / "adapter").exists():
        raise ValueError(f"{src}: a LoRA adapter on another base, not a base (export the full model it adapts)")
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    files = {}
    for p in _files(src):
        rel = p.relative_to(src)
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(p, out / rel)
        files[str(rel)] = {"sha256": sha256(out / rel), "bytes": (out / rel).stat().st_size}
    doc = {**manifest, "files": files, "total_bytes": sum(f["bytes"] for f in files.values())}
    (out / MANIFEST).write_text(json.dumps(doc, indent=1))
    return out


def verify(folder: str | Path) -> dict | None:
    """The manifest of ``folder`` after checking every file's sha256 (``None``: the folder has no manifest).
    Raises ``ValueError`` naming the first missing or altered file."""
    p = Path(folder)
    mf = p / MANIFEST
    if not mf.exists():
        return None
    doc = json.loads(mf.read_text())
    for rel, meta in doc.get("files", {}).items():
        f = p / rel
        if not f.exists():
            raise ValueError(f"{p}: {rel} is missing (the manifest lists it)")
        got = sha256(f)
        if got != meta["sha256"]:
            raise ValueError(f"{p}: {rel} has sha256 {got[:12]}..., the manifest says {meta['sha256'][:12]}... "
                             "(damaged, or a Git LFS pointer: re-check out the base or regenerate it)")
    return doc


def default_base(model: str) -> Path | None:
    """The shipped base for ``octo``/``openvla`` if it is in the checkout."""
    p = BASES.get(model)
    return p if p is not None and (p / MANIFEST).exists() else None
