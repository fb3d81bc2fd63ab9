"""The facts every stage shares, defined once: the control rate, the action and state layouts, and which episode
seeds each stage may use. ROS-free and dependency-free (nodes, the sim, the data tools and the models import it).
"""

#: policy / command rate of the cell (Hz): RL and Octo in the paper command at 10 Hz
CONTROL_HZ = 10.0

#: the 7-D action: end-effector delta pose in the wrist frame, each in [-1, 1] (scaled by the bridge to metres /
#: radians per step), and the gripper command (-1 open .. 1 close)
ACTION_NAMES = ("dx", "dy", "dz", "droll", "dpitch", "dyaw", "gripper")
ACTION_DIM = len(ACTION_NAMES)
GRIPPER_DIM = 6
#: named slices of the action: translation, rotation (axis-angle, wrist frame), both; the gripper is GRIPPER_DIM
#: (> 0 closes, < 0 opens; the cell's grasping tasks close on > 0)
ACTION_POS = slice(0, 3)
ACTION_ROT = slice(3, 6)
ACTION_MOTION = slice(0, 6)
GRIPPER_OPEN, GRIPPER_CLOSED = -1.0, 1.0

#: the robot state: TCP position, TCP quaternion (w, x, y, z), TCP twist (base frame), external wrench at the TCP
#: (base frame), gripper width
STATE_NAMES = (("tcp_x", "tcp_y", "tcp_z", "tcp_qw", "tcp_qx", "tcp_qy", "tcp_qz")
               + tuple(f"tcp_{k}" for k in ("vx", "vy", "vz", "wx", "wy", "wz"))
               + tuple(f"ext_{k}" for k in ("fx", "fy", "fz", "tx", "ty", "tz")) + ("gripper_width",))
STATE_DIM = len(STATE_NAMES)
#: named slices of the state (base frame)
STATE_POS = slice(0, 3)
STATE_QUAT = slice(3, 7)
STATE_TWIST = slice(7, 13)
STATE_LIN_VEL, STATE_ANG_VEL = slice(7, 10), slice(10, 13)
STATE_WRENCH = slice(13, 19)
STATE_FORCE, STATE_TORQUE = slice(13, 16), slice(16, 19)
STATE_GRIPPER_WIDTH = 19

#: where an executed action came from (rldg_msgs/Action.source, the transitions' and the recorded data's source)
SOURCE_POLICY, SOURCE_HUMAN, SOURCE_SCRIPTED, SOURCE_HOLD = 0, 1, 2, 3

# -- seeds ---------------------------------------------------------------------------------------------------------
#: data collection (RL rollouts, demonstrations) starts here by default
COLLECT_FIRST_SEED = 1000
#: held-out evaluation (rldg eval, the experiment, RL evaluation episodes): nothing is tuned on these, and no
#: training or collection default reaches them
EVAL_FIRST_SEED = 100_000
#: closed-loop checks that choose settings (rldg diagnose) use these, never the evaluation seeds
TUNING_FIRST_SEED = 200_000
#: an RL specialist's evaluation rounds while it trains (they decide when it stops: a selection, so never on the
#: held-out seeds)
RL_SELECT_FIRST_SEED = 300_000

#: the TFDS version of every RLDS dataset this stack writes (RUN/data/<dataset>/<task>/<version>/)
DATASET_VERSION = "1.0.0"
