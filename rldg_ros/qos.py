"""QoS profiles used across the stack (one place, so publishers and subscribers agree)."""

from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data

#: commands, events, states the stack itself produces
RELIABLE_10 = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_LAST)
#: streams where every message must arrive (the writer keeps all until acknowledged): demo, transitions
RELIABLE_ALL = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_ALL)
#: cameras and the franka_ros2 convenience topics (published best-effort)
SENSOR = qos_profile_sensor_data
