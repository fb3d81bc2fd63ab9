"""RLDS <-> LeRobotDataset v3.0: ``rldg export lerobot`` and ``rldg import lerobot``.

The on-disk layout is LeRobot's (``lerobot`` 0.4.x, ``CODEBASE_VERSION = "v3.0"``), written with pyarrow alone:

* ``meta/info.json``: codebase version, fps, totals, path templates and the features (dtype, shape, names);
* ``meta/stats.json``: per feature min, max, mean, std, count and the q01/q10/q50/q90/q99 quantiles;
* ``meta/tasks.parquet``: the task strings (a pandas index) and their ``task_index``;
* ``meta/episodes/chunk-000/file-000.parquet``: per episode its tasks, length, data file, frame range and
  statistics (``stats/<feature>/<stat>``), plus rldg's episode metadata (``success``, ``intervention_fraction``,
  ``task_id``, ``source_file``);
* ``data/chunk-CCC/file-FFF.parquet``: one row per frame, several episodes per file (a new file after
  ``DATA_FILE_MB``, never splitting an episode), the wrist image embedded as ``{bytes, path}`` (LeRobot's ``image``
  dtype; the RLDS JPEG bytes as they are, not re-encoded).

Features: ``observation.state`` (the rldg state, ``spec.STATE_NAMES``), ``action`` (``spec.ACTION_NAMES``),
``observation.images.wrist``, ``next.reward``, ``next.done`` and LeRobot's ``timestamp``, ``frame_index``,
``episode_index``, ``index``, ``task_index``; fps is ``spec.CONTROL_HZ``. LeRobot's own reader
(``LeRobotDataset(repo_id, root=...)``) opens the result: ``test/test_lerobot.py`` checks it in a venv of its own.

Image statistics are computed on every 4th pixel of each row and column of every frame (LeRobot also subsamples
images for its statistics); the other features' statistics are exact.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rldg_ros import spec
from rldg_ros.data.rlds import Episode, RldsReader, RldsWriter, decode_jpeg, encode_jpeg

CODEBASE_VERSION = "v3.0"
CHUNK_SIZE = 1000  # files per chunk directory (LeRobot's DEFAULT_CHUNK_SIZE)
DATA_FILE_MB = 100  # a data file closes after this many MB (LeRobot's DEFAULT_DATA_FILE_SIZE_IN_MB)
VIDEO_FILE_MB = 200
DATA_PATH = "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
EPISODES_PATH = "meta/episodes/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
STATE, ACTION, IMAGE = "observation.state", "action", "observation.images.wrist"
REWARD, DONE = "next.reward", "next.done"
DEFAULT_FEATURES = {"timestamp": "float32", "frame_index": "int64", "episode_index": "int64", "index": "int64",
                    "task_index": "int64"}
QUANTILES = {"q01": 0.01, "q10": 0.10, "q50": 0.50, "q90": 0.90, "q99": 0.99}
IMAGE_STATS_STRIDE = 4


# -- statistics ------------------------------------------------------------------------------------------------------
def feature_stats(x: np.ndarray, image: bool = False, stride: int = IMAGE_STATS_STRIDE) -> dict:
    """LeRobot's statistics of one feature over frames ``x`` (N, ...): per dimension, or for an image (N, H, W, 3)
    uint8 per channel in [0, 1] with shape (3, 1, 1), from every ``stride``-th pixel of each row and column."""
    if image:
        v = x[:, ::stride, ::stride, :].reshape(-1, x.shape[-1]).astype(np.float64) / 255.0
    else:
        v = np.asarray(x, np.float64).reshape(len(x), -1)
    out = {"min": v.min(0), "max": v.max(0), "mean": v.mean(0), "std": v.std(0)}
    out.update({k: np.quantile(v, q, axis=0) for k, q in QUANTILES.items()})
    shape = (-1, 1, 1) if image else (-1,)
    stats = {k: a.reshape(shape).tolist() for k, a in out.items()}
    stats["count"] = [int(len(x))]
    return stats


# -- the features ---------------------------------------------------------------------------------------------------
def features(state_dim: int, image_shape: tuple[int, int, int]) -> dict:
    names = list(spec.STATE_NAMES) if state_dim == spec.STATE_DIM else [f"state_{i}" for i in range(state_dim)]
    f = {STATE: {"dtype": "float32", "shape": [state_dim], "names": names},
         ACTION: {"dtype": "float32", "shape": [spec.ACTION_DIM], "names": list(spec.ACTION_NAMES)},
         IMAGE: {"dtype": "image", "shape": list(image_shape), "names": ["height", "width", "channels"]},
         REWARD: {"dtype": "float32", "shape": [1], "names": None},
         DONE: {"dtype": "bool", "shape": [1], "names": None}}
    f.update({k: {"dtype": d, "shape": [1], "names": None} for k, d in DEFAULT_FEATURES.items()})
    return f


def _hf_feature(ft: dict) -> dict:
    """The Hugging Face ``datasets`` type of a LeRobot feature (the parquet schema's ``huggingface`` metadata)."""
    if ft["dtype"] == "image":
        return {"_type": "Image"}
    if list(ft["shape"]) == [1]:
        return {"dtype": ft["dtype"], "_type": "Value"}
    return {"feature": {"dtype": ft["dtype"], "_type": "Value"}, "length": int(ft["shape"][0]), "_type": "List"}


def _arrow_type(ft: dict):
    import pyarrow as pa

    if ft["dtype"] == "image":
        return pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    scalar = {"float32": pa.float32(), "float64": pa.float64(), "int64": pa.int64(), "bool": pa.bool_()}[ft["dtype"]]
    return scalar if list(ft["shape"]) == [1] else pa.list_(scalar, int(ft["shape"][0]))


# -- export ------------------------------------------------------------------------------------------------------------
def find_rlds(inputs: list[str | Path]) -> list[Path]:
    """RLDS dataset directories (``dataset_info.json``) given directly or anywhere under ``inputs``, in order."""
    out: list[Path] = []
    for p in map(Path, inputs):
        if (p / "dataset_info.json").is_file():
            out.append(p)
        elif p.is_dir():
            out.extend(sorted(f.parent for f in p.rglob("dataset_info.json")))
        else:
            raise FileNotFoundError(f"{p}: no such RLDS dataset or directory")
    if not out:
        raise FileNotFoundError(f"no RLDS dataset (dataset_info.json) under {', '.join(map(str, inputs))}")
    return out


@dataclass
class ExportReport:
    root: str
    episodes: int = 0
    frames: int = 0
    tasks: list[str] = field(default_factory=list)
    data_files: int = 0
    sources: list[str] = field(default_factory=list)


class _DataFiles:
    """Frames into data/chunk-CCC/file-FFF.parquet, a new file once ``DATA_FILE_MB`` is reached (between episodes)."""

    def __init__(self, root: Path, feats: dict) -> None:
        import pyarrow as pa

        self.root, self.feats = root, feats
        meta = {b"huggingface": json.dumps({"info": {"features": {k: _hf_feature(v) for k, v in feats.items()}}})}
        self.schema = pa.schema([(k, _arrow_type(v)) for k, v in feats.items()], metadata=meta)
        self.rows: dict[str, list] = {k: [] for k in feats}
        self.bytes = 0
        self.chunk = self.file = 0
        self.written = 0

    def where(self) -> tuple[int, int]:
        return self.chunk, self.file

    def add(self, cols: dict[str, list], nbytes: int) -> None:
        for k in self.rows:
            self.rows[k].extend(cols[k])
        self.bytes += nbytes
        if self.bytes >= DATA_FILE_MB * 1e6:
            self.flush()

    def flush(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if not self.rows[next(iter(self.rows))]:
            return
        table = pa.Table.from_pydict(self.rows, schema=self.schema)
        path = self.root / DATA_PATH.format(chunk_index=self.chunk, file_index=self.file)
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, path)
        self.written += 1
        self.rows = {k: [] for k in self.feats}
        self.bytes = 0
        self.file += 1
        if self.file >= CHUNK_SIZE:
            self.chunk, self.file = self.chunk + 1, 0


def export_lerobot(inputs: list[str | Path], root: str | Path, robot_type: str = "franka",
                   progress: bool = True) -> ExportReport:
    """Every episode of the RLDS datasets ``inputs`` (all splits, train first) into a LeRobotDataset v3.0 at ``root``
    (which must not hold a dataset yet); a failed export removes what it wrote."""
    sources = find_rlds(inputs)
    root = Path(root)
    if (root / "meta" / "info.json").exists() or (root / "data").exists():
        raise FileExistsError(f"{root} already holds a LeRobot dataset; choose another --out")
    made = [d for d in (root, root / "data", root / "meta") if not d.exists()]
    try:
        return _export(sources, root, robot_type, progress)
    except BaseException:
        import shutil

        for d in reversed(made):
            shutil.rmtree(d, ignore_errors=True)
        raise


def _export(sources: list[Path], root: Path, robot_type: str, progress: bool) -> ExportReport:
    import pyarrow as pa
    import pyarrow.parquet as pq

    readers = [RldsReader(s) for s in sources]
    first = next(readers[0].episodes(next(iter(readers[0].splits))))
    state_dim = first["steps"]["observation"]["state"].shape[1]
    image_shape = tuple(first["steps"]["observation"]["image"].shape[1:])
    feats = features(state_dim, image_shape)
    data = _DataFiles(root, feats)
    tasks: dict[str, int] = {}
    episodes: list[dict] = []
    per_feature: dict[str, list[np.ndarray]] = {k: [] for k in feats if k != IMAGE}
    images: list[np.ndarray] = []
    rep = ExportReport(str(root), sources=[str(s) for s in sources])
    split_ranges: dict[str, list[int]] = {}
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=sum(sum(r.splits.values()) for r in readers), desc="export lerobot", unit="ep")
    # split by split over every source, so that each split is one contiguous range of episodes (info.json "splits")
    splits = sorted({s for r in readers for s in r.splits}, key=lambda s: (s != "train", s))
    for split in splits:
        for src, reader in zip(sources, readers, strict=True):
            if split not in reader.splits:
                continue
            for ep in reader.episodes(split, decode_images=False):
                st = ep["steps"]
                n = len(st["action"])
                state = st["observation"]["state"].astype(np.float32)
                if state.shape[1] != state_dim:
                    raise ValueError(f"{src}: state has {state.shape[1]} dimensions, {sources[0]} has {state_dim}: "
                                     "export datasets of one robot together")
                frames = np.stack([decode_jpeg(b) for b in st["observation"]["image"]])
                if frames.shape[1:] != image_shape:
                    raise ValueError(f"{src}: images {frames.shape[1:]}, {sources[0]} has {image_shape}")
                instruction = st["language_instruction"][0]
                t_idx = tasks.setdefault(instruction, len(tasks))
                e_idx, start = len(episodes), rep.frames
                cols = {STATE: list(state), ACTION: list(st["action"].astype(np.float32)),
                        IMAGE: [{"bytes": b, "path": f"frame-{k:06d}.jpg"} for k, b in
                                enumerate(st["observation"]["image"])],
                        REWARD: st["reward"].astype(np.float32).tolist(),
                        DONE: (st["is_last"] & st["is_terminal"]).tolist(),
                        "timestamp": (np.arange(n) / spec.CONTROL_HZ).astype(np.float32).tolist(),
                        "frame_index": list(range(n)), "episode_index": [e_idx] * n,
                        "index": list(range(start, start + n)), "task_index": [t_idx] * n}
                chunk, file = data.where()
                data.add(cols, sum(len(b) for b in st["observation"]["image"]) + n * 4 * (state_dim + 12))
                arrays = {k: np.asarray(v) for k, v in cols.items() if k != IMAGE}
                md = ep["episode_metadata"]
                row = {"episode_index": e_idx, "tasks": [instruction], "length": n, "data/chunk_index": chunk,
                       "data/file_index": file, "dataset_from_index": start, "dataset_to_index": start + n,
                       "success": bool(md["success"]), "intervention_fraction": float(md["intervention_fraction"]),
                       "task_id": md["task"], "source_file": md["file_path"], "source_dataset": str(src)}
                for k, a in arrays.items():
                    row.update({f"stats/{k}/{s}": v for s, v in feature_stats(a).items()})
                    per_feature[k].append(a)
                sub = frames[:, ::IMAGE_STATS_STRIDE, ::IMAGE_STATS_STRIDE]
                row.update({f"stats/{IMAGE}/{s}": v for s, v in feature_stats(frames, image=True).items()})
                images.append(sub)
                row["meta/episodes/chunk_index"], row["meta/episodes/file_index"] = 0, 0
                episodes.append(row)
                split_ranges.setdefault(split, [e_idx, e_idx])[1] = e_idx + 1
                rep.frames += n
                if bar is not None:
                    bar.update(1)
    if bar is not None:
        bar.close()
    data.flush()
    if not episodes:
        raise ValueError(f"no episodes in {', '.join(map(str, sources))}")

    stats = {k: feature_stats(np.concatenate(v)) for k, v in per_feature.items()}
    # the frames kept for the image statistics are subsampled already
    stats[IMAGE] = feature_stats(np.concatenate(images), image=True, stride=1)
    meta = root / "meta"
    meta.mkdir(parents=True, exist_ok=True)
    (meta / "stats.json").write_text(json.dumps(stats, indent=1))
    ep_path = root / EPISODES_PATH.format(chunk_index=0, file_index=0)
    ep_path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(episodes), ep_path)
    _write_tasks(meta / "tasks.parquet", list(tasks))
    info = {"codebase_version": CODEBASE_VERSION, "robot_type": robot_type, "total_episodes": len(episodes),
            "total_frames": rep.frames, "total_tasks": len(tasks), "chunks_size": CHUNK_SIZE,
            "data_files_size_in_mb": DATA_FILE_MB, "video_files_size_in_mb": VIDEO_FILE_MB,
            "fps": int(spec.CONTROL_HZ), "splits": {s: f"{a}:{b}" for s, (a, b) in split_ranges.items()},
            "data_path": DATA_PATH, "video_path": None, "features": feats}
    (meta / "info.json").write_text(json.dumps(info, indent=4))
    rep.episodes, rep.tasks, rep.data_files = len(episodes), list(tasks), data.written
    return rep


