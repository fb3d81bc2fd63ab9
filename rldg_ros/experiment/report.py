"""``rldg report RUN_DIR``: the experiment's markdown report with PNG figures analogous to the paper's.

* ``fig5_success.png``: success of each generalist fine-tuned on RL vs human data, seen and unseen tasks;
* ``fig6_cycle_time.png``: mean time to success of the same policies;
* ``fig7_scaling.png``: success vs number of fine-tuning episodes, RL vs human data;
* ``fig8_actions.png``: the recorded actions near the insertion point, RL vs human data;
* ``fig9_relabel.png``: human data / human states with RL actions / RL data;
* ``generalization.png``: the RL specialist vs the RL-data generalists on seen and unseen tasks.

Everything is read from RUN_DIR (``results.json``, the RLDS datasets, ``experiment.json``), so a report can be
rebuilt at any time. The paper's numbers (docs/REFERENCES.md) are quoted next to ours, never mixed into them.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from rldg_ros.experiment.layout import RunLayout
from rldg_ros.spec import ACTION_POS, EVAL_FIRST_SEED, STATE_POS

SOURCE_LABEL = {"rl": "RL data (RLDG)", "human": "human(-like) data", "human_relabeled": "human states + RL actions"}
SOURCE_COLOR = {"rl": "#1f77b4", "human": "#ff7f0e", "human_relabeled": "#2ca02c"}
MODEL_LABEL = {"octo": "octo-style-tiny", "openvla": "openvla-style-tiny"}

PAPER = [
    ("Connector insertion, OpenVLA: RL vs human data", "+23 % success with RL data"),
    ("FMB insertion, OpenVLA", "+33 % success with RL data"),
    ("Unseen connectors, OpenVLA", "> 2x success with RL data; 73/80 vs best single RL specialist 49/80"),
    ("Pick-place OpenVLA / Octo", "16/20 -> 19/20 / 1/20 -> 4/20"),
    ("Fig 7 (VGA)", "100 % with 45 RL episodes vs 300 human demos"),
    ("Cycle time (OpenVLA)", "RL data 0.3-2.3 s faster"),
    ("Fig 9", "human states relabelled with RL actions close most of the gap: action quality matters most"),
]


class ReportError(ValueError):
    pass


def _load(run: Path) -> dict:
    f = RunLayout(run).results
    if not f.exists():
        raise ReportError(f"{f} does not exist: run 'rldg experiment rldg --run-dir {run}' first (or it stopped "
                          "before evaluating)")
    return json.loads(f.read_text())


def _agg(rows: list[dict]) -> dict:
    """Pool episodes over tasks: successes, episodes, Wilson interval, mean cycle time of successes."""
    from rldg_ros.sim.rollout import wilson_interval

    k = sum(r["successes"] for r in rows)
    n = sum(r["episodes"] for r in rows)
    times = [e["cycle_time_s"] for r in rows for e in r.get("episodes_detail", []) if e["success"]]
    lo, hi = wilson_interval(k, n)
    return {"successes": k, "episodes": n, "rate": k / n if n else 0.0, "ci": (lo, hi),
            "cycle_time": float(np.mean(times)) if times else None,
            "cycle_time_sd": float(np.std(times)) if len(times) > 1 else 0.0}


def _select(evals: list[dict], **kw) -> list[dict]:
    return [e for e in evals if all(e.get(k) == v for k, v in kw.items())]


def _bars(ax, groups: list[str], series: dict[str, list[dict]], colors: dict, ylabel: str, value: str = "rate"):
    width = 0.8 / max(len(series), 1)
    x = np.arange(len(groups))
    for i, (name, vals) in enumerate(series.items()):
        h = [(v[value] if v and v[value] is not None else 0.0) for v in vals]
        if value == "rate":
            err = np.array([[v["rate"] - v["ci"][0], v["ci"][1] - v["rate"]] if v and v["episodes"] else [0, 0]
                            for v in vals]).T
        else:
            err = np.array([[v["cycle_time_sd"]] * 2 if v and v["cycle_time"] is not None else [0, 0]
                            for v in vals]).T
        pos = x - 0.4 + width * (i + 0.5)
        ax.bar(pos, h, width, yerr=err, capsize=3, color=colors.get(name), label=SOURCE_LABEL.get(name, name))
        for p, v, hh in zip(pos, vals, h, strict=True):
            if v:
                txt = f"{v['successes']}/{v['episodes']}" if value == "rate" else (
                    "-" if v["cycle_time"] is None else f"{hh:.1f}")
                ax.text(p, hh + 0.02 * (1 if value == "rate" else max(h + [1])), txt, ha="center", fontsize=7)
    ax.set_xticks(x, groups, fontsize=8)
    ax.set_ylabel(ylabel)


def _pooled(rows: list[dict]) -> dict | None:
    a = _agg(rows)
    return a if a["episodes"] else None


def _fewest_to_match(gen: list[dict], model: str, ks: list[int], n: int, seen: bool) -> str:
    """Fig 7's reading: the fewest RL episodes per task whose success reaches the human data's success with all
    ``n`` episodes (paper: 45 RL episodes against 300 human ones), on the seen or unseen tasks."""
    where = "seen" if seen else "unseen"
    human = _agg(_select(gen, model=model, source="human", episodes_trained=n, seen=seen))
    if not human["episodes"]:
        return f"{where}: human data with {n} episodes not evaluated"
    for k in ks:
        rl = _agg(_select(gen, model=model, source="rl", episodes_trained=k, seen=seen))
        if rl["episodes"] and rl["rate"] >= human["rate"]:
            return (f"{where}: RL data with **{k}** episodes per task ({rl['rate']:.0%}) reaches human data's "
                    f"{human['rate']:.0%} with {n} ({k / n:.2f} of them)")
    return f"{where}: no RL subset reaches human data's {human['rate']:.0%} with {n} episodes"


def _base_text(cfg: dict, m: str) -> str:
    given = cfg.get(f"base_{m}", "")
    if given == "shipped":
        from rldg_ros.vla.bases import BASES, MANIFEST

        mf = BASES[m] / MANIFEST
        steps = json.loads(mf.read_text()).get("steps") if mf.exists() else None
        recipe = "LoRA r=32 on every linear layer" if m == "openvla" else "full fine-tune"
        return (f"from the shipped base `models/bases/{BASES[m].name}` (pretrained {steps or '-'} steps on the sim "
                f"corpus, no connector in it; docs/generalists.md), {recipe}")
    if given:
        return f"from the base `{given}`"
    if cfg.get(f"pretrain_steps_{m}"):
        return f"pretrained {cfg[f'pretrain_steps_{m}']} steps on scripted demos of {', '.join(cfg['pretrain_tasks'])}"
    return "no pretraining (trained from scratch on each source)"


def _seen_unseen(plt, out: Path, fname: str, title: str, groups: list[str], series_for, titles=None) -> None:
    """Two panels (seen, unseen tasks) of success bars; ``series_for(seen)`` -> {source: [pooled or None]}."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
    for ax, seen in zip(axes, (True, False), strict=True):
        _bars(ax, groups, series_for(seen), SOURCE_COLOR, "success rate")
        ax.set_title((titles or {True: "seen tasks", False: "unseen tasks"})[seen], fontsize=9)
        ax.set_ylim(0, 1.15)
    axes[0].legend(fontsize=7, loc="upper left")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out / fname, dpi=110)
    plt.close(fig)


