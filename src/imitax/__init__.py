"""imitax: imitation learning on JAX."""

from imitax.envs import make
from imitax.errors import ImitaxError

__version__ = "0.1.0"
__all__ = ["ImitaxError", "make", "__version__"]
