"""Small rotation and 2-D polygon helpers (numpy; quaternions are w, x, y, z as in MuJoCo)."""

from __future__ import annotations

import mujoco
import numpy as np


def quat_from_axis_angle(axis_angle: np.ndarray) -> np.ndarray:
    q = np.zeros(4)
    v = np.asarray(axis_angle, dtype=float)
    angle = float(np.linalg.norm(v))
    if angle < 1e-12:
        q[0] = 1.0
        return q
    mujoco.mju_axisAngle2Quat(q, v / angle, angle)
    return q


def quat_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out = np.zeros(4)
    mujoco.mju_mulQuat(out, np.asarray(a, float), np.asarray(b, float))
    return out


def quat_to_mat(q: np.ndarray) -> np.ndarray:
    m = np.zeros(9)
    mujoco.mju_quat2Mat(m, np.asarray(q, float))
    return m.reshape(3, 3)


def look_at_xyaxes(pos, target, up) -> list[float]:
    """MuJoCo camera ``xyaxes`` for a camera at ``pos`` looking at ``target`` (all in the parent frame)."""
    f = np.asarray(target, float) - np.asarray(pos, float)
    f /= np.linalg.norm(f)
    right = np.cross(f, up)
    right /= np.linalg.norm(right)
    return [*right, *np.cross(right, f)]


def yaw_quat(yaw: float) -> np.ndarray:
    return np.array([np.cos(yaw / 2), 0.0, 0.0, np.sin(yaw / 2)])


# -- convex polygons (counter-clockwise vertices, metres) -------------------------------------------------------

def rectangle(w: float, h: float) -> np.ndarray:
    return np.array([[-w / 2, -h / 2], [w / 2, -h / 2], [w / 2, h / 2], [-w / 2, h / 2]])


def trapezoid(w_bottom: float, w_top: float, h: float) -> np.ndarray:
    return np.array([[-w_bottom / 2, -h / 2], [w_bottom / 2, -h / 2], [w_top / 2, h / 2], [-w_top / 2, h / 2]])


def rounded_rectangle(w: float, h: float, r: float, n_arc: int = 4) -> np.ndarray:
    pts = []
    corners = [(w / 2 - r, -h / 2 + r, -np.pi / 2), (w / 2 - r, h / 2 - r, 0.0),
               (-w / 2 + r, h / 2 - r, np.pi / 2), (-w / 2 + r, -h / 2 + r, np.pi)]
    for cx, cy, a0 in corners:
        for k in range(n_arc + 1):
            a = a0 + (np.pi / 2) * k / n_arc
            pts.append([cx + r * np.cos(a), cy + r * np.sin(a)])
    return np.array(pts)


def chamfered_rectangle(w: float, h: float, c: float, corners: tuple[int, ...] = (0, 1, 2, 3)) -> np.ndarray:
    """Rectangle with 45-degree chamfers of size ``c`` at the given corners (0=bottom-left, counter-clockwise)."""
    base = rectangle(w, h)
    pts = []
    for i, (x, y) in enumerate(base):
        if i in corners:  # replace the corner by two points: towards the previous vertex, then the next
            for other in (base[i - 1], base[(i + 1) % 4]):
                d = (other - [x, y]) / np.linalg.norm(other - [x, y])
                pts.append([x + d[0] * c, y + d[1] * c])
        else:
            pts.append([x, y])
    return np.array(pts)


def circle(d: float, n: int = 20) -> np.ndarray:
    a = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.stack([d / 2 * np.cos(a), d / 2 * np.sin(a)], axis=1)


def offset_convex(poly: np.ndarray, d: float) -> np.ndarray:
    """Grow a convex counter-clockwise polygon outward by ``d`` (edges move, vertices are re-intersected)."""
    n = len(poly)
    lines = []
    for i in range(n):
        a, b = poly[i], poly[(i + 1) % n]
        e = (b - a) / np.linalg.norm(b - a)
        normal = np.array([e[1], -e[0]])  # outward for counter-clockwise order
        lines.append((a + normal * d, e))
    out = []
    for i in range(n):
        (p1, e1), (p2, e2) = lines[i - 1], lines[i]
        mat = np.array([e1, -e2]).T
        t = np.linalg.solve(mat, p2 - p1)
        out.append(p1 + e1 * t[0])
    return np.array(out)


def polygon_edges(poly: np.ndarray):
    """(midpoint, unit direction, outward normal, length) of every edge."""
    for i in range(len(poly)):
        a, b = poly[i], poly[(i + 1) % len(poly)]
        length = float(np.linalg.norm(b - a))
        e = (b - a) / length
        yield (a + b) / 2, e, np.array([e[1], -e[0]]), length


def is_ccw_convex(poly: np.ndarray) -> bool:
    n = len(poly)
    for i in range(n):
        a, b = poly[(i + 1) % n] - poly[i], poly[(i + 2) % n] - poly[(i + 1) % n]
        if a[0] * b[1] - a[1] * b[0] <= 0:
            return False
    return True
