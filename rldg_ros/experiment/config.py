"""The RLDG experiment's settings: one typed dataclass, two profiles in ``config/experiments/<profile>.yaml``.

A profile is a ROS 2 params file (node ``rldg_experiment``) like every other rldg config, so a user copies one and
edits it. ``rldg experiment rldg --profile quick|full`` or ``--config FILE``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rldg_ros.config import ConfigError, config_from_dict, param, unflatten
from rldg_ros.spec import COLLECT_FIRST_SEED

CONFIG_DIR = Path(__file__).resolve().parents[2] / "config"
NODE = "rldg_experiment"
SOURCES = ("rl", "human", "human_relabeled")  # RL rollouts, human(-like) demos, those demos' states + RL actions


@dataclass
class ExperimentConfig:
    # tasks
    tasks: list[str] = param(["connector_insertion/usb"], help="seen tasks: an RL specialist each, and the "
                             "fine-tuning data")
    unseen_tasks: list[str] = param(["connector_insertion/type_c"], help="evaluated only: never in any training set")
    # RL specialists (rldg up train_rl)
    specialist_dir: str = param("", help="load specialists from DIR/<task with / as __> (learner run_dirs) instead "
                                "of training; tasks without one there are trained")
    rl_obs: str = param("state", choices=("state", "pixels", "privileged"), help="train_rl obs:=")
    rl_backbone: str = param("", help="rl_obs pixels: the specialists' frozen vision, a generalist base (octo:PATH, "
                             "e.g. octo:models/bases/octo-style-tiny-simbase); empty: the RL agent's conv encoder")
    rl_encoder: str = param("", help="rl_obs pixels: a pretrained visual encoder checkpoint ('rldg rl encoder'), "
                            "frozen (train_rl encoder:=); exclusive with rl_backbone")
    rl_embed_cache: int = param(0, min=0, max=16, help="rl_obs pixels, frozen encoder or backbone: augmented "
                                "embeddings kept per frame in the replay (train_rl embed_cache:=)")
    rl_max_minutes: float = param(15.0, min=1.0, help="train_rl wall-time budget per task")
    rl_stop_after_eval_successes: int = param(10, min=0, help="stop training once this many evaluation episodes in "
                                              "a row succeeded (0: use the whole budget)")
    # data collection (collect graph -> rosbag2 -> rldg convert -> RLDS)
    episodes: int = param(20, min=1, help="successful episodes per task for each data source (equal counts)")
    collect_margin: float = param(1.5, min=1.0, help="RL: record until `episodes` succeeded, at most this many "
                                  "times `episodes` rollouts (failures are dropped)")
    collect_max_attempts: float = param(3.0, min=1.0, help="human-like demonstrator: record until `episodes` "
                                        "succeeded, at most this many times `episodes` attempts")
    collect_first_seed: int = param(COLLECT_FIRST_SEED, min=0, help="seeds of the collected episodes (evaluation: "
                                    "100000 and up)")
    collect_human_during_rl: bool = param(True, help="record the human-like demonstrations while the specialists "
                                          "train (a second ROS domain) instead of after them")
    rl_rollout: str = param("sample", choices=("sample", "mean"), help="collect the specialist's rollouts sampling "
                            "its actions (HIL-SERL's rollouts) or with its mean action")
    rl_rollout_noise: float = param(0.0, min=0.0, max=1.0, help="Gaussian noise (std, action units) added to the "
                                    "specialist's executed actions while its rollouts are recorded (labels stay its "
                                    "mean action with rl_labels: mean)")
    rl_rollout_noise_steps: float = param(1.0, min=1.0, max=100.0, help="correlation time of rl_rollout_noise in "
                                          "control steps (1: white noise)")
    rl_labels: str = param("mean", choices=("mean", "executed"), help="the RL data's action labels: the "
                           "specialist's mean action at each recorded state (convert --relabel) or the executed one")
    relabel: bool = param(True, help="also build human states + RL actions (the paper's Fig 9)")
    # generalists
    models: list[str] = param(["octo", "openvla"], help="generalist families (octo-style-tiny, openvla-style-tiny)")
    pretrain_tasks: list[str] = param(["pick_place/train", "fmb_insertion"], help="pretraining tasks for the tiny "
                                      "bases (scripted demos; kept apart from the fine-tuning and unseen tasks)")
    pretrain_episodes_per_task: int = param(10, min=1)
    pretrain_steps_octo: int = param(600, min=0, help="0: no pretraining, fine-tune from a fresh model")
    pretrain_steps_openvla: int = param(600, min=0, help="0: no pretraining; LoRA needs a base, so openvla then "
                                        "trains the whole fresh model on the data")
    # '' by default: fine-tuned from the shipped bases, the generalists did worse than from scratch on the seen
    # connector (docs/generalists.md, part 2), so the profiles keep training from scratch until a base beats it
    base_octo: str = param("", help="the octo base: 'shipped' (models/bases, pretrained on the sim corpus), a "
                           "checkpoint folder, or '' (pretrain one here for pretrain_steps_octo, 0: from scratch)")
    base_openvla: str = param("", help="the openvla base: 'shipped', a checkpoint folder, or '' (pretrain one here "
                              "for pretrain_steps_openvla, 0: the whole fresh model trains on the data)")
    finetune_steps_octo: int = param(600, min=1)
    finetune_steps_openvla: int = param(800, min=1)
    lr_octo: float = param(1e-3, min=0.0, help="octo fine-tuning learning rate (warm-up + cosine)")
    contact_oversample_octo: float = param(1.0, min=1.0, max=20.0, help="octo fine-tuning: frames in contact "
                                           "(|force| > 1 N) drawn this many times as often, for every data source "
                                           "(1: uniform; docs/generalists.md part 8)")
    lr_openvla: float = param(0.0, min=0.0, help="0: LoRA 5e-4 on a base, 1e-3 for a fresh model")
    batch_octo: int = param(32, min=1)
    batch_openvla: int = param(8, min=1)
    # Fig 7: success vs number of fine-tuning episodes
    scaling: bool = param(True, help="train the scaling_models on the scaling_episodes subsets (Fig 7)")
    scaling_episodes: list[int] = param([5, 10], help="smaller subsets (the full set is `episodes`)")
    scaling_models: list[str] = param(["openvla"], help="models trained on the subsets")
    # evaluation
    eval_episodes: int = param(20, min=1, help="per task and policy, seeds 100000 and up")
    eval_mode: str = param("in_process", choices=("in_process", "graph"), help="rldg eval mode (they agree on "
                           "scripted policies: test_eval.py)")
    train_workers: int = param(1, min=1, help="fine-tuning runs side by side on this many processes, one compute "
                               "thread each (1: one after the other, all cores each, with a progress bar per step)")
    eval_demonstrator: bool = param(True, help="also evaluate the scripted human-like demonstrator (the human data's "
                                    "own success rate) on every task")
    probe: bool = param(True, help="run the data probe: a plain state -> action MLP cloned from each dataset and "
                        "evaluated the same way, the yardstick the generalists are held to")
    eval_workers: int = param(2, min=1, help="in-process evaluation (and data probe) jobs run on this many "
                              "processes, one thread each (the simulator and renderer are single-threaded)")
    seed: int = param(0, min=0)
    train_seeds: int = param(1, min=1, max=5, help="fine-tuning runs per model and dataset, with training seeds seed, "
                             "seed+1, ... (run k > 0 is named <model>_<data>_t<k>): the report pools their "
                             "evaluations and lists each seed's success, the spread one training run does not show")

    def scaling_runs(self) -> tuple[list[int], list[str]]:
        """(episode counts, models) of the Fig 7 subsets; none when ``scaling`` is off."""
        return (list(self.scaling_episodes), list(self.scaling_models)) if self.scaling else ([], [])

    def validate(self) -> None:
        from rldg_ros.sim.tasks import task_ids

        known = set(task_ids(None, pretrain=True))
        for t in [*self.tasks, *self.unseen_tasks, *self.pretrain_tasks]:
            if t not in known:
                raise ConfigError(f"experiment: unknown task {t!r}; tasks: {sorted(known)}")
        clash = set(self.unseen_tasks) & (set(self.tasks) | set(self.pretrain_tasks))
        if clash:
            raise ConfigError(f"experiment: unseen task(s) {sorted(clash)} are also trained on")
        for m in [*self.models, *self.scaling_models]:
            if m not in ("octo", "openvla"):
                raise ConfigError(f"experiment: model {m!r}: use octo or openvla")
        if (self.rl_backbone or self.rl_encoder or self.rl_embed_cache) and self.rl_obs != "pixels":
            raise ConfigError(f"experiment: rl_backbone / rl_encoder / rl_embed_cache are for rl_obs pixels (rl_obs "
                              f"is {self.rl_obs!r})")
        if self.rl_backbone and self.rl_encoder:
            raise ConfigError("experiment: rl_backbone and rl_encoder are two kinds of frozen vision: set one")
        if self.rl_backbone:
            from rldg_ros.rl.backbone import backbone_path

            try:
                backbone_path(self.rl_backbone)
            except (ValueError, FileNotFoundError) as exc:
                raise ConfigError(f"experiment: rl_{exc}") from None
        if self.rl_encoder and not Path(self.rl_encoder).is_dir():
            raise ConfigError(f"experiment: rl_encoder {self.rl_encoder} is not a directory (run from the repository "
                              "root for the shipped models/encoders/..., or give a visual encoder checkpoint)")
        if self.scaling and any(k <= 0 or k >= self.episodes for k in self.scaling_episodes):
            raise ConfigError(f"experiment: scaling_episodes {self.scaling_episodes} must lie in (0, episodes="
                              f"{self.episodes})")


def profiles() -> list[str]:
    """The RLDG experiment's profiles: config/experiments/*.yaml but iRe-VLA's own (``ire``)."""
    return sorted(p.stem for p in (CONFIG_DIR / "experiments").glob("*.yaml") if p.stem != "ire")


def profile_path(profile: str) -> Path:
    return CONFIG_DIR / "experiments" / f"{profile}.yaml"


def load_experiment_config(profile: str | None = "quick", path: str | Path | None = None,
                           overrides: dict | None = None) -> ExperimentConfig:
    src = Path(path) if path else profile_path(profile or "quick")
    if not src.exists():
        raise FileNotFoundError(f"experiment config {src} does not exist (profiles: {', '.join(profiles())})")
    params = {**_profile_params(src), **(overrides or {})}
    cfg = config_from_dict(ExperimentConfig, unflatten(params), source=f"{src}:{NODE}")
    cfg.validate()
    return cfg


def _profile_params(src: Path, seen: tuple[Path, ...] = ()) -> dict:
    """A profile's settings (flattened); ``extends: <profile>`` starts from that profile's, this file's win."""
    from rldg_ros.config import flatten, params_for_node

    if src.resolve() in seen:
        raise ConfigError(f"experiment config {src}: 'extends' loops back to itself")
    params = flatten(params_for_node(src, NODE))
    base = params.pop("extends", None)
    if base is None:
        return params
    parent = profile_path(str(base))
    if not parent.exists():
        raise ConfigError(f"experiment config {src}: extends {base!r}, which is not a profile ({parent} is missing)")
    return {**_profile_params(parent, (*seen, src.resolve())), **params}


