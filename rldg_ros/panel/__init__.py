"""The intervention panel: a Qt widget (qtpy) an operator uses during RL training and teleoperation, standalone
(``rldg panel``) or as an rqt plugin. It talks to the stack only through topics and services."""
