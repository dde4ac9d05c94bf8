"""Terms every objective shares: losses, regularizers, D's input augmentations, top-k and the EMA."""
