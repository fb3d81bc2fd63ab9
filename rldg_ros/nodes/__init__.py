"""Thin rclpy adapters around the ROS-free core. Every node class derives from :class:`base.RldgNode`."""

import os

# rclpy's message field checks (type, array length, range) are off unless ROS_PYTHON_CHECK_FIELDS=1 (ROS 2 Jazzy and
# later): without them a publisher's 6-value action went out as 7 values with one uninitialised. Every rldg node
# process imports this package before any message module, so its messages are checked.
os.environ.setdefault("ROS_PYTHON_CHECK_FIELDS", "1")
