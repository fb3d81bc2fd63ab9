"""What every node that runs episodes on the cell shares (``rl_actor``, ``teleop_episodes``): the episode
lifecycle in :class:`rldg_ros.episodes.EpisodeRunner`, cell resets through ``rldg/reset_episode``, and the
START / END announcements on ``rldg/episode``. The nodes add what their episodes do in between."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from rldg_msgs.msg import EpisodeEvent
from rldg_msgs.srv import EpisodeCommand, ResetEpisode
from rldg_ros import topics
from rldg_ros.episodes import Episode, EpisodeRunner, task_defaults
from rldg_ros.nodes.base import RldgNode
from rldg_ros.nodes.convert import OPERATOR_REASONS
from rldg_ros.qos import RELIABLE_10


class EpisodeNode(RldgNode):
    """Call :meth:`setup_episodes` in ``__init__``; :meth:`request_reset` asks the cell for the next episode and
    :meth:`on_started` runs (under ``self.lock``) once it answered; :meth:`publish_event` announces START / END.
    The operator's ``rldg/episode_command`` service calls :meth:`start_next` and :meth:`operator_end`."""

    lock: threading.Lock | threading.RLock

    def setup_episodes(self, runner: EpisodeRunner, instruction: str, callback_group) -> None:
        self.episodes = runner
        self.instruction = instruction
        self.pub_episode = self.create_publisher(EpisodeEvent, topics.EPISODE.name, RELIABLE_10)
        self.reset_client = self.create_client(ResetEpisode, topics.RESET_EPISODE.name, callback_group=callback_group)
        self.create_service(EpisodeCommand, topics.EPISODE_COMMAND.name, self._on_episode_command,
                            callback_group=callback_group)

    def task_instruction(self, given: str) -> str:
        """``given``, or the sim task's own instruction; a task the sim does not know carries none."""
        if given:
            return given
        known = task_defaults(self.cfg.task).instruction
        if known is None:
            self.get_logger().warning(f"no instruction for task {self.cfg.task!r}: its episodes carry none "
                                      "(set instruction:=...)")
        return known or ""

    def request_reset(self) -> bool:
        """Reset the cell for the episode the runner chooses next; False if none is due or the cell is not there."""
        if not self.reset_client.service_is_ready():
            return False
        nxt = self.episodes.next_start()
        if nxt is None:
            return False
        future = self.reset_client.call_async(ResetEpisode.Request(task_id=self.cfg.task, seed=nxt[1]))
        future.add_done_callback(self._reset_done)
        return True

    def _reset_done(self, future) -> None:
        with self.lock:
            try:
                r = future.result()
            except Exception:  # noqa: BLE001 - a failed call is a failed reset: ask again later
                r = None
            if r is None or not r.success:
                self.episodes.start_failed()
                self.get_logger().error(f"reset failed: {getattr(r, 'message', 'no response')}")
                return
            e = self.episodes.started(int(r.episode_id), int(r.seed))
            self.on_started(e)
            self.publish_event(EpisodeEvent.EVENT_START, e)

    def on_started(self, episode: Episode) -> None:
        """The cell was reset for ``episode`` (called with ``self.lock`` held, before its START goes out)."""

    def publish_event(self, kind: int, episode: Episode, success: bool = False, reason: str = "") -> None:
        ev = EpisodeEvent()
        ev.header.stamp = self.get_clock().now().to_msg()
        ev.event, ev.episode_id, ev.task_id, ev.is_eval = kind, episode.episode_id, self.cfg.task, episode.is_eval
        ev.success, ev.reason, ev.language_instruction = success, reason, self.instruction
        ev.num_steps = episode.steps if kind == EpisodeEvent.EVENT_END else 0
        self.pub_episode.publish(ev)

    def start_next(self) -> None:
        """The operator asked for the next episode (none is running, the run is not done)."""
        self.request_reset()

    def operator_end(self, reason: str) -> str:
        """The operator ends the running episode with ``reason`` (rldg_ros.episodes: END / MARK_*); -> what
        happens, for the service's answer."""
        raise NotImplementedError

    def _on_episode_command(self, request: EpisodeCommand.Request, response: EpisodeCommand.Response):
        with self.lock:
            cmd, runner = request.command, self.episodes
            if cmd == EpisodeCommand.Request.START:
                if runner.running:
                    response.success, response.message = False, f"episode {runner.current.episode_id} is running"
                elif runner.all_done():
                    response.success, response.message = False, (
                        f"done: {runner.episodes_done} episodes, {runner.successes} successful")
                else:
                    self.start_next()
                    response.success, response.message = True, "starting the next episode"
            elif cmd in OPERATOR_REASONS:
                response.success = runner.running
                response.message = (self.operator_end(OPERATOR_REASONS[cmd]) if runner.running
                                    else "no episode is running")
            else:
                response.success, response.message = False, f"unknown episode command {cmd}"
            response.episode_id = self.last_episode_id()
        return response

    def write_report(self, path: str, **extra) -> None:
        """The run's episodes as JSON (task, ``extra``, counts by kind, one row per episode)."""
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).write_text(json.dumps({"task": self.cfg.task, **extra, **self.episodes.summary()}, indent=1))

    def last_episode_id(self) -> int:
        e = self.episodes.current
        if e is not None:
            return e.episode_id
        return self.episodes.history[-1]["episode"] if self.episodes.history else 0