def _episode_arrays(ds_dirs: list[Path]) -> list[dict]:
    from rldg_ros.data.rlds import RldsReader

    out = []
    for d in ds_dirs:
        if not (d / "dataset_info.json").exists():
            continue
        r = RldsReader(d)
        for split in r.splits:
            for ep in r.episodes(split, decode_images=False):
                out.append({"state": ep["steps"]["observation"]["state"], "action": ep["steps"]["action"]})
    return out


def near_insertion_actions(episodes: list[dict], radius_m: float = 0.015) -> np.ndarray:
    """Actions recorded while the TCP was within ``radius_m`` of where the (successful) episode ended: the
    insertion point (state[:3] is the TCP position)."""
    rows = []
    for e in episodes:
        pos = e["state"][:, STATE_POS]
        near = np.linalg.norm(pos - pos[-1], axis=1) < radius_m
        rows.append(e["action"][near])
    return np.concatenate(rows) if rows else np.zeros((0, 7), np.float32)


def _specialist_note(task: str, v: dict) -> str:
    if v.get("trained_here", True):
        return f"{task}: {v.get('minutes', 0):.1f} min, {v.get('env_steps', '?')} env steps, " \
               f"converged={v.get('converged')}"
    if not v.get("minutes"):
        return f"{task}: loaded ({v['path']})"
    return (f"{task}: loaded ({v['path']}; trained there in {v['minutes']:.1f} min, {v['env_steps']} env steps, "
            f"final evaluation {v['final_eval']})")


