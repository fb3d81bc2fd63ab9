"""The intervention panel offscreen: every button makes the right service call; topics show up in the widget."""

import os
import threading
import time

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from qtpy.QtWidgets import QApplication  # noqa: E402
from rclpy.executors import MultiThreadedExecutor  # noqa: E402
from rclpy.node import Node  # noqa: E402

from rldg_msgs.msg import Action, EpisodeEvent, Reward  # noqa: E402
from rldg_msgs.srv import EpisodeCommand, ResetEpisode, SaveCheckpoint, SetControlMode  # noqa: E402
from rldg_ros import topics  # noqa: E402
from rldg_ros.nodes.convert import image_msg  # noqa: E402
from rldg_ros.panel.ros_backend import RosPanelBackend  # noqa: E402
from rldg_ros.panel.state import rolling_success_rate  # noqa: E402
from rldg_ros.panel.widget import InterventionPanel  # noqa: E402
from rldg_ros.qos import RELIABLE_10, SENSOR  # noqa: E402


@pytest.fixture(scope="module")
def app():
    return QApplication.instance() or QApplication([])


def test_rolling_success_rate():
    assert rolling_success_rate([True, False, True], window=2) == [1.0, 0.5, 0.5]


def test_buttons_call_the_services_and_topics_update_the_panel(app, ros_context):
    calls = []
    stack = Node("fake_stack", context=ros_context)  # plays the services the real nodes offer

    def answer(kind):
        def cb(request, response):
            calls.append((kind, getattr(request, "command", getattr(request, "mode", None))))
            response.success, response.message = True, f"{kind} ok"
            return response
        return cb

    stack.create_service(EpisodeCommand, topics.EPISODE_COMMAND.name, answer("episode"))
    stack.create_service(ResetEpisode, topics.RESET_EPISODE.name, answer("reset"))
    stack.create_service(SetControlMode, topics.SET_CONTROL_MODE.name, answer("mode"))
    stack.create_service(SaveCheckpoint, topics.SAVE_CHECKPOINT.name, answer("checkpoint"))
    pub_img = stack.create_publisher(type(image_msg(np.zeros((2, 2, 3), np.uint8), None, "")),
                                     topics.POLICY_IMAGE.name, SENSOR)
    pub_reward = stack.create_publisher(Reward, topics.REWARD.name, RELIABLE_10)
    pub_episode = stack.create_publisher(EpisodeEvent, topics.EPISODE.name, RELIABLE_10)
    pub_cmd = stack.create_publisher(Action, topics.COMMAND.name, RELIABLE_10)

    panel_node = Node("panel_under_test", context=ros_context)
    backend = RosPanelBackend(panel_node)
    ex = MultiThreadedExecutor(context=ros_context)
    ex.add_node(stack)
    ex.add_node(panel_node)
    spinner = threading.Thread(target=ex.spin, daemon=True)
    spinner.start()
    panel = InterventionPanel(backend, refresh_ms=50)
    try:
        end = time.monotonic() + 10
        while not all(c.service_is_ready() for c in (backend.episode_client, backend.reset_client,
                                                      backend.mode_client, backend.checkpoint_client)):
            assert time.monotonic() < end, "services not discovered"
            time.sleep(0.05)
        for name in panel.buttons:
            panel.buttons[name].click()
        end = time.monotonic() + 10
        while len(calls) < 9 and time.monotonic() < end:
            app.processEvents()
            time.sleep(0.02)
        # one call per button (calls to different services complete in any order)
        assert sorted(calls, key=repr) == sorted([
            ("episode", EpisodeCommand.Request.START), ("episode", EpisodeCommand.Request.END), ("reset", None),
            ("episode", EpisodeCommand.Request.MARK_SUCCESS), ("episode", EpisodeCommand.Request.MARK_FAILURE),
            ("mode", SetControlMode.Request.MODE_PAUSE), ("mode", SetControlMode.Request.MODE_HUMAN),
            ("mode", SetControlMode.Request.MODE_POLICY), ("checkpoint", None)], key=repr)
        modes = [c[1] for c in calls if c[0] == "mode"]  # same service: in click order
        assert modes == [SetControlMode.Request.MODE_PAUSE, SetControlMode.Request.MODE_HUMAN,
                         SetControlMode.Request.MODE_POLICY]

        img = np.zeros((128, 128, 3), np.uint8)
        img[:, :64] = (200, 30, 30)
        start, finish = EpisodeEvent(event=EpisodeEvent.EVENT_START, episode_id=7), \
            EpisodeEvent(event=EpisodeEvent.EVENT_END, episode_id=7, success=True, reason="marked success")
        end = time.monotonic() + 10
        while time.monotonic() < end and pub_episode.get_subscription_count() == 0:
            time.sleep(0.05)
        pub_episode.publish(start)  # reliable: once each
        pub_episode.publish(finish)
        end = time.monotonic() + 10
        while time.monotonic() < end and (panel.reward.value() != 87 or panel.image.pixmap().isNull()
                                          or "successes 1/1" not in panel.successes.text()):
            pub_img.publish(image_msg(img, stack.get_clock().now().to_msg(), "cam"))
            pub_reward.publish(Reward(probability=0.87, success=True))
            pub_cmd.publish(Action(source=Action.SOURCE_HUMAN, source_name="spacemouse", intervention=True))
            time.sleep(0.05)
            app.processEvents()
            panel.refresh()
        assert panel.successes.text() == "successes 1/1"
        assert panel.reward.value() == 87 and "success" in panel.reward.format()
        assert "INTERVENTION" in panel.driver.text() and "spacemouse" in panel.driver.text()
        assert panel.image.pixmap() is not None and not panel.image.pixmap().isNull()
        assert "episode 7" in panel.episode.text()
        shot = panel.grab()
        assert shot.width() > 300 and shot.height() > 300
    finally:
        panel.close()
        ex.shutdown()
        panel_node.destroy_node()
        stack.destroy_node()
