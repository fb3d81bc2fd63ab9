"""``rldg experiment ire``: iterate RL and supervised learning on the generalist itself (iRe-VLA, Guo et al., ICRA
2025), on the same ROS graph, tasks, seeds and evaluation as the RLDG experiment.

0. **expert**: demonstrations of the expert tasks (the cell's human-like or expert demonstrator, recorded as rosbag2,
   converted to RLDS); **g0**: octo-style fine-tuned on them; evaluated.
1. For each iteration k = 1..N:
   - **rl_k** (iRe-VLA's stage 1): ``rldg up train_rl`` on the RL task with the generalist g(k-1) as the policy's
     frozen backbone (``backbone:=octo:g(k-1)``, ``obs:=pixels``): only a light head, the actor and the critics
     learn, with interventions and the reward as in RLDG's specialists; the episodes are recorded.
   - **sl_k** (stage 2): g(k-1) fine-tuned (the whole model) on the expert data plus the successful episodes of
     every RL stage so far -> g(k).
   - **eval_k**: g(k) on the RL task, the expert tasks (forgetting) and the unseen tasks.

Every stage leaves its files under the run directory and is skipped when done (a re-run continues, a stopped RL
stage resumes from its learner checkpoint). Wall time and environment steps are counted per stage, so the two
methods can be compared on the same budget.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from rldg_ros.config import param
from rldg_ros.experiment.layout import RunLayout, slug
from rldg_ros.experiment.stages import StagedRun
from rldg_ros.spec import COLLECT_FIRST_SEED, EVAL_FIRST_SEED

NODE = "rldg_ire"


@dataclass
class IreConfig:
    task: str = param("connector_insertion/usb", help="the RL task (stage 1)")
    expert_tasks: list[str] = param(["connector_insertion/ethernet", "connector_insertion/vga"],
                                    help="tasks with expert demonstrations (stage 0 and every stage 2)")
    unseen_tasks: list[str] = param(["connector_insertion/type_c"], help="evaluation only")
    expert: str = param("human_like", choices=("human_like", "expert"), help="the demonstrator of the expert data")
    expert_episodes: int = param(15, min=1, help="successful demonstrations per expert task")
    iterations: int = param(2, min=1, max=20, help="RL -> SL iterations")
    rl_minutes: float = param(10.0, min=0.5, help="stage 1's wall-time budget per iteration")
    rl_input: str = param("expert", choices=("expert", "human_like", "none"), help="stage 1's scripted intervener")
    rl_demos: str = param("scripted:human_like", help="stage 1's initial demos of the RL task (train_rl demos:=; "
                          "RLDG's specialists start from the same 20; 'none': the head starts from its own rollouts)")
    embed_cache: int = param(1, min=1, max=8, help="stage 1: augmented embeddings kept per frame")
    initial_steps: int = param(1000, min=1, help="g0's fine-tuning steps on the expert data")
    sl_steps: int = param(500, min=1, help="each stage 2's fine-tuning steps")
    lr: float = param(1e-3, min=1e-6, max=1.0, help="octo-style learning rate")
    batch_size: int = param(32, min=2)
    eval_episodes: int = param(20, min=1, help="per task and iteration, on held-out seeds")
    eval_first_seed: int = param(EVAL_FIRST_SEED, min=0)
    seed: int = param(0, min=0)
    compare_with: str = param("", help="an RLDG run directory ('rldg experiment rldg') on the same tasks: the report "
                              "puts its RL-data octo-style generalist and its wall time next to every iteration")


def load_ire_config(path: str | Path | None, overrides: dict | None = None) -> IreConfig:
    from rldg_ros import config_path
    from rldg_ros.config import load_config

    return load_config(IreConfig, Path(path) if path else config_path("experiments/ire.yaml"), NODE,
                       overrides=overrides)


class IreExperiment(StagedRun):
    def __init__(self, cfg: IreConfig, run_dir: str | Path, log=print) -> None:
        from rldg_ros.sim.tasks import make_task

        for task in [cfg.task, *cfg.expert_tasks, *cfg.unseen_tasks]:  # a typo fails here, not in a graph later
            make_task(task)
        if cfg.compare_with and not (Path(cfg.compare_with) / "experiment.json").exists():
            raise FileNotFoundError(f"compare_with {cfg.compare_with}: no experiment.json there (an 'rldg experiment "
                                    "rldg' run directory)")
        self.cfg = cfg
        super().__init__(run_dir, {"experiment": "ire", "config": asdict(cfg)}, log, name="ire")

    def _up(self, graph: str, args: dict, duration: float, log_name: str) -> None:
        from rldg_ros.experiment.pipeline import run_graph

        run_graph(graph, args, duration, self.layout.log(log_name))

    def model(self, k: int) -> Path:
        return self.layout.model(f"g{k}")

    # -- stages ------------------------------------------------------------------------------------------------
    def expert_data(self) -> dict:
        from rldg_ros.data.convert import Converter, ConvertOptions, TopicMap

        c, info = self.cfg, {}
        for task in c.expert_tasks:
            bags = self.layout.bags("expert", task)
            if not (bags / "collected.json").exists():
                shutil.rmtree(bags, ignore_errors=True)
                n = 3 * c.expert_episodes
                self._up("collect", {"task": task, "policy": c.expert, "first_seed": COLLECT_FIRST_SEED,
                                     "bag_dir": bags, "reward": "sim_ground_truth", "episodes": n,
                                     "successes": c.expert_episodes}, 60 + 30 * n, f"collect_expert_{slug(task)}")
                (bags / "collected.json").write_text("{}")
            if not (self.layout.dataset("expert", task) / "dataset_info.json").exists():
                rep = Converter(TopicMap(), ConvertOptions(max_episodes=c.expert_episodes, progress=False)).run(
                    [bags], self.layout.data_root("expert"), slug(task))
                info[task] = {"episodes": sum(rep.episodes_written.values()), "steps": rep.steps_written}
        return {"expert": info}

    def _finetune(self, out: Path, data: list[Path], steps: int, base: Path | None) -> dict:
        from rldg_ros.vla.train_octo import TrainConfig, train

        c = self.cfg
        s = train([str(d) for d in data], out, TrainConfig(max_steps=steps, batch_size=c.batch_size, lr=c.lr,
                                                           seed=c.seed), base=base, progress=False)
        return {"steps": s["step"], "final_val_loss": s.get("final_val_loss"), "data": [str(d) for d in data]}

    def expert_datasets(self) -> list[Path]:
        return [self.layout.dataset("expert", t) for t in self.cfg.expert_tasks]

    def rl_datasets(self, upto: int) -> list[Path]:
        """The RL stages' successful episodes (those that had any) up to iteration ``upto``."""
        return [d for k in range(1, upto + 1) if (d := self.layout.dataset(f"rl_{k}", self.cfg.task)).exists()]

    def rl_stage(self, k: int) -> dict:
        """Stage 1 of iteration k: RL with g(k-1) frozen as the backbone; the episodes recorded and converted."""
        from rldg_ros.data.convert import Converter, ConvertOptions, TopicMap
        from rldg_ros.experiment.pipeline import _episode_rows

        c = self.cfg
        run = self.run / "rl" / f"iteration_{k}"
        bags = self.layout.bags(f"rl_{k}", c.task)
        # resumed: what is left of the budget (the learner continues from its checkpoint, the bags are kept)
        budget = max(30.0, c.rl_minutes * 60 - self.spent(f"rl_{k}"))
        self._up("train_rl", {"task": c.task, "input": c.rl_input, "reward": "sim_ground_truth", "obs": "pixels",
                              "backbone": f"octo:{self.model(k - 1).resolve()}", "embed_cache": c.embed_cache,
                              "run_dir": run, "record": "true", "bag_dir": bags, "eval_every": 0,
                              "demos": c.rl_demos}, budget, f"rl_{k}")
        rows = _episode_rows(run / "actor" / "metrics.jsonl")
        info = {"episodes": len(rows), "successes": sum(bool(r["success"]) for r in rows),
                "env_steps": sum(int(r.get("steps", 0)) for r in rows),
                "interventions": sum(int(r.get("interventions", 0)) for r in rows)}
        if info["successes"]:
            rep = Converter(TopicMap(), ConvertOptions(progress=False)).run([bags], self.layout.data_root(f"rl_{k}"),
                                                                            slug(c.task))
            info["converted"] = {"episodes": sum(rep.episodes_written.values()), "steps": rep.steps_written}
        return info

    def evaluate(self, k: int) -> dict:
        from rldg_ros.vla.evaluate import evaluate_inprocess

        c, out = self.cfg, {}
        for group, tasks in (("rl", [c.task]), ("expert", c.expert_tasks), ("unseen", c.unseen_tasks)):
            rows = [evaluate_inprocess(f"octo:{self.model(k)}", t, c.eval_episodes, c.eval_first_seed)
                    for t in tasks]
            out[group] = {r["task"]: {"successes": r["successes"], "episodes": r["episodes"],
                                      "mean_cycle_time_s": r.get("mean_cycle_time_s")} for r in rows}
        return {"evaluation": out}

    def run_all(self, stop_after: str | None = None) -> dict:
        c = self.cfg
        check_stage(c, stop_after)
        for name in stage_names(c):  # the names say what each stage is: expert, g0, then rl_k, sl_k, eval_k
            kind, _, k = name.rpartition("_") if "_" in name else (name, "", "0")
            k = int(k)
            fn = {"expert": self.expert_data, "g0": lambda: self._finetune(self.model(0), self.expert_datasets(),
                                                                           c.initial_steps, None),
                  "eval": lambda k=k: self.evaluate(k), "rl": lambda k=k: self.rl_stage(k),
                  "sl": lambda k=k: self._finetune(self.model(k), self.expert_datasets() + self.rl_datasets(k),
                                                   c.sl_steps, self.model(k - 1))}[kind]
            self._stage(name, fn)
            if name == stop_after:
                break
        results = self.results()
        self.layout.results.write_text(json.dumps(results, indent=1))
        return results

    def results(self) -> dict:
        """One row per iteration: success on the RL task, the expert tasks and the unseen tasks, and what it cost."""
        rows = []
        st = self.meta["stages"]
        for k in range(self.cfg.iterations + 1):
            ev = st.get(f"eval_{k}", {}).get("evaluation")
            if ev is None:
                continue
            row = {"iteration": k}
            for group in ("rl", "expert", "unseen"):
                g = ev.get(group, {})
                row[group] = [sum(v["successes"] for v in g.values()), sum(v["episodes"] for v in g.values())]
                row[f"{group}_cycle_time_s"] = _mean_cycle_time(g.values())
            cost = [st.get(n, {}) for n in ([f"rl_{k}", f"sl_{k}"] if k else ["expert", "g0"])]
            row["minutes"] = sum(s.get("seconds", 0.0) for s in cost) / 60
            row["env_steps"] = st.get(f"rl_{k}", {}).get("env_steps", 0) if k else 0
            row["rl_successes"] = st.get(f"rl_{k}", {}).get("successes") if k else None
            rows.append(row)
        out = {"experiment": "ire", "config": asdict(self.cfg), "iterations": rows}
        if self.cfg.compare_with:
            out["rldg"] = rldg_reference(self.cfg.compare_with, self.cfg)
        return out


