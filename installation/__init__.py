"""installation: a realtime generative installation.

A render loop walks the latent space of GAN and VAE image models, steered live by OSC and
MIDI, and shows the frames full-screen with pygame. See DESIGN in the README.
"""

__version__ = "0.1.0"
