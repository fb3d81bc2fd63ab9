"""The panel's link to the stack: topics in, service calls out (an rclpy node that rqt or ``rldg panel`` spins)."""

from __future__ import annotations

import threading
import time

from rclpy.node import Node
from sensor_msgs.msg import Image

from rldg_msgs.msg import Action, EpisodeEvent, Reward
from rldg_msgs.srv import EpisodeCommand, ResetEpisode, SaveCheckpoint, SetControlMode
from rldg_ros import topics
from rldg_ros.nodes.convert import image_to_array
from rldg_ros.panel.state import PanelState
from rldg_ros.qos import RELIABLE_10, SENSOR


class RosPanelBackend:
    def __init__(self, node: Node, image_topic: str = topics.POLICY_IMAGE.name) -> None:
        self.node = node
        self.lock = threading.Lock()
        self.state = PanelState()
        self.started_at: float | None = None
        node.create_subscription(Image, image_topic, self._on_image, SENSOR)
        node.create_subscription(Reward, topics.REWARD.name, self._on_reward, RELIABLE_10)
        node.create_subscription(EpisodeEvent, topics.EPISODE.name, self._on_episode, RELIABLE_10)
        node.create_subscription(Action, topics.COMMAND.name, self._on_command, RELIABLE_10)
        self.episode_client = node.create_client(EpisodeCommand, topics.EPISODE_COMMAND.name)
        self.reset_client = node.create_client(ResetEpisode, topics.RESET_EPISODE.name)
        self.mode_client = node.create_client(SetControlMode, topics.SET_CONTROL_MODE.name)
        self.checkpoint_client = node.create_client(SaveCheckpoint, topics.SAVE_CHECKPOINT.name)

    # -- topics ----------------------------------------------------------------------------------------------------
    def _on_image(self, msg: Image) -> None:
        try:
            img = image_to_array(msg)
        except ValueError:
            return  # the camera node already logs malformed frames
        with self.lock:
            self.state.image = img

    def _on_reward(self, msg: Reward) -> None:
        with self.lock:
            self.state.reward_probability, self.state.reward_success = float(msg.probability), bool(msg.success)

    def _on_episode(self, msg: EpisodeEvent) -> None:
        with self.lock:
            s = self.state
            s.episode_id = int(msg.episode_id)
            if msg.event == EpisodeEvent.EVENT_START:
                s.episode_running, self.started_at = True, time.monotonic()
            elif msg.event == EpisodeEvent.EVENT_END:
                s.episode_running = False
                s.episodes_done += 1
                s.successes += int(msg.success)
                s.outcomes.append(bool(msg.success))
                s.message = f"episode {msg.episode_id}: {msg.reason}"

    def _on_command(self, msg: Action) -> None:
        with self.lock:
            self.state.source, self.state.source_name = int(msg.source), msg.source_name
            self.state.intervention = bool(msg.intervention)

    def snapshot(self) -> PanelState:
        with self.lock:
            s = self.state
            if s.episode_running and self.started_at is not None:
                s.episode_elapsed_s = time.monotonic() - self.started_at
            copy = PanelState(**{**s.__dict__, "outcomes": list(s.outcomes)})
        return copy

    # -- services --------------------------------------------------------------------------------------------------
    def _call(self, client, request, what: str) -> None:
        if not client.service_is_ready():
            with self.lock:
                self.state.message = f"{what}: service {client.srv_name} is not available"
            return

        def done(future) -> None:
            r = future.result()
            with self.lock:
                self.state.message = f"{what}: {r.message}" if r is not None else f"{what}: no answer"

        client.call_async(request).add_done_callback(done)

    def episode_command(self, command: int) -> None:
        names = {0: "start episode", 1: "stop episode", 2: "mark success", 3: "mark failure"}
        self._call(self.episode_client, EpisodeCommand.Request(command=command), names.get(command, "episode"))

    def reset(self) -> None:
        self._call(self.reset_client, ResetEpisode.Request(seed=-1), "reset")

    def set_mode(self, mode: int) -> None:
        self._call(self.mode_client, SetControlMode.Request(mode=mode), "control mode")

    def save_checkpoint(self) -> None:
        self._call(self.checkpoint_client, SaveCheckpoint.Request(), "save checkpoint")
