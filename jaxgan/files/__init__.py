"""Files jaxgan reads and fetches: hash-checked downloads, .npz and .pth readers."""
