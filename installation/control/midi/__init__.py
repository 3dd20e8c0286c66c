"""MIDI through mido and python-rtmidi: config and profiles, ports, decoding on the backend
thread (decode only, then queue), bindings, the loop-side mapper, feedback, learn, replay."""
