"""A data probe: plain behaviour cloning of state -> action with a small MLP on each fine-tuning dataset.

Not a generalist (no image, no language): it isolates what the paper's Fig 9 is about, the quality of the actions
in the data, from the capacity of the model that clones them. Same datasets, same held-out seeds as the
generalists; trains in seconds on a CPU (torch).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass
class ProbeConfig:
    steps: int = 3000
    batch_size: int = 64
    hidden: int = 256
    lr: float = 1e-3
    seed: int = 0


def load_state_actions(dirs: list[Path]) -> tuple[np.ndarray, np.ndarray]:
    from rldg_ros.data.rlds import RldsReader

    states, actions = [], []
    for d in dirs:
        r = RldsReader(d)
        for split in r.splits:
            for ep in r.episodes(split, decode_images=False):
                states.append(ep["steps"]["observation"]["state"])
                actions.append(ep["steps"]["action"])
    if not states:
        raise ValueError(f"no episodes in {[str(d) for d in dirs]}")
    return np.concatenate(states).astype(np.float32), np.concatenate(actions).astype(np.float32)


class MlpProbe:
    def __init__(self, states: np.ndarray, actions: np.ndarray, cfg: ProbeConfig | None = None) -> None:
        import torch

        self.cfg = cfg = cfg or ProbeConfig()
        torch.manual_seed(cfg.seed)
        self.mu, self.sd = states.mean(0), states.std(0) + 1e-3
        self.moving = np.flatnonzero(actions.std(0) > 1e-6)  # the dimensions the data moves (others: their mean)
        self.const = actions.mean(0)
        d_in, d_out = states.shape[1], len(self.moving)
        self.net = torch.nn.Sequential(torch.nn.Linear(d_in, cfg.hidden), torch.nn.ReLU(),
                                       torch.nn.Linear(cfg.hidden, cfg.hidden), torch.nn.ReLU(),
                                       torch.nn.Linear(cfg.hidden, d_out))
        x = torch.tensor((states - self.mu) / self.sd)
        y = torch.tensor(actions[:, self.moving])
        opt = torch.optim.Adam(self.net.parameters(), cfg.lr)
        g = torch.Generator().manual_seed(cfg.seed)
        for _ in range(cfg.steps):
            idx = torch.randint(0, len(x), (cfg.batch_size,), generator=g)
            loss = ((self.net(x[idx]) - y[idx]) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        self.final_loss = float(loss.detach())

    def act(self, state: np.ndarray) -> np.ndarray:
        import torch

        with torch.no_grad():
            out = self.net(torch.tensor(((state - self.mu) / self.sd)[None], dtype=torch.float32))[0].numpy()
        a = self.const.copy()
        a[self.moving] = out
        return np.clip(a, -1.0, 1.0)


def evaluate_probe(probe: MlpProbe, task: str, episodes: int, first_seed: int | None = None) -> dict:
    from rldg_ros.sim.env import CellConfig, make_env
    from rldg_ros.sim.rollout import EpisodeResult, summarize
    from rldg_ros.spec import EVAL_FIRST_SEED

    first_seed = EVAL_FIRST_SEED if first_seed is None else first_seed
    env = make_env(task, CellConfig(wrist_camera=False))
    results = []
    try:
        for i in range(episodes):
            obs, info = env.reset(seed=first_seed + i)
            for _ in range(env.task.time_limit):
                obs, _, term, trunc, info = env.step(probe.act(obs["state"]))
                if term or trunc:
                    break
            results.append(EpisodeResult(first_seed + i, bool(info["success"]), env.steps,
                                         env.steps / env.cfg.control_hz, 0.0))
    finally:
        env.close()
    return summarize(task, "mlp-probe", results)
