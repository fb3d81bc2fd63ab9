"""Cartesian impedance controller for the Panda (numpy on MuJoCo's C kinematics), run at every physics step.

    tau = J^T [K_p e_p - D_p v ; K_r e_r - D_r w] + N (k_n (q_0 - q) - d_n qd) + bias(q, qd)

with each axis' damping critical for its apparent mass, D = 2 zeta sqrt(K / (J M^-1 J^T)_ii).

``bias`` is MuJoCo's gravity + Coriolis term (gravity compensation, as libfranka's model provides); ``N`` is the
*dynamically consistent* null-space projector ``I - J^T Lambda J M^-1`` (Lambda = (J M^-1 J^T)^-1), so the posture
task exerts no force at the TCP. (The plain pseudo-inverse projector leaks the posture torque into the task space:
measured here as a 0.65 mm steady lateral offset, more than a connector's half clearance.)

The commanded pose error is clipped (``max_pos_error`` / ``max_rot_error``), so the largest steady contact force
is ``stiffness * max_pos_error``: the guarantee franka_ros's example impedance controllers give by saturating the
reference. (With the env's "measured pose + one step" targets the force stays at stiffness x one step.)
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from rldg_ros.config import param


@dataclass
class ImpedanceConfig:
    stiffness_pos: float = param(1000.0, min=10.0, max=5000.0, help="translational stiffness (N/m)")
    stiffness_rot: float = param(60.0, min=1.0, max=300.0, help="rotational stiffness (Nm/rad)")
    damping_ratio: float = param(1.0, min=0.1, max=3.0, help="critical damping multiple")
    nullspace_stiffness: float = param(5.0, min=0.0, max=50.0, help="posture stiffness (Nm/rad)")
    max_pos_error: float = param(0.02, min=0.001, max=0.1, help="clip on the position error (m)")
    max_rot_error: float = param(0.3, min=0.01, max=1.0, help="clip on the rotation error (rad)")


class CartesianImpedance:
    """Holds preallocated buffers; ``torque()`` costs a handful of numpy calls per physics step."""

    def __init__(self, model: mujoco.MjModel, site_id: int, arm_dofs: np.ndarray, arm_qadr: np.ndarray,
                 q_posture: np.ndarray, cfg: ImpedanceConfig, torque_limits: np.ndarray) -> None:
        self.m, self.site = model, site_id
        self.dofs, self.qadr = _as_slice(arm_dofs), _as_slice(arm_qadr)  # slices avoid copies in the 1 kHz loop
        self.cfg = cfg
        self.q_posture = np.asarray(q_posture, float).copy()
        self.tau_max = np.asarray(torque_limits, float)
        self._jacp = np.zeros((3, model.nv))
        self._jacr = np.zeros((3, model.nv))
        self._jac = np.zeros((6, len(np.asarray(arm_dofs))))
        self._quat = np.zeros(4)
        self._jfull = np.zeros((6, model.nv))
        self._jminv = np.zeros((6, model.nv))
        self._err_r = np.zeros(3)
        self.kp = np.array([cfg.stiffness_pos] * 3 + [cfg.stiffness_rot] * 3)
        self.kn = cfg.nullspace_stiffness
        self.dn = 2.0 * np.sqrt(max(self.kn, 1e-9))
        self.target_pos = np.zeros(3)
        self.target_quat = np.array([1.0, 0.0, 0.0, 0.0])

    def set_target(self, pos: np.ndarray, quat: np.ndarray) -> None:
        self.target_pos[:] = pos
        self.target_quat[:] = quat / np.linalg.norm(quat)

    def torque(self, data: mujoco.MjData) -> np.ndarray:
        m, dofs, cfg = self.m, self.dofs, self.cfg
        mujoco.mj_jacSite(m, data, self._jacp, self._jacr, self.site)
        jac = self._jac
        jac[:3] = self._jacp[:, dofs]
        jac[3:] = self._jacr[:, dofs]
        qd = data.qvel[dofs]
        vel = jac @ qd

        err = np.empty(6)
        e_p = self.target_pos - data.site_xpos[self.site]
        n = np.linalg.norm(e_p)
        if n > cfg.max_pos_error:
            e_p *= cfg.max_pos_error / n
        err[:3] = e_p
        mujoco.mju_mat2Quat(self._quat, data.site_xmat[self.site])
        mujoco.mju_subQuat(self._err_r, self.target_quat, self._quat)
        e_r = data.site_xmat[self.site].reshape(3, 3) @ self._err_r  # local -> world
        n = np.linalg.norm(e_r)
        if n > cfg.max_rot_error:
            e_r *= cfg.max_rot_error / n
        err[3:] = e_r

        # J M^-1 from MuJoCo's sparse factorisation of M (computed by mj_step1), over all dofs
        self._jfull[:3] = self._jacp
        self._jfull[3:] = self._jacr
        mujoco.mj_solveM(m, data, self._jminv, self._jfull)
        j_minv = self._jminv[:, dofs]
        lam_inv = self._jminv @ self._jfull.T  # inverse of the apparent (task-space) inertia
        lam_inv[np.diag_indices(6)] += 1e-6
        # damping critical for the apparent mass of each axis: D = 2 zeta sqrt(K m)
        kd = 2.0 * cfg.damping_ratio * np.sqrt(self.kp / np.diag(lam_inv))
        tau = jac.T @ (self.kp * err - kd * vel)
        # null-space posture through the dynamically consistent projector N^T = I - J^T Lambda J M^-1
        tau_null = self.kn * (self.q_posture - data.qpos[self.qadr]) - self.dn * qd
        tau += tau_null - jac.T @ np.linalg.solve(lam_inv, j_minv @ tau_null)
        tau += data.qfrc_bias[dofs]
        return np.clip(tau, -self.tau_max, self.tau_max)


def _as_slice(index) -> slice | np.ndarray:
    """A contiguous index array as a slice (views instead of copies); anything else unchanged."""
    idx = np.asarray(index)
    if idx.size and np.array_equal(idx, np.arange(idx[0], idx[0] + idx.size)):
        return slice(int(idx[0]), int(idx[0]) + idx.size)
    return idx
