"""The README's Python example: train -> evaluate -> save -> load (tests/test_api.py runs it).

It needs the dataset `imitax collect CartPole-v1 --episodes 10` writes (or `make demo`).
"""

import numpy as np

import imitax

result = imitax.train("gail", "CartPole-v1", demos="cartpole/expert-v0", num_seeds=4)
print(result.evaluate(episodes=100))        # returns and normalised score per seed, IQM, 95% CI
result.save("runs/gail-python", overwrite=True)

loaded = imitax.load("runs/gail-python")    # a folder `imitax train` wrote loads the same way
act = loaded.policy(seed=0)                 # deterministic; NumPy or JAX, one observation or a batch
print(act(np.zeros(4, np.float32)), act(np.zeros((8, 4), np.float32)))
print(loaded.history["episode_return"].shape, loaded.timing)  # [num_seeds, points]; compile_s, run_s
