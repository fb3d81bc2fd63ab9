"""``rl_actor``'s parameters (the node is ``rldg_ros/nodes/rl_actor.py``): ROS-free, so tools and tests read them
without rclpy."""

from __future__ import annotations

from dataclasses import dataclass

from rldg_ros.config import param
from rldg_ros.episodes import DEFAULT_LIMIT_STEPS, EpisodePlan, task_defaults
from rldg_ros.spec import EVAL_FIRST_SEED


@dataclass
class RlActorConfig:
    task: str = param("connector_insertion/usb", help="task id")
    actor_id: str = param("", help="name in transitions (empty: node name + a random session suffix)")
    time_limit: int = param(0, min=0, help="episode limit in control steps (0: the sim task's own, else 100)")
    instruction: str = param("", help="language instruction its episodes carry (empty: the sim task's own): the "
                             "recorded rollouts become a generalist's language-conditioned data")
    end_on_success: bool = param(True, help="end an episode when rldg/reward reports success")
    eval_every: int = param(10, min=0, help="run evaluation episodes after every N training episodes (0: never)")
    eval_episodes: int = param(5, min=1, help="evaluation episodes per evaluation round")
    eval_gate: float = param(0.0, min=0.0, max=1.0, help="start an evaluation round only once at least this "
                             "fraction of the training episodes since the last round succeeded with no "
                             "intervention (0: every round); a gated round is retried after the next training "
                             "episode, so no wall time goes to evaluating a policy that cannot act alone yet")
    eval_only: bool = param(False, help="only evaluation episodes (deterministic), no transitions sent")
    sample_actions: bool = param(False, help="eval_only: sample each action from the policy (as HIL-SERL's rollouts "
                                 "do) instead of taking its mean: data collection that covers the states around the "
                                 "specialist's path")
    rollout_noise: float = param(0.0, min=0.0, max=1.0, help="eval_only: Gaussian noise (std, in the policy's [-1, "
                                 "1] action units) added to each executed action, so the recorded states also "
                                 "cover recoveries from off the specialist's path; convert --relabel labels them "
                                 "with its mean action (noise injection as in DART, Laskey et al. 2017)")
    rollout_noise_steps: float = param(1.0, min=1.0, max=100.0, help="correlation time of rollout_noise in control "
                                       "steps (Ornstein-Uhlenbeck; 1: white): longer pushes the arm off its path "
                                       "for a while instead of jittering around it")
    episodes: int = param(0, min=0, help="stop after this many episodes (0: no limit)")
    successes: int = param(0, min=0, help="eval_only: also stop once this many episodes succeeded (0: no limit): "
                           "record N successful rollouts, with `episodes` as the cap")
    first_seed: int = param(0, min=-1, help="seed of the first training episode (+1 each; -1: random)")
    eval_first_seed: int = param(EVAL_FIRST_SEED, min=0, help="seed of the first evaluation episode (+1 each): "
                                 "held-out seeds for evaluation, other seeds to collect data")
    stop_after_eval_successes: int = param(0, min=0, help="training: stop once the last N evaluation episodes all "
                                           "succeeded (0: never; the graph's duration still applies)")
    seed: int = param(0, min=0, help="exploration noise seed")
    checkpoint: str = param("", help="start from a learner checkpoint directory (run_dir or run_dir/checkpoints/X)")
    max_pending: int = param(20000, min=10, help="unacknowledged transitions kept; when full no new episode starts")
    resend_after_s: float = param(2.0, min=0.1, help="resend unacknowledged transitions after this long")
    sync_timeout: float = param(1.0, min=0.05, help="drop a step whose reward/image did not arrive within this")
    run_dir: str = param("", help="episode metrics go to run_dir/actor (metrics.jsonl, TensorBoard; empty: none)")
    report_path: str = param("", help="write a JSON summary of all episodes here at shutdown")
    grasp_epsilon: float = param(-1.0, max=1.0, help="random gripper decisions (-1: the learner's setting)")

    def plan(self) -> EpisodePlan:
        return EpisodePlan(episodes=self.episodes, successes=self.successes, first_seed=self.first_seed,
                           eval_only=self.eval_only, eval_every=self.eval_every, eval_episodes=self.eval_episodes,
                           eval_gate=self.eval_gate,
                           eval_first_seed=self.eval_first_seed,
                           stop_after_eval_successes=self.stop_after_eval_successes)

    def limit_steps(self) -> int:
        """The episode limit: ``time_limit``, else the sim task's own, else 10 s."""
        return self.time_limit or task_defaults(self.task).limit_steps or DEFAULT_LIMIT_STEPS
