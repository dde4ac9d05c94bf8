"""The engine: train state, phases, the one-program step, K steps per dispatch, sharding, optimizers."""
