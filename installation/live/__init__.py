"""Live models: watch folders, validate and warm new checkpoints off the render thread, hand
them to the loop through a one-slot swap box, and supervise a background trainer."""
