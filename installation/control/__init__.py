"""Control input: everything that turns the outside world into `ControlEvent`s.

Protocol code (python-osc, mido) lives here and nowhere else.
"""
