"""installation: a realtime generative installation.

A render loop walks the latent space of GAN and VAE image models, steered live by OSC and
MIDI, and shows the frames full-screen with pygame. The layout is described in docs/architecture.md.
"""

__version__ = "0.1.0"
