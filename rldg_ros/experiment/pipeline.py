"""``rldg experiment rldg``: the paper's study end to end, in stages that each leave their files in RUN_DIR.

1. **specialists**: ``rldg up train_rl`` per seen task (scripted interventions, sim ground-truth reward) until the
   last N evaluation episodes succeeded or the budget ends, then evaluated on the seen and unseen tasks; a task
   with a human stage (FMB assembly, ``rl_stage``) trains its specialist on the RL stage alone, and its RL data is
   the human demonstrations' segments of the other stages + the specialist's rollouts of that stage;
2. **collect**: ``rldg up collect`` records rosbag2 of the specialist (``policy:=rl``) and of the human-like
   demonstrator (``policy:=human_like``, standing in for SpaceMouse teleoperation);
3. **convert**: ``rldg convert`` to RLDS, success only, the **same number of successful episodes** per task for both
   sources (the smaller count), plus the human demos relabelled with the specialist's actions (Fig 9) and smaller
   subsets (Fig 7);
4. **pretrain**: the tiny bases on scripted data of other tasks (or ``base_*`` given);
5. **finetune**: each model on each source (OpenVLA-style: LoRA r32; Octo-style: full fine-tune);
6. **evaluate**: every policy on the seen and unseen tasks (held-out seeds 100000+);
7. **probe**: a state -> action MLP cloned from each dataset and evaluated the same way (the data's quality apart
   from the generalists' capacity, ``probe.py``);
8. ``results.json``, then ``rldg report``.

Every stage is skipped when its output exists, so an interrupted run continues where it stopped (``--fresh``
starts over). Wall times per stage go to ``experiment.json``.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

from rldg_ros.experiment.config import SOURCES, ExperimentConfig
from rldg_ros.experiment.layout import DATASET_VERSION, slug
from rldg_ros.experiment.stages import StagedRun
from rldg_ros.spec import EVAL_FIRST_SEED


def _rldg() -> str:
    exe = Path(sys.executable).parent / "rldg"
    return str(exe) if exe.exists() else "rldg"


def run_graph(graph: str, args: dict, duration: float, logf: Path, domain: int | None = None) -> int:
    """``rldg up GRAPH key:=value ... --processes --duration`` with its output in ``logf``; raises on failure."""
    cmd = [_rldg(), "up", graph, *(f"{k}:={v}" for k, v in args.items()), "--processes", "--duration",
           f"{duration:.0f}"]
    logf.parent.mkdir(parents=True, exist_ok=True)
    with open(logf, "w") as f:
        f.write(" ".join(cmd) + "\n")
        f.flush()
        env = dict(os.environ, **({} if domain is None else {"ROS_DOMAIN_ID": str(domain)}))
        rc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, env=env).returncode
    if rc != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed with exit {rc}; log: {logf}")
    return rc


class Experiment(StagedRun):
    def __init__(self, cfg: ExperimentConfig, run_dir: str | Path, *, profile: str = "custom",
                 log=print) -> None:
        self.cfg = cfg
        self.profile = profile
        self._background: dict = {}  # (source, task) -> Future of a collection running alongside another stage
        super().__init__(run_dir, {"profile": profile, "config": asdict(cfg)}, log)

    def _up(self, graph: str, args: dict, duration: float, log_name: str, domain: int | None = None) -> int:
        return run_graph(graph, args, duration, self.layout.log(log_name), domain)

    # -- stages ------------------------------------------------------------------------------------------------
    def specialist_path(self, task: str) -> Path:
        if self.cfg.specialist_dir:  # by the task's name, or its RL stage's (fmb_assembly__insertion)
            for name in dict.fromkeys((slug(task), slug(rl_stage(task)[0]))):
                p = Path(self.cfg.specialist_dir) / name
                if p.exists():
                    return p
        return self.layout.specialist(task)

    def train_specialists(self) -> dict:
        info = {}
        for task in self.cfg.tasks:
            path = self.specialist_path(task)
            loaded = bool(self.cfg.specialist_dir) and path.parent == Path(self.cfg.specialist_dir)
            if loaded or (path / "trained.json").exists():
                self.log(f"experiment: specialist for {task}: {path} (loaded)")
                info[task] = (_loaded_specialist(path) if loaded
                              else json.loads((path / "trained.json").read_text()))
                continue
            t0 = time.monotonic()
            budget = self.cfg.rl_max_minutes * 60
            args = {"task": rl_stage(task)[0], "input": "expert", "reward": "sim_ground_truth", "obs": self.cfg.rl_obs,
                    "run_dir": path, "stop_after_eval_successes": self.cfg.rl_stop_after_eval_successes}
            if self.cfg.rl_obs == "pixels":
                args.update(backbone=self.cfg.rl_backbone, encoder=self.cfg.rl_encoder,
                            embed_cache=self.cfg.rl_embed_cache)
            self._up("train_rl", args, budget, f"train_rl_{slug(task)}")
            dt = time.monotonic() - t0
            rows = _episode_rows(path / "actor" / "metrics.jsonl")
            evals = [r for r in rows if r.get("eval")]
            info[task] = {"path": str(path), "trained_here": True, "minutes": dt / 60,
                          "train_episodes": sum(1 for r in rows if not r.get("eval")),
                          "env_steps": sum(int(r.get("steps", 0)) for r in rows),
                          "eval_successes_last10": sum(r["success"] for r in evals[-10:]),
                          "converged": len(evals) >= self.cfg.rl_stop_after_eval_successes > 0 and all(
                              r["success"] for r in evals[-self.cfg.rl_stop_after_eval_successes:])}
            (path / "trained.json").write_text(json.dumps(info[task], indent=1))
            self.log(f"experiment: specialist {task}: {dt / 60:.1f} min, converged={info[task]['converged']}")
        return {"specialists": info}

    def collect(self) -> dict:
        info = {}
        for task in self.cfg.tasks:
            for source in ("rl", "human"):
                fut = self._background.pop((source, task), None)
                info[f"{source}:{task}"] = fut.result() if fut is not None else self.collect_one(source, task)
        return {"collected": info}

    def start_human_collection(self) -> None:
        """The human-like demonstrator needs no specialist: record its bags while the specialists train (both are
        bound by the control rate, not the cores), on a ROS domain of its own so the two graphs do not mix."""
        from concurrent.futures import ThreadPoolExecutor

        if not self.cfg.collect_human_during_rl or self.meta["stages"].get("collect", {}).get("done"):
            return
        todo = [t for t in self.cfg.tasks if not (self.layout.bags("human", t) / "collected.json").exists()]
        if not todo:
            return
        pool = ThreadPoolExecutor(1, thread_name_prefix="collect_human")
        domain = (int(os.environ.get("ROS_DOMAIN_ID", "0") or 0) + 1) % 102  # 0..101: valid on every RMW
        for task in todo:
            self._background[("human", task)] = pool.submit(self.collect_one, "human", task, domain)
        pool.shutdown(wait=False)
        self.log(f"experiment: recording the human-like demonstrations of {len(todo)} task(s) while the specialists "
                 f"train (ROS_DOMAIN_ID={domain})")

    def collect_one(self, source: str, task: str, domain: int | None = None) -> dict:
        c = self.cfg
        out = self.layout.bags(source, task)
        done = out / "collected.json"
        if done.exists():
            return json.loads(done.read_text())
        shutil.rmtree(out, ignore_errors=True)
        rl_task, _, instruction = rl_stage(task)
        recorded = rl_task if source == "rl" else task  # FMB assembly: the specialist is rolled out on its stage
        args = {"task": recorded, "policy": "rl" if source == "rl" else "human_like",
                "first_seed": c.collect_first_seed, "bag_dir": out, "reward": "sim_ground_truth"}
        if recorded != task:  # its segments are fine-tuning data for the whole task: they carry its instruction
            args["instruction"] = instruction
        args["successes"] = c.episodes  # stop at `episodes` successes, after at most n attempts
        args["report"] = out / "episodes.json"
        if source == "rl":
            n = math.ceil(c.episodes * c.collect_margin)
            args["checkpoint"] = self.specialist_path(task)
            args["sample_actions"] = str(c.rl_rollout == "sample").lower()
            args["rollout_noise"] = c.rl_rollout_noise
            args["rollout_noise_steps"] = c.rl_rollout_noise_steps
        else:
            n = math.ceil(c.episodes * c.collect_max_attempts)
        args["episodes"] = n
        t0 = time.monotonic()
        self._up("collect", args, 60 + 30 * n, f"collect_{source}_{slug(task)}", domain=domain)
        row = {"max_rollouts": n, **self.count_collected(out, recorded, n), "seconds": time.monotonic() - t0}
        if row["successes"] < c.episodes and row["rollouts"] < n:
            # stopped early (Ctrl-C reaches the graph too and it exits cleanly): not marked done, a re-run records it
            raise RuntimeError(f"the {source} collection of {task} stopped after {row['rollouts']} of at most {n} "
                               f"episodes with {row['successes']} of {c.episodes} successes; run again to record it")
        out.mkdir(parents=True, exist_ok=True)
        done.write_text(json.dumps(row))
        self.log(f"experiment: collected {source} on {task}: {row['successes']}/{row['rollouts']} successful")
        return row

    @staticmethod
    def count_collected(out: Path, task: str, n: int) -> dict:
        """Rollouts, successful episodes of ``task`` and bags in a collection folder."""
        from rldg_ros.data.bags import find_bags
        from rldg_ros.data.convert import Converter, ConvertOptions, TopicMap

        bags = find_bags([out])
        succ = Converter(TopicMap(), ConvertOptions(progress=False)).count_successes(bags)
        rollouts = n
        if (out / "episodes.json").exists():
            rollouts = len(json.loads((out / "episodes.json").read_text())["episodes"])
        return {"rollouts": rollouts, "successes": int(succ.get(task, 0)), "bags": len(bags)}

    def datasets(self) -> dict[str, list[Path]]:
        """Dataset name -> RLDS dirs (one per seen task)."""
        c = self.cfg
        names = [f"{s}_{c.episodes}" for s in ("rl", "human")]
        if c.relabel:
            names.append(f"human_relabeled_{c.episodes}")
        names += [f"{s}_{k}" for k in c.scaling_runs()[0] for s in ("rl", "human")]
        return {n: [self.layout.dataset(n, t) for t in c.tasks] for n in names}

    def convert(self) -> dict:
        from rldg_ros.data.convert import Converter, ConvertOptions, TopicMap

        c = self.cfg
        info = {}
        collected = self.meta["stages"].get("collect", {}).get("collected", {})
        for task in c.tasks:
            n = min(c.episodes, *(collected.get(f"{s}:{task}", {}).get("successes", c.episodes)
                                  for s in ("rl", "human")))
            if n < c.episodes:
                self.log(f"experiment: {task}: only {n} successful episodes for one source; both use {n}")
            info[task] = {"episodes_per_source": n}
            _, human_phases, _ = rl_stage(task)
            for name, source, k, relabel in self.convert_jobs(task, n):
                out = self.layout.data_root(name)
                if (self.layout.dataset(name, task) / "dataset_info.json").exists():
                    continue
                conv = Converter(TopicMap(), ConvertOptions(max_episodes=k, relabel=relabel, progress=False,
                                                            relabel_keep_phases=human_phases if relabel else ()))
                inputs = [self.layout.bags(source, task)]
                if source == "rl" and human_phases:  # the paper's FMB assembly data: human grasp segments + RL
                    inputs.insert(0, f"{self.layout.bags('human', task)}@{','.join(human_phases)}")  # insertion
                rep = conv.run(inputs, out, slug(task))
                for problem in rep.problems:
                    self.log(f"experiment: convert {name} ({task}): {problem}")
                info[task][name] = {"episodes": sum(rep.episodes_written.values()), "steps": rep.steps_written}
        return {"datasets": info}

    def convert_jobs(self, task: str, n: int) -> list[tuple[str, str, int, str]]:
        """(dataset name, bag source, episodes, checkpoint whose actions label the steps or "") per dataset."""
        c = self.cfg
        spec = str(self.specialist_path(task))
        rl_labels = spec if c.rl_labels == "mean" else ""  # the specialist's mean action at each recorded state
        jobs = [(f"rl_{c.episodes}", "rl", n, rl_labels), (f"human_{c.episodes}", "human", n, "")]
        if c.relabel:
            jobs.append((f"human_relabeled_{c.episodes}", "human", n, spec))
        jobs += [(f"{s}_{k}", s, min(k, n), rl_labels if s == "rl" else "") for k in c.scaling_runs()[0]
                 for s in ("rl", "human")]
        return jobs

    def base(self, model: str) -> Path | None:
        given = self.cfg.base_octo if model == "octo" else self.cfg.base_openvla
        if given == "shipped":
            from rldg_ros.vla.bases import BASES

            return BASES[model]
        if given:
            return Path(given)
        steps = self.cfg.pretrain_steps_octo if model == "octo" else self.cfg.pretrain_steps_openvla
        return self.layout.base(model) if steps > 0 else None

    def pretrain(self) -> dict:
        from rldg_ros.vla.pretrain_data import write_pretraining_dataset

        c = self.cfg
        info = {}
        models = sorted(set(c.models) | set(c.scaling_runs()[1]))
        data = self.layout.model("pretrain_data")
        ds = data / "rldg_sim_pretrain" / DATASET_VERSION
        need = [m for m in models if self.base(m) is not None and not (self.base(m) / "training_summary.json").exists()]
        if need and not (ds / "dataset_info.json").exists():
            shutil.rmtree(data, ignore_errors=True)
            write_pretraining_dataset(data, "rldg_sim_pretrain", c.pretrain_tasks, c.pretrain_episodes_per_task,
                                      c.seed)
        if not need:
            return {"pretrained": {m: str(self.base(m)) if self.base(m) else "none (from scratch)" for m in models}}
        for m in need:
            t0 = time.monotonic()
            train, tcfg = _trainer(m, c.pretrain_steps_octo if m == "octo" else c.pretrain_steps_openvla, c, 1e-3
                                   if m == "openvla" else c.lr_octo)
            summary = train([ds], self.base(m), tcfg, progress=True, purpose="pretrain")
            info[m] = {"minutes": (time.monotonic() - t0) / 60, "val": summary.get("final_val_loss")}
        return {"pretrained": info}

    def runs(self) -> list[dict]:
        """Every fine-tuning run: model, dataset name, source, successful episodes per task it is trained on."""
        c = self.cfg
        out = []
        for m in c.models:
            for s in (SOURCES if c.relabel else SOURCES[:2]):
                out.append({"model": m, "data": f"{s}_{c.episodes}", "source": s, "episodes_trained": c.episodes})
        ks, ms = c.scaling_runs()
        for m in ms:
            for k in ks:
                for s in ("rl", "human"):
                    out.append({"model": m, "data": f"{s}_{k}", "source": s, "episodes_trained": k})
        # each run once per training seed; the first keeps the plain name (runs made before train_seeds existed)
        return [{**r, "name": f"{r['model']}_{r['data']}" + (f"_t{t}" if t else ""), "train_seed": c.seed + t}
                for r in out for t in range(c.train_seeds)]

    def finetune(self) -> dict:
        c = self.cfg
        info = {}
        sets = self.datasets()
        jobs = []
        for r in self.runs():
            name = r["name"]
            out = self.layout.model(name)
            if (out / "training_summary.json").exists() and _finished(out):
                continue
            steps = c.finetune_steps_octo if r["model"] == "octo" else c.finetune_steps_openvla
            base = self.base(r["model"])
            jobs.append(((r["model"], steps, c, c.lr_octo if r["model"] == "octo" else c.lr_openvla,
                          sets[r["data"]], out, base, c.train_workers <= 1, r["train_seed"]), name))
            self.log(f"experiment: fine-tune {name} ({steps} steps)")

        def done(name, row) -> None:
            info[name] = row
            self.log(f"experiment: fine-tuned {name}: {row['minutes']:.1f} min, validation loss {row['val']}")

        # several workers: one run each at a time, one compute thread each (two small models on two cores train
        # faster side by side than one after the other on both: bench in the README)
        run_jobs(_finetune_job, jobs, c.train_workers, done, "fine-tune")
        return {"finetuned": info}

    def policies(self) -> list[dict]:
        models = self.layout.models
        rows = [{"spec": f"{r['model']}:{models / r['name']}", "kind": "generalist", **r} for r in self.runs()]
        for t in self.cfg.tasks:
            stage = rl_stage(t)[0]
            rows.append({"name": f"rl_specialist_{slug(t)}", "spec": f"rl:{self.specialist_path(t)}",
                         "kind": "specialist", "trained_on": stage, **({"stage_of": t} if stage != t else {})})
        if self.cfg.eval_demonstrator:
            rows.append({"name": "human_like", "spec": "human_like", "kind": "scripted"})
        return rows

    def evaluate(self) -> dict:
        c = self.cfg
        edir = self.layout.eval_dir
        edir.mkdir(exist_ok=True)
        jobs = []
        for p in self.policies():
            tasks = [*c.tasks, *c.unseen_tasks]
            if p["kind"] == "specialist":  # a specialist is judged on its own task and the unseen ones
                tasks = [p["trained_on"], *c.unseen_tasks]
            for task in tasks:
                f = edir / f"{p['name']}__{slug(task)}.json"
                if not f.exists():
                    jobs.append(((p["spec"], task, c.eval_episodes, c.eval_mode), (p, task, f)))

        def done(key, res) -> None:
            p, task, f = key
            res.update({k: v for k, v in p.items() if k != "spec"})
            res["seen"] = task in c.tasks or task == p.get("trained_on")
            f.write_text(json.dumps(res, indent=1))
            self.log(f"experiment: {p['name']} on {task}: {res['successes']}/{res['episodes']}")

        # graph mode: one ROS graph at a time (each is a set of processes already)
        run_jobs(_eval_job, jobs, c.eval_workers if c.eval_mode == "in_process" else 1, done, "evaluate")
        return {}

    def probe(self) -> dict:
        """The data probe (probe.py): state -> action MLP behaviour cloning on every fine-tuning dataset."""
        c = self.cfg
        if not c.probe:
            self.log("experiment: data probe off (probe: false)")
            return {"probe": None}
        edir = self.layout.eval_dir
        edir.mkdir(exist_ok=True)
        sets = self.datasets()
        info = {}
        tasks = [*c.tasks, *c.unseen_tasks]
        jobs = []
        for r in {r["data"]: r for r in self.runs()}.values():  # one probe per dataset
            files = {t: edir / f"probe_{r['data']}__{slug(t)}.json" for t in tasks}
            if not all(f.exists() for f in files.values()):
                jobs.append(((sets[r["data"]], tasks, c.eval_episodes), (r, files)))

        def done(key, out) -> None:
            r, files = key
            info[r["data"]] = out["info"]
            for task, f in files.items():
                res = out["results"][task]
                res.update({"name": f"probe_{r['data']}", "kind": "probe", "model": "mlp-probe",
                            "source": r["source"], "data": r["data"], "episodes_trained": r["episodes_trained"],
                            "seen": task in c.tasks})
                f.write_text(json.dumps(res, indent=1))
                self.log(f"experiment: data probe on {r['data']}, {task}: {res['successes']}/{res['episodes']}")

        run_jobs(_probe_job, jobs, c.eval_workers, done, "probe")
        return {"probe": info}

    def collect_results(self) -> dict:
        rows = [json.loads(f.read_text()) for f in sorted(self.layout.eval_dir.glob("*.json"))]
        res = {"profile": self.profile, "config": asdict(self.cfg), "stages": self.meta["stages"], "evaluations": rows}
        self.layout.results.write_text(json.dumps(res, indent=1))
        return {}

    def run_all(self, stop_after: str | None = None) -> Path:
        """Run the stages in order (finished ones are kept); with ``stop_after``, stop once that stage is done
        (e.g. ``convert``: look at the data, run ``rldg diagnose`` on it, then re-run to continue)."""
        if stop_after is not None and stop_after not in STAGES:
            raise ValueError(f"stop_after: unknown stage {stop_after!r}; stages: {', '.join(STAGES)}")
        t0 = time.monotonic()
        self.start_human_collection()
        for name in STAGES:
            self._stage(name, getattr(self, STAGE_METHODS[name]))
            if name == stop_after:
                break
        else:
            self.collect_results()
        self.meta["total_minutes_this_invocation"] = (time.monotonic() - t0) / 60
        self.meta["total_minutes"] = sum(s.get("seconds", 0) for s in self.meta["stages"].values()) / 60
        self._save()
        return self.layout.results


# the pipeline's stages in order, and the method that runs each
STAGE_METHODS = {"specialists": "train_specialists", "collect": "collect", "convert": "convert",
                 "pretrain": "pretrain", "finetune": "finetune", "evaluate": "evaluate", "probe": "probe"}
STAGES = tuple(STAGE_METHODS)


def rl_stage(task: str) -> tuple[str, tuple[str, ...], str]:
    """(task the RL specialist trains and is rolled out on, phases a human does instead, the whole task's
    instruction): the task itself, none, its own for most; FMB assembly's insertion stage (Task.rl_task)."""
    from rldg_ros.sim.tasks import make_task

    t = make_task(task)
    return (t.rl_task or task), tuple(t.human_phases), t.instruction