def _mean_norm(actions: np.ndarray) -> float:
    """Mean translation norm of actions (nan for none)."""
    return float(np.mean(np.linalg.norm(actions[:, ACTION_POS], axis=1))) if len(actions) else float("nan")


def _cell(a) -> str:
    return "-" if not a or not a["episodes"] else (
        f"{a['successes']}/{a['episodes']} ({100 * a['rate']:.0f} %, CI {100 * a['ci'][0]:.0f}-"
        f"{100 * a['ci'][1]:.0f})")


def _per_seed(rows: list[dict]) -> str:
    """Each training seed's pooled success when a run was fine-tuned with several (``train_seeds``), else ""."""
    by: dict[int, list[dict]] = {}
    for r in rows:
        by.setdefault(int(r.get("train_seed", 0)), []).append(r)
    if len(by) < 2:
        return ""
    return " (by training seed: " + ", ".join(
        f"{sum(r['successes'] for r in v)}/{sum(r['episodes'] for r in v)}" for _, v in sorted(by.items())) + ")"


def _ct(a) -> str:
    return "-" if not a or a["cycle_time"] is None else f"{a['cycle_time']:.2f}"


def write_report(run_dir: str | Path, out_dir: str | Path | None = None) -> Path:
    """``report.md`` and its figures for a run directory (``results.json``); -> the report's path."""
    return _Report(Path(run_dir), Path(out_dir) if out_dir else None).write()


