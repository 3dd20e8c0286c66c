"""Performance instruments: loops through keyframes, drift and jitter, scenes that morph,
a cue list, tempo (OSC, tap, MIDI clock), envelope followers, record and replay.

The pure parts (modes, morph, tempo, envelope) are functions of (state, inputs, time);
`service.Instrument` plugs them into the render loop's hooks, and app.py wires it.
"""
