"""``rldg panel``: the intervention panel as a standalone window (rclpy node spun on a background thread)."""

from __future__ import annotations

import os
import sys


def main(image_topic: str | None = None, screenshot: str | None = None, seconds: float | None = None) -> int:
    import rclpy
    from rclpy.executors import MultiThreadedExecutor
    from rclpy.node import Node

    from rldg_ros import topics
    from rldg_ros.up import apply_default_env

    apply_default_env()
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # no screen: render offscreen (screenshots, CI)
    from qtpy.QtCore import QTimer
    from qtpy.QtWidgets import QApplication

    from rldg_ros.panel.ros_backend import RosPanelBackend
    from rldg_ros.panel.widget import InterventionPanel

    rclpy.init()
    node = Node("rldg_panel")
    backend = RosPanelBackend(node, image_topic or topics.POLICY_IMAGE.name)
    executor = MultiThreadedExecutor()
    executor.add_node(node)
    import threading

    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    panel = InterventionPanel(backend)
    panel.show()
    if seconds is not None:
        def finish() -> None:
            panel.refresh()
            if screenshot:
                panel.grab().save(screenshot)
                print(f"wrote {screenshot}")
            app.quit()

        QTimer.singleShot(int(seconds * 1000), finish)
    try:
        return app.exec() if hasattr(app, "exec") else app.exec_()
    finally:
        executor.shutdown()
        node.destroy_node()
        rclpy.shutdown()
