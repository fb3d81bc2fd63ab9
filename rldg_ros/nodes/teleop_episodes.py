"""``teleop_episodes``: runs demonstration episodes for the teleop graph.

``rldg/episode_command`` (EpisodeCommand) START resets the cell through ``rldg/reset_episode`` and publishes an
EpisodeEvent START (episode id, task, instruction); the operator's MARK_SUCCESS / MARK_FAILURE / END, ground-truth
success in sim (``end_on_ground_truth``), or the time limit publish END with the outcome and the reason. Episode
length is counted in control steps (one ``rldg/robot_state`` per step), not wall time, so a loaded machine running
the loop slower than real time does not cut episodes short. With a
scripted input (expert / human_like) or ``auto_start`` the next episode starts by itself until ``episodes`` are done.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from rclpy.callback_groups import ReentrantCallbackGroup
from std_msgs.msg import Bool

from rldg_msgs.msg import EpisodeEvent, RobotState
from rldg_ros import topics
from rldg_ros.config import param
from rldg_ros.episodes import MARK_SUCCESS, EpisodePlan, EpisodeRunner, task_defaults
from rldg_ros.nodes.episode_node import EpisodeNode
from rldg_ros.qos import RELIABLE_10
from rldg_ros.spec import CONTROL_HZ


@dataclass
class TeleopEpisodesConfig:
    task: str = param("connector_insertion/usb", help="task id (sim task or a name for a real cell)")
    input: str = param("spacemouse", choices=("spacemouse", "keyboard", "expert", "human_like", "none"),
                       help="who drives; scripted inputs start episodes automatically")
    episodes: int = param(0, min=0, help="stop starting episodes after this many (0: no limit)")
    successes: int = param(0, min=0, help="also stop once this many episodes succeeded (0: no limit): N successful "
                           "demonstrations, with `episodes` as the cap on attempts")
    time_limit_s: float = param(0.0, min=0.0, help="episode time limit (0: the sim task's own limit, else 60 s)")
    control_hz: float = param(CONTROL_HZ, min=1.0, max=100.0, help="robot_bridge's rate: converts the limit to steps")
    instruction: str = param("", help="language instruction (empty: the task's default)")
    end_on_ground_truth: bool = param(True, help="sim: end an episode when rldg/sim/success turns true")
    auto_start: bool = param(False, help="start the next episode without an operator command")
    first_seed: int = param(0, min=-1, help="seed of the first episode (then +1 each; -1: random)")
    report_path: str = param("", help="write the episodes (seed, success, steps, reason) as JSON here at the end")


class TeleopEpisodes(EpisodeNode):
    CONFIG = TeleopEpisodesConfig
    DEFAULT_NAME = "teleop_episodes"

    def __init__(self, node_name: str | None = None, **kwargs) -> None:
        super().__init__(node_name, **kwargs)
        c = self.cfg
        self.lock = threading.Lock()
        group = ReentrantCallbackGroup()
        limit = (int(round(c.time_limit_s * c.control_hz)) if c.time_limit_s
                 else task_defaults(c.task).limit_steps or int(round(60.0 * c.control_hz)))
        self.setup_episodes(EpisodeRunner(EpisodePlan(episodes=c.episodes, successes=c.successes,
                                                      first_seed=c.first_seed), limit),
                            self.task_instruction(c.instruction), group)
        self.auto = c.auto_start or c.input in ("expert", "human_like")
        self.gt_success = False
        self.armed = False
        self.create_subscription(Bool, topics.SIM_SUCCESS.name, self._on_success, RELIABLE_10)
        self.create_subscription(RobotState, topics.ROBOT_STATE.name, self._on_state, RELIABLE_10)
        self.create_timer(0.1, self._tick, callback_group=group)

    def _on_success(self, msg: Bool) -> None:
        # a success counts only after this episode has reported "not solved" once: a True from before the reset
        # can arrive after the START on a loaded machine and would end the new episode at step 0
        with self.lock:
            if not msg.data:
                self.armed = True
            self.gt_success = bool(msg.data) and self.armed
            # the cell publishes its success flag right after the state of the same step: end at that very step
            if self.episodes.running and self.cfg.end_on_ground_truth and self.gt_success:
                self._end(True, "success")

    def _on_state(self, msg: RobotState) -> None:  # noqa: ARG002 - one state per control step
        with self.lock:
            if self.episodes.running:
                self.episodes.step()
                if self.episodes.timed_out():
                    self._end(False, "timeout")

    def on_started(self, episode) -> None:
        self.gt_success, self.armed = False, False
        self.get_logger().info(f"episode {episode.episode_id} started (seed {episode.seed}): {self.instruction}")

    def operator_end(self, reason: str) -> str:
        self._end(reason == MARK_SUCCESS, reason)
        return "episode ended"

    def _end(self, success: bool, reason: str) -> None:
        e = self.episodes.current
        if e is None:
            return
        self.publish_event(EpisodeEvent.EVENT_END, e, success, reason)
        self.episodes.end(success, reason, cycle_time_s=e.steps / self.cfg.control_hz)
        self.get_logger().info(f"episode {e.episode_id} ended: {reason} "
                               f"({self.episodes.successes}/{self.episodes.episodes_done} successes)")

    def _tick(self) -> None:
        with self.lock:
            if self.episodes.running:
                if self.cfg.end_on_ground_truth and self.gt_success:
                    self._end(True, "success")
                elif self.episodes.timed_out():
                    self._end(False, "timeout")
            elif self.episodes.all_done():
                # let the last END event reach its subscribers (a recorder), then end the graph
                self.done_at = getattr(self, "done_at", None) or time.monotonic()
                if time.monotonic() - self.done_at > 1.0 and not self.finished:
                    self.finish(f"teleop_episodes: {self.episodes.episodes_done} episodes done, "
                                f"{self.episodes.successes} successful")
            elif self.auto:
                self.request_reset()

    def shutdown(self) -> None:
        self.write_report(self.cfg.report_path, input=self.cfg.input)
