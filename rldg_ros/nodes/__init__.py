"""Thin rclpy adapters around the ROS-free core. Every node class derives from :class:`base.RldgNode`."""
