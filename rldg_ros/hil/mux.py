"""The intervention mux: who drives the robot at each control step, and how control changes hands.

Sources, by priority: a **human** (SpaceMouse/keyboard) whenever their input is active, then an automatic
**scripted** intervener (sim) when one of its rules fires, then the **policy**. Control modes (SetControlMode):
POLICY (default: the policy drives, humans may take over), HUMAN (the operator drives, the policy is ignored),
PAUSE and HOLD (zero motion, flagged SOURCE_HOLD).

* Takeover is immediate: a human input above the deadzone (or a gripper button) replaces the policy's action at once.
* Hand-back happens after ``handback_s`` without human input and is ramped: the policy's action is scaled from 0 up
  to full over ``handback_steps`` steps, so the commanded motion never jumps (the human let go: their last command
  was ~0).
* A human input stream that goes silent for ``stale_s`` while its last message was an *active* command means the
  driver died mid-motion (the spacenav driver publishes on events, so silence after a release is normal): the
  takeover stops and the mux holds (it does not hand a possibly wrong situation back to the policy) until the
  operator chooses a mode again.
* A policy action is sent once, for the step it answers: when the policy stops publishing, nothing more is sent and
  the bridge's watchdog holds the arm within its timeout of the last command.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rldg_ros.config import param
from rldg_ros.spec import (
    ACTION_DIM,
    ACTION_MOTION,
    GRIPPER_DIM,
    SOURCE_HOLD,
    SOURCE_HUMAN,
    SOURCE_POLICY,
    SOURCE_SCRIPTED,
)

MODE_POLICY, MODE_HUMAN, MODE_PAUSE, MODE_HOLD = 0, 1, 2, 3
MODE_NAMES = {MODE_POLICY: "policy", MODE_HUMAN: "human", MODE_PAUSE: "pause", MODE_HOLD: "hold"}


@dataclass
class MuxConfig:
    takeover_threshold: float = param(0.001, min=0.0, max=1.0, help="|human action| above this takes over "
                                      "(HIL-SERL: 0.001, after the deadzone)")
    handback_s: float = param(0.5, min=0.0, max=10.0, help="human idle this long -> hand back to the policy")
    handback_steps: int = param(5, min=1, max=100, help="ramp the policy's action in over this many steps")
    stale_s: float = param(0.5, min=0.05, max=10.0, help="no human input message this long = driver died")
    policy_timeout_s: float = param(0.3, min=0.05, max=10.0, help="policy actions older than this are ignored")


@dataclass
class Decision:
    action: np.ndarray | None  # None: nothing to send (the bridge's watchdog holds)
    source: int
    source_name: str
    intervention: bool


class InterventionMux:
    def __init__(self, cfg: MuxConfig) -> None:
        self.cfg = cfg
        self.mode = MODE_POLICY
        self.human: tuple[np.ndarray, float, str] | None = None  # (action, time, device name)
        self.human_active_at: float | None = None  # last time the human input was above threshold
        self.human_last_msg: float | None = None
        self.human_nonzero = False  # the last human message was an active command
        self.policy: tuple[np.ndarray, float, str] | None = None
        self.policy_used = False  # the policy's last action was sent already (it is never repeated)
        self.scripted: tuple[np.ndarray, float, str] | None = None
        self.taken_over = False
        self.ramp = 0  # steps into a hand-back ramp (0 = no ramp running)
        self.events: list[str] = []

    # -- inputs ----------------------------------------------------------------------------------------------------
    def set_mode(self, mode: int) -> int:
        if mode not in MODE_NAMES:
            raise ValueError(f"unknown control mode {mode}")
        previous, self.mode = self.mode, mode
        if mode != MODE_POLICY:
            self.ramp = 0
        if mode == MODE_POLICY and previous != MODE_POLICY:
            self.taken_over, self.ramp = False, 1  # enter policy control through the ramp too
        return previous

    def human_input(self, action: np.ndarray, now: float, device: str, gripper_pressed: bool = False) -> None:
        a = np.asarray(action, dtype=float)
        self.human = (a, now, device)
        self.human_last_msg = now
        self.human_nonzero = bool(gripper_pressed or np.max(np.abs(a[ACTION_MOTION])) > self.cfg.takeover_threshold)
        if self.human_nonzero:
            self.human_active_at = now

    def policy_action(self, action: np.ndarray, now: float, name: str = "policy") -> None:
        self.policy = (np.asarray(action, dtype=float), now, name)
        self.policy_used = False

    def drop_policy_action(self) -> None:
        """Forget the policy's last action (it was refused): nothing of it is sent again."""
        self.policy = None

    def scripted_action(self, action: np.ndarray | None, now: float, name: str = "scripted") -> None:
        """The automatic intervener's action while one of its rules fires, or None when none does."""
        self.scripted = None if action is None else (np.asarray(action, dtype=float), now, name)

    # -- decision --------------------------------------------------------------------------------------------------
    def hold(self, name: str) -> Decision:
        """Zero motion, the gripper as last commanded."""
        return self._hold(name)

    def _hold(self, name: str) -> Decision:
        a = np.zeros(ACTION_DIM)
        if self.human is not None:
            a[GRIPPER_DIM] = self.human[0][GRIPPER_DIM]
        elif self.policy is not None:
            a[GRIPPER_DIM] = self.policy[0][GRIPPER_DIM]
        return Decision(a, SOURCE_HOLD, name, False)

    def decide(self, now: float) -> Decision:
        c = self.cfg
        if self.mode in (MODE_PAUSE, MODE_HOLD):
            return self._hold(MODE_NAMES[self.mode])

        silent = self.human_last_msg is None or now - self.human_last_msg > c.stale_s
        died = self.human_nonzero and silent  # an active command and then nothing: the driver died mid-motion
        if died and (self.taken_over or self.mode == MODE_HUMAN):
            self.taken_over, self.human_nonzero = False, False
            self.mode = MODE_HOLD
            self.events.append("human input went stale during a takeover: holding")
            return self._hold("stale human input")

        if self.mode == MODE_HUMAN:
            if self.human is None:
                return self._hold("no human input")
            a = self.human[0].copy() if self.human_nonzero else self._hold("").action
            return Decision(a, SOURCE_HUMAN, self.human[2], True)

        # MODE_POLICY: a human can take over at any time and keeps control until idle for handback_s
        recently_active = self.human_active_at is not None and now - self.human_active_at <= c.handback_s
        if (self.human_nonzero and not silent) or (self.taken_over and recently_active):
            if not self.taken_over:
                self.events.append(f"takeover by {self.human[2]}")
            self.taken_over, self.ramp = True, 0
            a = self.human[0].copy() if self.human_nonzero else self._hold("").action
            return Decision(a, SOURCE_HUMAN, self.human[2], True)
        if self.taken_over:  # the human let go for handback_s: hand back through the ramp
            self.taken_over, self.ramp = False, 1
            self.events.append("hand-back to the policy")

        if self.scripted is not None and now - self.scripted[1] <= c.policy_timeout_s:
            return Decision(self.scripted[0].copy(), SOURCE_SCRIPTED, self.scripted[2], True)

        # a policy action is sent once: it answers one step, and a policy that stops publishing must not keep the
        # arm moving on repeats (the bridge's watchdog holds within its timeout of the last command)
        if self.policy is None or now - self.policy[1] > c.policy_timeout_s or self.policy_used:
            return Decision(None, SOURCE_HOLD, "no fresh policy action", False)
        self.policy_used = True
        a = self.policy[0].copy()
        if self.ramp:
            a[ACTION_MOTION] *= self.ramp / c.handback_steps
            self.ramp = 0 if self.ramp >= c.handback_steps else self.ramp + 1
        return Decision(a, SOURCE_POLICY, self.policy[2], False)