def stage_names(cfg: IreConfig) -> list[str]:
    return ["expert", "g0", "eval_0", *(f"{s}_{k}" for k in range(1, cfg.iterations + 1) for s in ("rl", "sl", "eval"))]


def check_stage(cfg: IreConfig, stop_after: str | None) -> None:
    """ValueError naming the stages when ``stop_after`` is none of them."""
    if stop_after is not None and stop_after not in stage_names(cfg):
        raise ValueError(f"unknown stage {stop_after!r}; stages: {', '.join(stage_names(cfg))}")


def _mean_cycle_time(rows) -> float | None:
    """Success-weighted mean cycle time (s) over evaluation rows; None without a success."""
    pairs = [(r["successes"], r["mean_cycle_time_s"]) for r in rows
             if r.get("successes") and r.get("mean_cycle_time_s")]
    n = sum(k for k, _ in pairs)
    return sum(k * t for k, t in pairs) / n if n else None


def rldg_reference(run_dir: str | Path, cfg: IreConfig) -> dict:
    """An RLDG run's RL-data octo-style generalist (its largest data set) on the ire run's RL, expert and unseen tasks,
    and the RLDG run's wall time; a task it did not evaluate stays absent (counted nowhere)."""
    run = Path(run_dir)
    meta = json.loads((run / "experiment.json").read_text())
    rows = [json.loads(f.read_text()) for f in sorted((run / "eval").glob("octo_rl_*__*.json"))]
    if not rows:
        raise FileNotFoundError(f"{run}/eval holds no octo_rl_* evaluation: not a finished RLDG run")
    n = max(int(r["episodes_trained"]) for r in rows)
    rows = [r for r in rows if int(r["episodes_trained"]) == n]
    st = meta["stages"]
    # what producing that generalist cost: the specialists, recording their rollouts, converting, its fine-tuning
    # (not the human data, the other models, the evaluation or the probe; iRe-VLA's minutes leave out evaluation too)
    rl_collect = sum(float(v.get("seconds", 0.0)) for k, v in st.get("collect", {}).get("collected", {}).items()
                     if k.startswith("rl:"))
    tuned = st.get("finetune", {}).get("finetuned", {}).get(f"octo_rl_{n}", {}).get("minutes")
    if tuned is None:  # trained by an attempt that was stopped (its stage row never recorded it): the model says
        try:
            tuned = float(json.loads((run / "models" / f"octo_rl_{n}" / "training_summary.json").read_text())
                          ["seconds"]) / 60
        except (OSError, ValueError, KeyError):
            tuned = None
    out = {"run": str(run), "profile": meta.get("profile"), "episodes_per_task": n,
           "minutes": None if tuned is None else (float(st.get("specialists", {}).get("seconds", 0.0)) + rl_collect
                                                 + float(st.get("convert", {}).get("seconds", 0.0))) / 60 + tuned}
    for group, tasks in (("rl", [cfg.task]), ("expert", cfg.expert_tasks), ("unseen", cfg.unseen_tasks)):
        g = [r for r in rows if r["task"] in tasks]
        out[group] = [sum(r["successes"] for r in g), sum(r["episodes"] for r in g)]
        out[f"{group}_cycle_time_s"] = _mean_cycle_time(g)
        out[f"{group}_tasks"] = sorted({r["task"] for r in g})
    return out


