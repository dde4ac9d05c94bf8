"""Sampling a trained G: latents, seeds, truncation, style mixing, rejection sampling and PNG grids."""
