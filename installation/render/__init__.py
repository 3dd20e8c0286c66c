"""Rendering: the frame loop (loop.py), the device side (renderer.py, pipeline.py, fade.py)
and the window (display.py, the only module that imports pygame)."""
