"""The benchmarks behind `installation bench`, one module per subject (installation/bench.py
imports them all). They drive the real show, like `installation run`, so they are entry
points: they may import app.py."""
