"""Importers of foreign generator files (NVIDIA StyleGAN pickles, rosinality .pt, StyleGAN
safetensors) into the package's own model folders; nothing from a file is ever executed."""
