"""Human in the loop (ROS-free): SpaceMouse/keyboard input mapping and the intervention mux state machine."""
