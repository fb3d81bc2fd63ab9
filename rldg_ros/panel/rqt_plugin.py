"""rqt plugin wrapper (ROS 2 distro with rqt): the same panel inside rqt, on the node rqt gives it."""

from rqt_gui_py.plugin import Plugin

from rldg_ros.panel.ros_backend import RosPanelBackend
from rldg_ros.panel.widget import InterventionPanel


class RldgPanel(Plugin):
    def __init__(self, context):
        super().__init__(context)
        self.setObjectName("RldgInterventionPanel")
        self.backend = RosPanelBackend(context.node)
        self.widget = InterventionPanel(self.backend)
        if context.serial_number() > 1:
            self.widget.setWindowTitle(f"{self.widget.windowTitle()} ({context.serial_number()})")
        context.add_widget(self.widget)