def write_report(run_dir: str | Path) -> Path:
    """report.md of an ire run: success per iteration on the RL task, the expert tasks (forgetting), the unseen
    tasks, with the wall time and environment steps each iteration spent."""
    from rldg_ros.sim.rollout import wilson_interval

    layout = RunLayout(Path(run_dir))
    res = json.loads(layout.results.read_text())
    cfg = res["config"]

    def cell(p):
        k, n = p
        if not n:
            return "-"
        lo, hi = wilson_interval(k, n)
        return f"{k}/{n} ({100 * k / n:.0f} %, CI {100 * lo:.0f}-{100 * hi:.0f})"

    md = ["# iRe-VLA on the rldg stack: RL and supervised learning iterated on octo-style-tiny", "",
          f"RL task: {cfg['task']}; expert tasks: {', '.join(cfg['expert_tasks'])} ({cfg['expert']} demonstrations, "
          f"{cfg['expert_episodes']} each); unseen: {', '.join(cfg['unseen_tasks'])}. {cfg['eval_episodes']} "
          f"evaluation episodes per task and iteration on held-out seeds {cfg['eval_first_seed']}+; Wilson 95 % "
          "intervals. Iteration 0 is the generalist fine-tuned on the expert data.", "",
          "| iteration | RL task | expert tasks (forgetting) | unseen | cycle time RL task (s) | RL successes in "
          "stage 1 | env steps | wall time (min) |", "|---|---|---|---|---|---|---|---|"]

    def ct(v):
        return "-" if v is None else f"{v:.1f}"

    total = 0.0
    for r in res["iterations"]:
        total += r["minutes"]
        md.append(f"| {r['iteration']} | {cell(r['rl'])} | {cell(r['expert'])} | {cell(r['unseen'])} | "
                  f"{ct(r.get('rl_cycle_time_s'))} | {'-' if r['rl_successes'] is None else r['rl_successes']} | "
                  f"{r['env_steps'] or '-'} | {r['minutes']:.1f} (total {total:.1f}) |")
    ref = res.get("rldg")
    if ref:
        md += ["", f"RLDG on the same machine (`{ref['run']}`, profile {ref['profile']}): octo-style-tiny fine-tuned "
               f"on its RL specialists' data ({ref['episodes_per_task']} episodes per task), evaluated on the same "
               "held-out seeds; its wall time is what that generalist cost: training the specialists, recording their "
               "rollouts, converting, and its fine-tuning (not the human data, the other models or the evaluation; "
               "iRe-VLA's leaves out its evaluations too).", "",
               "| method | RL task | expert tasks | unseen | cycle time RL task (s) | wall time (min) |",
               "|---|---|---|---|---|---|",
               f"| iRe-VLA, last iteration | {cell(res['iterations'][-1]['rl'])} | "
               f"{cell(res['iterations'][-1]['expert'])} | {cell(res['iterations'][-1]['unseen'])} | "
               f"{ct(res['iterations'][-1].get('rl_cycle_time_s'))} | {total:.1f} |" if res["iterations"] else "",
               f"| RLDG (RL data, octo-style-tiny) | {cell(ref['rl'])} | {cell(ref['expert'])} | "
               f"{cell(ref['unseen'])} | {ct(ref.get('rl_cycle_time_s'))} | "
               f"{'-' if ref['minutes'] is None else format(ref['minutes'], '.1f')} |"]
    out = layout.report
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.md").write_text("\n".join(md) + "\n")
    return out / "report.md"