def _loaded_specialist(path: Path) -> dict:
    """What a specialist trained elsewhere reports of its own training (``rldg rl report``'s summary.json of the
    learner run_dir), so the experiment's wall time can be stated with it."""
    info = {"path": str(path), "trained_here": False}
    try:
        s = json.loads((path / "summary.json").read_text())
    except (OSError, ValueError):
        return info
    fe = s.get("final_eval") or {}
    info.update({"minutes": float(s.get("wall_s", 0.0)) / 60, "env_steps": s.get("env_steps"),
                 "final_eval": f"{fe['successes']}/{fe['episodes']}" if "successes" in fe else None})
    return info


def _worker_init() -> None:
    """An evaluation worker process: one compute thread each (the workers are the parallelism; the simulator and
    renderer are single-threaded, and 2 workers x N threads would only contend for the cores)."""
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false "
                               "intra_op_parallelism_threads=1").strip()
    os.environ["OMP_NUM_THREADS"] = "1"  # torch (the probe) reads it when imported


def _eval_job(spec: str, task: str, episodes: int, mode: str) -> dict:
    from rldg_ros.vla.evaluate import evaluate_graph, evaluate_inprocess

    if mode == "graph":
        return evaluate_graph(spec, task, episodes, EVAL_FIRST_SEED)
    return evaluate_inprocess(spec, task, episodes, EVAL_FIRST_SEED)


