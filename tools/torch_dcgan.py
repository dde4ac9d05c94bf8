"""`python tools/torch_dcgan.py` times the PyTorch DCGAN reference alone (see jaxgan/tools/torch_dcgan.py)."""

import sys

try:
    import torch  # noqa: F401
except ImportError:
    sys.exit('error: tools/torch_dcgan.py needs PyTorch; install it with: pip install -e ".[torch]"')

from jaxgan.tools.torch_dcgan import main

if __name__ == "__main__":
    main()
