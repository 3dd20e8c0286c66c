"""Kiosk-grade operation: a supervisor that restarts the show, a render heartbeat, saved
state, a frame guard, a health endpoint and logging that never blocks the render thread."""
