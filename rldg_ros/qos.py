"""QoS profiles used across the stack (one place, so publishers and subscribers agree)."""

from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data

#: commands, events, states the stack itself produces
RELIABLE_10 = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_LAST)
#: streams where no message may be lost to a stalled reader: a deep bounded history (1000 samples = 20 s at 50 Hz)
#: instead of KEEP_ALL, whose blocking writers slowed shutdown on a loaded CI machine
RELIABLE_DEEP = QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_LAST)
#: cameras and the franka_ros2 convenience topics (published best-effort)
SENSOR = qos_profile_sensor_data
#: learner -> actor parameter blobs: transient-local, so an actor that joins late gets the newest chunks
PARAMS = QoSProfile(depth=32, reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_LAST,
                    durability=DurabilityPolicy.TRANSIENT_LOCAL)
