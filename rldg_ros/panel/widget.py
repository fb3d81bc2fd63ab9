"""The panel widget (qtpy): live wrist image, reward probability, episode, success rate, who drives, and buttons."""

from __future__ import annotations

import numpy as np
from qtpy.QtCore import QPointF, Qt, QTimer
from qtpy.QtGui import QColor, QImage, QPainter, QPen, QPixmap, QPolygonF
from qtpy.QtWidgets import (
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from rldg_ros.panel.state import PanelBackend, PanelState, rolling_success_rate

# mirror rldg_msgs constants (the widget does not import ROS)
START, END, MARK_SUCCESS, MARK_FAILURE = 0, 1, 2, 3
MODE_POLICY, MODE_HUMAN, MODE_PAUSE = 0, 1, 2
SOURCES = {0: ("policy", "#2e7d32"), 1: ("human", "#e65100"), 2: ("scripted", "#1565c0"), 3: ("hold", "#616161")}


class SuccessPlot(QWidget):
    """Rolling success rate (last 10 episodes) after each episode."""

    def __init__(self) -> None:
        super().__init__()
        self.rates: list[float] = []
        self.setMinimumHeight(90)

    def set_outcomes(self, outcomes: list[bool]) -> None:
        self.rates = rolling_success_rate(outcomes)
        self.update()

    def paintEvent(self, event) -> None:  # noqa: N802, ARG002 - Qt API
        p = QPainter(self)
        p.fillRect(self.rect(), QColor("#fafafa"))
        w, h, m = self.width(), self.height(), 6
        p.setPen(QPen(QColor("#bdbdbd"), 1, Qt.DashLine))
        for frac in (0.0, 0.5, 1.0):
            y = m + (h - 2 * m) * (1 - frac)
            p.drawLine(m, int(y), w - m, int(y))
        if len(self.rates) >= 1:
            n = max(len(self.rates) - 1, 1)
            pts = [QPointF(m + (w - 2 * m) * i / n, m + (h - 2 * m) * (1 - r)) for i, r in enumerate(self.rates)]
            p.setPen(QPen(QColor("#2e7d32"), 2))
            p.drawPolyline(QPolygonF(pts))
        p.end()


class InterventionPanel(QWidget):
    def __init__(self, backend: PanelBackend, refresh_ms: int = 100) -> None:
        super().__init__()
        self.backend = backend
        self.setWindowTitle("rldg intervention panel")
        self.image = QLabel("no image yet")
        self.image.setFixedSize(256, 256)
        self.image.setAlignment(Qt.AlignCenter)
        self.image.setStyleSheet("background: #202020; color: #9e9e9e;")

        self.episode = QLabel("episode -")
        self.successes = QLabel("successes 0/0")
        self.reward = QProgressBar()
        self.reward.setRange(0, 100)
        self.reward.setFormat("reward p = %p%")
        self.driver = QLabel("hold")
        self.driver.setAlignment(Qt.AlignCenter)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.plot = SuccessPlot()

        self.buttons: dict[str, QPushButton] = {}
        grid = QGridLayout()
        actions = [
            ("start episode", lambda: backend.episode_command(START)),
            ("stop episode", lambda: backend.episode_command(END)),
            ("reset", backend.reset),
            ("mark success", lambda: backend.episode_command(MARK_SUCCESS)),
            ("mark failure", lambda: backend.episode_command(MARK_FAILURE)),
            ("pause policy", lambda: backend.set_mode(MODE_PAUSE)),
            ("take over", lambda: backend.set_mode(MODE_HUMAN)),
            ("hand back", lambda: backend.set_mode(MODE_POLICY)),
            ("save checkpoint", backend.save_checkpoint),
        ]
        for i, (name, fn) in enumerate(actions):
            b = QPushButton(name)
            b.clicked.connect(fn)
            self.buttons[name] = b
            grid.addWidget(b, i // 3, i % 3)

        status = QVBoxLayout()
        for w in (self.episode, self.successes, self.reward, self.driver):
            status.addWidget(w)
        box = QGroupBox("success rate (last 10 episodes)")
        box_layout = QVBoxLayout(box)
        box_layout.addWidget(self.plot)
        status.addWidget(box)
        top = QHBoxLayout()
        top.addWidget(self.image)
        top.addLayout(status, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(grid)
        layout.addWidget(self.message)

        self.timer = QTimer(self)
        self.timer.timeout.connect(self.refresh)
        self.timer.start(refresh_ms)

    def refresh(self) -> None:
        self.show_state(self.backend.snapshot())

    def show_state(self, s: PanelState) -> None:
        if s.image is not None:
            img = np.ascontiguousarray(s.image)
            q = QImage(img.data, img.shape[1], img.shape[0], 3 * img.shape[1], QImage.Format_RGB888).copy()
            self.image.setPixmap(QPixmap.fromImage(q).scaled(256, 256, Qt.KeepAspectRatio, Qt.SmoothTransformation))
        state = "running" if s.episode_running else "stopped"
        self.episode.setText(f"episode {s.episode_id} - {s.episode_elapsed_s:.1f} s - {state}")
        self.successes.setText(f"successes {s.successes}/{s.episodes_done}")
        if s.reward_probability is None:
            self.reward.setValue(0)
            self.reward.setFormat("reward: no classifier")
        else:
            self.reward.setValue(int(round(100 * s.reward_probability)))
            self.reward.setFormat(f"reward p = {s.reward_probability:.2f}" + (" (success)" if s.reward_success else ""))
        name, colour = SOURCES.get(s.source, ("?", "#000000"))
        who = f"{name}: {s.source_name}" if s.source_name and s.source_name != name else name
        self.driver.setText(("INTERVENTION - " if s.intervention else "") + who)
        self.driver.setStyleSheet(f"background: {colour}; color: white; padding: 4px; font-weight: bold;")
        self.plot.set_outcomes(s.outcomes)
        self.message.setText(s.message)
