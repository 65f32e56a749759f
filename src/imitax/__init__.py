"""imitax: imitation learning on JAX."""

from imitax.envs import make
from imitax.errors import ImitaxError
from imitax.record import CollectResult, collect

__version__ = "0.1.0"
__all__ = ["CollectResult", "ImitaxError", "collect", "make", "__version__"]