def _probe_job(data: list[Path], tasks: list[str], episodes: int) -> dict:
    from rldg_ros.experiment.probe import MlpProbe, evaluate_probe, load_state_actions

    states, actions = load_state_actions(data)
    probe = MlpProbe(states, actions)
    return {"info": {"samples": len(states), "final_loss": probe.final_loss},
            "results": {t: evaluate_probe(probe, t, episodes, EVAL_FIRST_SEED) for t in tasks}}


def run_jobs(fn, jobs: list, workers: int, done, desc: str) -> None:
    """Runs ``fn(*args)`` for every ``(args, key)`` in ``jobs`` on ``workers`` processes (spawned: JAX and MuJoCo's
    GL context do not survive a fork), calling ``done(key, result)`` in this process as each one finishes, so an
    interrupted stage keeps what finished. A failing job stops the stage with its error."""
    from tqdm import tqdm

    if not jobs:
        return
    bar = tqdm(total=len(jobs), desc=f"{desc} ({min(workers, len(jobs))} worker(s))", unit="job")
    try:
        if workers <= 1 or len(jobs) == 1:
            for args, key in jobs:
                done(key, fn(*args))
                bar.update()
            return
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor, as_completed

        with ProcessPoolExecutor(min(workers, len(jobs)), mp_context=mp.get_context("spawn"),
                                 initializer=_worker_init) as pool:
            futures = {pool.submit(fn, *args): key for args, key in jobs}
            for fut in as_completed(futures):
                done(futures[fut], fut.result())
                bar.update()
    finally:
        bar.close()


