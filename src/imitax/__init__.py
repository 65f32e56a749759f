"""imitax: imitation learning on JAX."""

from imitax.envs import make
from imitax.errors import ImitaxError
from imitax.record import CollectResult, collect

__version__ = "0.1.0"
__all__ = ["CollectResult", "Evaluation", "ImitaxError", "SweepResult", "TrainResult", "collect", "load", "make",
           "sweep", "train", "__version__"]

_API = ("Evaluation", "SweepResult", "TrainResult", "load", "sweep", "train")


def __getattr__(name: str) -> object:
    # The training API imports every algorithm: loaded on first use, not by `import imitax`.
    if name in _API:
        import imitax.api

        return getattr(imitax.api, name)
    raise AttributeError(f"module 'imitax' has no attribute {name!r}")