class _Report:
    """One report: each paper figure's section is a method that adds its PNG and its markdown."""

    def __init__(self, run: Path, out: Path | None) -> None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        self.plt = plt
        self.run = run
        self.res = _load(run)
        self.cfg = cfg = self.res["config"]
        self.out = out or RunLayout(run).report
        self.out.mkdir(parents=True, exist_ok=True)
        self.evals = self.res["evaluations"]
        self.N = cfg["episodes"]
        self.gen = [e for e in self.evals if e.get("kind") == "generalist"]
        self.models = [m for m in cfg["models"] if _select(self.gen, model=m)]
        self.sources = [s for s in ("rl", "human", "human_relabeled")
                        if _select(self.gen, source=s, episodes_trained=self.N)]
        self.spec = [e for e in self.evals if e.get("kind") == "specialist"]
        self.scripted = [e for e in self.evals if e.get("kind") == "scripted"]
        self.probes = [e for e in self.evals if e.get("kind") == "probe"]
        self.md: list[str] = []

    def write(self) -> Path:
        for section in (self.header, self.fig5, self.fig6, self.fig7, self.fig8, self.fig9, self.generalization,
                        self.probe, self.per_task, self.pipeline):
            section()
        (self.out / "report.md").write_text("\n".join(self.md))
        return self.out / "report.md"

    def _gen(self, **kw) -> list[dict]:
        return _select(self.gen, **kw)

    def _save(self, fig, name: str) -> None:
        fig.tight_layout()
        fig.savefig(self.out / name, dpi=110)
        self.plt.close(fig)

    def header(self) -> None:
        cfg, md, N, models, res = self.cfg, self.md, self.N, self.models, self.res
        md += [f"# RLDG experiment report: profile `{res['profile']}`", ""]
        md += [f"Run directory: `{self.run}`. Seen (fine-tuning) tasks: {', '.join(cfg['tasks'])}; unseen: "
               f"{', '.join(cfg['unseen_tasks'])}. Generalists: {', '.join(MODEL_LABEL[m] for m in models)} (small "
               "models built and trained here, **not** OpenVLA or Octo; same recipes: LoRA r32 / full fine-tune). "
               f"Evaluation: {cfg['eval_episodes']} episodes per task and policy on held-out seeds "
               f"({EVAL_FIRST_SEED}+), "
               f"{cfg['eval_mode'].replace('_', '-')} mode; success with Wilson 95 % intervals.", ""]
        conv = res.get("stages", {}).get("convert", {}).get("datasets", {})
        self.n_actual = n_actual = min((v.get("episodes_per_source", N) for v in conv.values()), default=N)
        if n_actual < N:
            md += [f"Fine-tuning sets: **{n_actual}** successful episodes per task and source (configured {N}; both "
                   "sources are capped at the smaller successful count, so 'N episodes' below means at most N).", ""]
        pre = [f"{MODEL_LABEL[m]}: " + _base_text(cfg, m) + f", then {cfg[f'finetune_steps_{m}']} fine-tuning steps"
               for m in models]
        md += ["Training: " + "; ".join(pre) + ". Both see the wrist image, the instruction and the robot state "
               "(proprio).", ""]

    def fig5(self) -> None:
        cfg, md, gen, N, models, sources = self.cfg, self.md, self.gen, self.N, self.models, self.sources
        n = self.n_actual
        _seen_unseen(self.plt, self.out, "fig5_success.png",
                     f"Fig 5 analogue: generalists fine-tuned on {n} RL vs {n} human episodes per task",
                     [MODEL_LABEL[m] for m in models],
                     lambda seen: {s: [_pooled(_select(gen, model=m, source=s, episodes_trained=N, seen=seen))
                                       for m in models] for s in ("rl", "human")},
                     {True: "seen: " + ", ".join(t.split("/")[-1] for t in cfg["tasks"]),
                      False: "unseen: " + ", ".join(t.split("/")[-1] for t in cfg["unseen_tasks"])})

        md += ["## Success: RL data vs human data (paper Fig 5)", "", "![fig5](fig5_success.png)", "",
               "| model | data | seen success | unseen success | seen cycle time (s) | unseen cycle time (s) |",
               "|---|---|---|---|---|---|"]

        for m in models:
            for s in sources:
                rows = {v: _select(gen, model=m, source=s, episodes_trained=N, seen=v) for v in (True, False)}
                seen, unseen = _agg(rows[True]), _agg(rows[False])
                md.append(f"| {MODEL_LABEL[m]} | {SOURCE_LABEL[s]} | {_cell(seen)}{_per_seed(rows[True])} | "
                          f"{_cell(unseen)}{_per_seed(rows[False])} | {_ct(seen)} | {_ct(unseen)} |")
        md.append("")

    def fig6(self) -> None:
        md, gen, N, models = self.md, self.gen, self.N, self.models
        fig, ax = self.plt.subplots(figsize=(6, 3.6))
        groups, series = [], {s: [] for s in ("rl", "human")}
        for m in models:
            for seen in (True, False):
                groups.append(f"{MODEL_LABEL[m]}\n{'seen' if seen else 'unseen'}")
                for s in series:
                    a = _agg(_select(gen, model=m, source=s, episodes_trained=N, seen=seen))
                    series[s].append(a if a["episodes"] else None)
        _bars(ax, groups, series, SOURCE_COLOR, "mean time to success (s)", value="cycle_time")
        ax.legend(fontsize=8)
        ax.set_title("Fig 6 analogue: cycle time of successful episodes (lower is better)", fontsize=9)
        self._save(fig, "fig6_cycle_time.png")
        md += ["## Cycle time (paper Fig 6)", "", "![fig6](fig6_cycle_time.png)", ""]

    def fig7(self) -> None:
        cfg, md, gen, N, models = self.cfg, self.md, self.gen, self.N, self.models
        smodels = [m for m in cfg["scaling_models"] if m in models and cfg.get("scaling", True)]
        if smodels and cfg["scaling_episodes"]:
            ks = sorted({*cfg["scaling_episodes"], N})
            fig, axes = self.plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
            md += ["## Success vs number of fine-tuning episodes (paper Fig 7)", "", "![fig7](fig7_scaling.png)", "",
                   "| model | data | " + " | ".join(f"{k} ep. seen / unseen" for k in ks) + " |",
                   "|---|---|" + "---|" * len(ks)]
            for m in smodels:
                for s in ("rl", "human"):
                    cells = []
                    for ax, seen in zip(axes, (True, False), strict=True):
                        pts = [(k, _agg(_select(gen, model=m, source=s, episodes_trained=k, seen=seen))) for k in ks]
                        pts = [(k, a) for k, a in pts if a["episodes"]]
                        if pts:
                            ax.errorbar([k for k, _ in pts], [a["rate"] for _, a in pts],
                                        yerr=np.array([[a["rate"] - a["ci"][0], a["ci"][1] - a["rate"]]
                                                       for _, a in pts]).T,
                                        marker="o", capsize=3, color=SOURCE_COLOR[s],
                                        linestyle="-" if m == smodels[0] else "--",
                                        label=f"{MODEL_LABEL[m]}, {SOURCE_LABEL[s]}")
                    for k in ks:
                        parts = []
                        for v in (True, False):
                            rows = _select(gen, model=m, source=s, episodes_trained=k, seen=v)
                            a = _agg(rows)  # not evaluated: "-", never 0/0
                            parts.append(f"{a['successes']}/{a['episodes']}{_per_seed(rows)}" if a["episodes"] else "-")
                        cells.append(" / ".join(parts))
                    md.append(f"| {MODEL_LABEL[m]} | {SOURCE_LABEL[s]} | " + " | ".join(cells) + " |")
            md.append("")
            for m in smodels:
                md.append(f"- {MODEL_LABEL[m]}: " + "; ".join(_fewest_to_match(gen, m, ks, N, seen)
                                                             for seen in (True, False)))
            for ax, seen in zip(axes, (True, False), strict=True):
                ax.set_xlabel("fine-tuning episodes per task")
                ax.set_title("seen tasks" if seen else "unseen tasks", fontsize=9)
                ax.set_ylim(-0.05, 1.05)
                ax.set_xticks(ks)
            axes[0].set_ylabel("success rate")
            axes[0].legend(fontsize=7)
            fig.suptitle("Fig 7 analogue: success vs number of fine-tuning episodes")
            self._save(fig, "fig7_scaling.png")
            md.append("")

    def fig8(self) -> None:
        cfg, md, N = self.cfg, self.md, self.N
        near = {}
        data_rows = []
        for s in ("rl", "human", "human_relabeled"):
            dirs = [RunLayout(self.run).dataset(f"{s}_{N}", t) for t in cfg["tasks"]]
            eps = _episode_arrays(dirs)
            if not eps:
                continue
            near[s] = near_insertion_actions(eps)
            lens = [len(e["action"]) for e in eps]
            acts = np.concatenate([e["action"] for e in eps])
            data_rows.append(f"| {SOURCE_LABEL[s]} | {len(eps)} | {sum(lens)} | {np.mean(lens):.1f} | "
                             f"{np.mean(np.linalg.norm(acts[:, ACTION_POS], axis=1)):.2f} | "
                             f"{_mean_norm(near[s]):.2f} |")
        if near:
            fig, axes = self.plt.subplots(1, 3, figsize=(11, 3.2))
            for i, (ax, name) in enumerate(zip(axes, ("x", "y", "z"), strict=True)):
                for s, a in near.items():
                    if s == "human_relabeled" or not len(a):
                        continue
                    ax.hist(a[:, i], bins=np.linspace(-1, 1, 41), alpha=0.55, density=True, color=SOURCE_COLOR[s],
                            label=f"{SOURCE_LABEL[s]} ({len(a)} steps)")
                ax.set_xlabel(f"action {name} (normalised, TCP frame)")
            axes[0].set_ylabel("density")
            axes[0].legend(fontsize=7)
            fig.suptitle("Fig 8 analogue: actions within 1.5 cm of the insertion point")
            self._save(fig, "fig8_actions.png")
            md += ["## The data: actions near the insertion point (paper Fig 8)", "", "![fig8](fig8_actions.png)", "",
                   "| data | episodes | steps | mean episode length (steps) | mean translation action norm | "
                   "... within 1.5 cm of the insertion point |", "|---|---|---|---|---|---|", *data_rows, ""]

    def fig9(self) -> None:
        md, gen, N, models, sources = self.md, self.gen, self.N, self.models, self.sources
        if "human_relabeled" in sources:
            _seen_unseen(self.plt, self.out, "fig9_relabel.png",
                         "Fig 9 analogue: human data / human states with RL actions / RL data",
                         [MODEL_LABEL[m] for m in models],
                         lambda seen: {s: [_pooled(_select(gen, model=m, source=s, episodes_trained=N, seen=seen))
                                           for m in models] for s in ("human", "human_relabeled", "rl")})
            md += ["## Action quality vs state distribution (paper Fig 9)", "", "![fig9](fig9_relabel.png)", ""]

    def generalization(self) -> None:
        md, gen, N, models, spec, scripted = self.md, self.gen, self.N, self.models, self.spec, self.scripted
        if spec:
            staged = sorted({e["trained_on"] for e in spec if e.get("stage_of")})
            # a specialist of one stage (FMB assembly's insertion) is judged on that stage, not the whole task
            rows = {"RL specialist(s)" + (f" (on its RL stage: {', '.join(staged)})" if staged else ""): spec}
            # the paper's yardstick on unseen variants: the single specialist that does best on them
            unseen = {}
            for e in _select(spec, seen=False):
                unseen.setdefault(e.get("trained_on"), []).append(e)
            if len(unseen) > 1:
                best = max(unseen, key=lambda t: _agg(unseen[t])["rate"])
                rows[f"best single RL specialist ({best})"] = _select(spec, trained_on=best)
            rows["human-like demonstrator (scripted)"] = scripted
            for m in models:
                rows[f"{MODEL_LABEL[m]} on RL data (RLDG)"] = _select(gen, model=m, source="rl", episodes_trained=N)
                rows[f"{MODEL_LABEL[m]} on human data"] = _select(gen, model=m, source="human", episodes_trained=N)
            rows = {k: v for k, v in rows.items() if v}
            fig, ax = self.plt.subplots(figsize=(8, 3.6))
            names = list(rows)
            vals = {"seen": [], "unseen": []}
            md += ["## Generalization: specialist vs generalists", "", "![generalization](generalization.png)", "",
                   "| policy | seen | unseen |", "|---|---|---|"]
            for n in names:
                a, b = _agg(_select(rows[n], seen=True)), _agg(_select(rows[n], seen=False))
                vals["seen"].append(a if a["episodes"] else None)
                vals["unseen"].append(b if b["episodes"] else None)
                md.append(f"| {n} | {_cell(a)} | {_cell(b)} |")
            _bars(ax, [n.replace(" on ", "\non ").replace(" (", "\n(") for n in names], vals,
                  {"seen": "#4c72b0", "unseen": "#dd8452"}, "success rate")
            ax.set_ylim(0, 1.15)
            ax.legend(fontsize=8)
            ax.tick_params(axis="x", labelsize=6)
            ax.set_title("specialist vs generalists on seen and unseen tasks", fontsize=9)
            self._save(fig, "generalization.png")
            md.append("")

    def probe(self) -> None:
        md, probes = self.md, self.probes
        if probes:
            ks = sorted({e["episodes_trained"] for e in probes})
            srcs = [s for s in ("rl", "human", "human_relabeled") if _select(probes, source=s)]
            _seen_unseen(self.plt, self.out, "probe.png", "Data probe: a state -> action MLP cloned from each dataset",
                         [f"{k} episodes" for k in ks],
                         lambda seen: {s: [_pooled(_select(probes, source=s, episodes_trained=k, seen=seen))
                                           for k in ks]
                                       for s in srcs})
            md += ["## Data probe: the same data cloned by a plain state -> action MLP", "",
                   "Not a generalist (no image, no language, no pretraining): a 2x256 MLP trained for 3000 steps on "
                   "the "
                   "recorded (state, action) pairs of each dataset, evaluated on the same held-out seeds. It separates "
                   "the quality of the actions in the data from the generalists' capacity to clone them.", "",
                   "![probe](probe.png)", "", "| data | episodes per task | seen | unseen | seen cycle time (s) |",
                   "|---|---|---|---|---|"]
            for s in srcs:
                for k in ks:
                    a = _agg(_select(probes, source=s, episodes_trained=k, seen=True))
                    b = _agg(_select(probes, source=s, episodes_trained=k, seen=False))
                    if a["episodes"] or b["episodes"]:
                        md.append(f"| {SOURCE_LABEL[s]} | {k} | {_cell(a)} | {_cell(b)} | {_ct(a)} |")
            md.append("")

    def per_task(self) -> None:
        cfg, md, gen, N, models, sources = self.cfg, self.md, self.gen, self.N, self.models, self.sources
        spec, scripted, probes = self.spec, self.scripted, self.probes
        tasks = [*cfg["tasks"], *cfg["unseen_tasks"]]
        if len(tasks) > 2 or any(e.get("stage_of") for e in spec):  # the pooled tables hide which task failed
            md += ["## Per task", "",
                   "Successes per task (of " + str(cfg["eval_episodes"]) + "); unseen tasks marked *.",
                   "", "| policy | " + " | ".join(t.split("/")[-1] + ("" if t in cfg["tasks"] else "*") for t in tasks)
                   + " |", "|---|" + "---|" * len(tasks)]
            named = [("RL specialists (each on its own task; all on the unseen)", spec),
                     ("human-like demonstrator", scripted)]
            named += [(f"{MODEL_LABEL[m]}, {SOURCE_LABEL[s]}", _select(gen, model=m, source=s, episodes_trained=N))
                      for m in models for s in sources]
            named += [(f"data probe, {SOURCE_LABEL[s]}", _select(probes, source=s, episodes_trained=N))
                      for s in ("rl", "human", "human_relabeled")]
            for name, rows in named:
                if not rows:
                    continue
                per = []
                for t in tasks:
                    sel = [r for r in rows if r["task"] == t]
                    stage = [r for r in rows if r.get("stage_of") == t and r["task"] == r.get("trained_on")]
                    if not sel and stage:  # a specialist of one stage (FMB assembly's insertion), on that stage
                        sel = stage
                    k, n = sum(r["successes"] for r in sel), sum(r["episodes"] for r in sel)
                    cell = "-" if not n else f"{k}" if n == cfg["eval_episodes"] else f"{k}/{n}"
                    per.append(f"{cell} (on {sel[0]['task']})" if sel and sel is stage else cell)
                md.append(f"| {name} | " + " | ".join(per) + " |")
            md.append("")

    def pipeline(self) -> None:
        md, res = self.md, self.res
        st = res.get("stages", {})
        specialists = st.get("specialists", {}).get("specialists", {})
        loaded = sum(v.get("minutes", 0.0) for v in specialists.values() if not v.get("trained_here", True))
        md += ["## Pipeline and wall time", "", "| stage | wall time (min) | notes |", "|---|---|---|"]
        for name, s in st.items():
            note = ""
            if name == "specialists":
                note = "; ".join(_specialist_note(t, v) for t, v in specialists.items())
            elif name == "collect":
                note = "; ".join(f"{k}: {v['successes']}/{v['rollouts']} successful" for k, v in
                                 s.get("collected", {}).items())
            elif name == "convert":
                note = "; ".join(f"{t}: {v['episodes_per_source']} episodes per source" for t, v in
                                 s.get("datasets", {}).items())
            md.append(f"| {name} | {s.get('seconds', 0) / 60:.1f} | {note} |")
        total = sum(s.get("seconds", 0) for s in st.values()) / 60
        md.append(f"| **total** | **{total:.1f}** | |")
        if loaded:
            md.append(f"| total with the loaded specialists' own training | {total + loaded:.1f} | |")
        md.append("")
        md += ["## The paper's findings, for comparison (real robot, OpenVLA-7B / Octo-Base; docs/REFERENCES.md)", "",
               "| what | paper |", "|---|---|", *(f"| {a} | {b} |" for a, b in PAPER), ""]
        md += ["Honest limits: the generalists here are tiny models trained for minutes on a CPU; the 'human' data "
               "comes from the cell's scripted human-like demonstrator (noisy, hesitant, slower), standing in for "
               "SpaceMouse teleoperation; the sim replaces the robot. The pipeline (ROS graphs, rosbag2, RLDS, "
               "fine-tuning recipes, evaluation) is the one a real-robot run uses.", ""]