def _finished(out: Path) -> bool:
    try:
        s = json.loads((out / "training_summary.json").read_text())
    except (OSError, ValueError):
        return False
    return int(s.get("step", 0)) >= int(s.get("train_config", {}).get("max_steps", 1))


def _trainer(model: str, steps: int, c: ExperimentConfig, lr: float | None, finetune: bool = False,
             seed: int | None = None):
    seed = c.seed if seed is None else seed
    if model == "openvla":
        from rldg_ros.vla.train_openvla import TrainConfig, train

        return train, TrainConfig(max_steps=steps, batch_size=c.batch_openvla, seed=seed, lr=lr or 0.0)
    from rldg_ros.vla.train_octo import TrainConfig, train

    return train, TrainConfig(max_steps=steps, batch_size=c.batch_octo, seed=seed, lr=lr or 3e-4,
                              contact_oversample=c.contact_oversample_octo if finetune else 1.0)


def _finetune_job(model: str, steps: int, c: ExperimentConfig, lr: float | None, data: list[Path], out: Path,
                  base: Path | None, progress: bool, seed: int | None = None) -> dict:
    t0 = time.monotonic()
    train, tcfg = _trainer(model, steps, c, lr, finetune=True, seed=seed)
    summary = train(data, out, tcfg, base=base, progress=progress)
    return {"minutes": (time.monotonic() - t0) / 60, "val": summary.get("final_val_loss")}


def _episode_rows(path: Path) -> list[dict]:
    rows = []
    if not path.exists():
        return rows
    for line in path.read_text().splitlines():
        try:
            r = json.loads(line)
        except ValueError:
            continue
        if str(r.get("kind", "")).startswith("episode_"):
            rows.append(r)
    return rows
