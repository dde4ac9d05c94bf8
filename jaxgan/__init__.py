"""jaxgan: GANs in JAX with explicit state and a one-program train step."""