def _write_tasks(path: Path, tasks: list[str]) -> None:
    """``tasks.parquet`` as pandas writes it: the task strings are the (unnamed) index, ``task_index`` the column, so
    that ``pd.read_parquet`` (LeRobot's reader) restores the index without pandas being needed here."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    pandas_meta = {"index_columns": ["__index_level_0__"],
                   "column_indexes": [{"name": None, "field_name": None, "pandas_type": "unicode",
                                       "numpy_type": "object", "metadata": {"encoding": "UTF-8"}}],
                   "columns": [{"name": "task_index", "field_name": "task_index", "pandas_type": "int64",
                                "numpy_type": "int64", "metadata": None},
                               {"name": None, "field_name": "__index_level_0__", "pandas_type": "unicode",
                                "numpy_type": "object", "metadata": None}],
                   "creator": {"library": "pyarrow", "version": pa.__version__}, "pandas_version": "2.2.3"}
    schema = pa.schema([("task_index", pa.int64()), ("__index_level_0__", pa.string())],
                       metadata={b"pandas": json.dumps(pandas_meta).encode()})
    pq.write_table(pa.table({"task_index": list(range(len(tasks))), "__index_level_0__": tasks}, schema=schema),
                   path)


# -- import ------------------------------------------------------------------------------------------------------------
@dataclass
class ImportReport:
    dataset: str
    episodes: int = 0
    frames: int = 0
    success_from: str = ""


def read_tasks(path: Path) -> list[str]:
    """The task strings of ``tasks.parquet`` in ``task_index`` order (a pandas index, or a ``task`` column)."""
    import pyarrow.parquet as pq

    t = pq.read_table(path)
    pmeta = json.loads((t.schema.metadata or {}).get(b"pandas", b"{}"))
    idx = [c for c in pmeta.get("index_columns", []) if isinstance(c, str)]
    col = idx[0] if idx else "task" if "task" in t.column_names else None
    if col is None:
        raise ValueError(f"{path}: neither a pandas index nor a 'task' column holds the task strings")
    order = np.argsort(t.column("task_index").to_numpy())
    names = t.column(col).to_pylist()
    return [names[i] for i in order]


def _episodes_meta(root: Path) -> list[dict]:
    import pyarrow.parquet as pq

    files = sorted((root / "meta" / "episodes").glob("chunk-*/file-*.parquet"))
    if not files:
        raise FileNotFoundError(f"{root}: no meta/episodes/chunk-*/file-*.parquet (not a v3.0 dataset?)")
    rows = [r for f in files for r in pq.read_table(f).to_pylist()]
    return sorted(rows, key=lambda r: r["episode_index"])


def lerobot_episodes(root: str | Path, image_key: str | None = None,
                     state_key: str = STATE) -> Iterator[tuple[dict, dict]]:
    """(episode metadata row, frame columns) of a LeRobotDataset v3.0 at ``root``, episode by episode."""
    import pyarrow.parquet as pq

    root = Path(root)
    info_path = root / "meta" / "info.json"
    if not info_path.is_file():
        raise FileNotFoundError(f"{root}: no meta/info.json (not a LeRobot dataset root)")
    info = json.loads(info_path.read_text())
    if info.get("codebase_version") != CODEBASE_VERSION:
        raise ValueError(f"{info_path}: codebase_version {info.get('codebase_version')!r}; this reads "
                         f"{CODEBASE_VERSION} (convert older datasets with LeRobot's v30 conversion script first)")
    feats = info["features"]
    for key, what in ((ACTION, "actions"), (state_key, "robot state")):
        if key not in feats:
            raise ValueError(f"{info_path}: no {key!r} feature ({what}); features: {sorted(feats)}")
    if image_key is None:
        cands = [k for k, v in feats.items() if v["dtype"] in ("image", "video")]
        if not cands:
            raise ValueError(f"{info_path}: no image feature; RLDS episodes need an image")
        image_key = IMAGE if IMAGE in cands else cands[0]
    if image_key not in feats:
        raise ValueError(f"{info_path}: no feature {image_key!r}")
    if feats[image_key]["dtype"] != "image":
        raise ValueError(f"{info_path}: {image_key!r} is stored as {feats[image_key]['dtype']}; only image features "
                         "(frames in the parquet files) are read here, not videos")
    tasks = read_tasks(root / "meta" / "tasks.parquet")
    cols = [ACTION, state_key, image_key, "task_index", "frame_index"]
    cols += [k for k in (REWARD, DONE, "next.success") if k in feats]
    cache: dict[tuple[int, int], dict] = {}
    for row in _episodes_meta(root):
        where = (int(row["data/chunk_index"]), int(row["data/file_index"]))
        if where not in cache:
            cache.clear()  # episodes come in file order: keep one data file in memory
            path = root / info["data_path"].format(chunk_index=where[0], file_index=where[1])
            t = pq.read_table(path, columns=cols + ["episode_index", "index"])
            cache[where] = {"table": t, "episode": t.column("episode_index").to_numpy()}
        d = cache[where]
        sel = np.flatnonzero(d["episode"] == row["episode_index"])
        if len(sel) != row["length"]:
            raise ValueError(f"{root}: episode {row['episode_index']} has {len(sel)} frames in its data file, its "
                             f"metadata says {row['length']}")
        part = d["table"].take(sel)
        frames = {k: part.column(k).to_pylist() if k == image_key else part.column(k).to_numpy(zero_copy_only=False)
                  for k in cols}
        order = np.argsort(frames["frame_index"])
        frames = {k: [v[i] for i in order] if isinstance(v, list) else v[order] for k, v in frames.items()}
        frames["instruction"] = tasks[int(frames["task_index"][0])]
        frames["image_key"], frames["state_key"] = image_key, state_key
        yield row, frames


def import_lerobot(root: str | Path, out_dir: str | Path, name: str, image_key: str | None = None,
                   state_key: str = STATE, progress: bool = True) -> ImportReport:
    """A LeRobotDataset v3.0 (image features) -> an RLDS dataset ``out_dir/name/<version>`` (train split).

    Success per episode: rldg's ``success`` column when the dataset came from ``rldg export lerobot``, else the last
    frame's ``next.success``, else (neither recorded: LeRobot datasets are mostly demonstrations) every episode
    counts as successful, which the report says. Rewards: ``next.reward``, else 1 on a successful episode's last
    step."""
    writer = None
    rep = ImportReport(dataset="")
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(desc="import lerobot", unit="ep")
    try:
        for row, f in lerobot_episodes(root, image_key, state_key):
            action = np.stack(f[ACTION]).astype(np.float32)
            if action.ndim != 2 or action.shape[1] != spec.ACTION_DIM:
                raise ValueError(f"{root}: actions of shape {action.shape[1:]}; rldg's RLDS holds the 7-D "
                                 f"{'/'.join(spec.ACTION_NAMES)} action")
            state = np.stack(f[f["state_key"]]).astype(np.float32)
            images = [_jpeg(img["bytes"]) for img in f[f["image_key"]]]
            n = len(action)
            if "success" in row:
                success, rep.success_from = bool(row["success"]), "rldg success column"
            elif "next.success" in f:
                success, rep.success_from = bool(f["next.success"][-1]), "next.success"
            else:
                success, rep.success_from = True, "not recorded: every episode counted as successful"
            if REWARD in f:
                reward = np.asarray(f[REWARD], np.float32)
            else:
                reward = np.zeros(n, np.float32)
                reward[-1] = float(success)
            terminal = bool(f[DONE][-1]) if DONE in f else True
            if writer is None:
                shape = decode_jpeg(images[0]).shape
                writer = RldsWriter(out_dir, name, shape, state.shape[1],
                                    description=f"{name}: imported from the LeRobot dataset {root}")
            writer.write(Episode(images=images, state=state, action=action, reward=reward,
                                 instruction=f["instruction"], file_path=str(row.get("source_file") or root),
                                 task=str(row.get("task_id") or f["instruction"]), episode_id=int(row["episode_index"]),
                                 success=success, intervention_fraction=float(row.get("intervention_fraction") or 0.0),
                                 terminal=terminal))
            rep.episodes += 1
            rep.frames += n
            if bar is not None:
                bar.update(1)
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    finally:
        if bar is not None:
            bar.close()
    if writer is None:
        raise ValueError(f"{root}: no episodes")
    rep.dataset = str(writer.close({"imported_from": str(root), "success_from": rep.success_from}))
    return rep


def _jpeg(data: bytes) -> bytes:
    """An image's bytes as JPEG (RLDS's encoding): JPEG kept as is, anything else (PNG) decoded and encoded."""
    if data[:2] == b"\xff\xd8":
        return data
    from io import BytesIO

    from PIL import Image

    return encode_jpeg(np.asarray(Image.open(BytesIO(data)).convert("RGB")))
