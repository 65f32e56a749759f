"""The Python API: one call shape for every method, one result type.

    import imitax

    result = imitax.train("gail", "CartPole-v1", demos="cartpole/expert-v0", num_seeds=4)
    print(result.evaluate(episodes=100))     # per-seed returns and normalised scores, IQM, 95% CI
    act = result.policy(seed=0)              # act(obs) -> action, NumPy or JAX, one obs or a batch
    result.save("runs/gail-python")
    same = imitax.load("runs/gail-python")   # also reads the run folders `imitax train` writes

Modules: `trainer` (the call), `methods` (what each method runs), `inputs` (envs, demos, experts,
MDPs), `result` (`TrainResult`), `policy` and `reward` (what it hands out), `evaluation`,
`persist` (run folders).
"""

from imitax.api.evaluation import Evaluation
from imitax.api.methods import METHOD_NAMES
from imitax.api.persist import load
from imitax.api.policy import SeedPolicy, TabularSeedPolicy
from imitax.api.result import ReferenceScores, TrainResult
from imitax.api.reward import LearnedReward, TabularReward
from imitax.api.sweep import SweepEvaluation, SweepResult, sweep
from imitax.api.trainer import train

__all__ = ["METHOD_NAMES", "Evaluation", "LearnedReward", "ReferenceScores", "SeedPolicy", "TabularReward",
           "TabularSeedPolicy", "TrainResult", "SweepEvaluation", "SweepResult", "load", "sweep", "train"]
