"""RL specialists, ROS-free: SAC with RLPD (symmetric demo/online sampling), a LayerNorm critic ensemble, an optional
discrete grasp critic, replay buffers with a write-ahead log, and the actor/learner cores the ROS nodes wrap."""
