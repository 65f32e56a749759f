"""`TrainResult`: what every method's `imitax.train` returns and `imitax.load` reads back."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import numpy as np

from imitax.api.policy import SeedPolicy, TabularSeedPolicy
from imitax.api.reward import LearnedReward, TabularReward, _seed_index
from imitax.envs.spec import EnvSpec


@dataclasses.dataclass(frozen=True)
class ReferenceScores:
    """Mean returns that normalise a score: random = 0, expert = 1 (None: unknown; a missing
    random reference is measured on the environment when evaluating)."""

    random: float | None = None
    expert: float | None = None

    @classmethod
    def of(cls, random: Any, expert: Any) -> ReferenceScores:
        """From numbers that may be None or NaN (what a run's result.json holds for unknown)."""
        def known(value: Any) -> float | None:
            return None if value is None or not math.isfinite(float(value)) else float(value)
        return cls(known(random), known(expert))

    def to_dict(self) -> dict[str, float | None]:
        return {"random": self.random, "expert": self.expert}


@dataclasses.dataclass(frozen=True, eq=False)
class TabularPolicyNet:
    """The policy kind of MCE IRL: per seed a table f32[H, S, A], optimal under its learned reward."""

    num_states: int
    num_actions: int
    horizon: int
    spec: None = None


@dataclasses.dataclass(frozen=True)
class Trained:
    """What training leaves: the policy (net, one params pytree per seed), the learned reward or
    None, history {metric: f[num_seeds, points]} and timing (a method's runner returns it)."""

    policy_net: Any
    policy_params: tuple[Any, ...]
    reward: LearnedReward | TabularReward | None
    history: dict[str, np.ndarray]
    compile_s: float
    run_s: float

    def fields(self) -> dict[str, Any]:
        """These fields by name (not copied), to build a TrainResult from."""
        return {field.name: getattr(self, field.name) for field in dataclasses.fields(Trained)}


@dataclasses.dataclass(frozen=True, eq=False)
class TrainResult(Trained):
    """One trained method, any of them, with `num_seeds` independent runs.

    Attributes:
        method: "bc", "dagger", "gail", "airl", "dac", "sqil", "iq-learn", "ppo", "sac" or "mce-irl".
        config: the method's config dataclass (`GAILConfig`, ...), as trained.
        policy_net: what the parameters are: a `Policy`, `SquashedGaussianPolicy` or, for MCE IRL,
            a `TabularPolicyNet`.
        policy_params: one parameter pytree per seed (MCE IRL: a table f32[H, S, A] per seed).
        reward: the learned reward where the method learns one (GAIL, AIRL, DAC: the
            discriminator's; IQ-Learn: the one its soft Q-function implies; MCE IRL: a table), else None.
        history: {metric: f[num_seeds, points]}, one column per log point of the training loop.
            A run folder of the command line keeps the seed mean only: [1, points].
        compile_s, run_s: seconds spent compiling and running the training loop.
        seed: the first seed (run i used seed + i's key split, as `num_seeds` does everywhere).
        references: random and expert mean returns (from the demonstrations, DAgger's expert or
            the MDP), which `evaluate` normalises with.
        env: the environment trained on (MCE IRL: the `TabularMDP`); when loaded, its id, which
            `evaluate` makes again on `backend`.
        backend: "jax", "gymnasium" or "tabular".
        run_dir: the folder it was loaded from, else None.
    """

    method: str
    config: Any
    seed: int = 0
    references: ReferenceScores = ReferenceScores()
    env: Any = None
    backend: str = "jax"
    run_dir: Path | None = None

    @property
    def num_seeds(self) -> int:
        return len(self.policy_params)

    def __repr__(self) -> str:
        where = "tabular MDP" if self.spec is None else self.spec.env_id
        reward = "None" if self.reward is None else type(self.reward).__name__
        return (f"TrainResult(method={self.method!r}, env={where!r}, backend={self.backend!r}, "
                f"num_seeds={self.num_seeds}, reward={reward}, history=[{', '.join(self.history)}], "
                f"compile_s={self.compile_s:.2f}, run_s={self.run_s:.2f}"
                + (f", run_dir='{self.run_dir}')" if self.run_dir is not None else ")"))

    @property
    def spec(self) -> EnvSpec | None:
        """The environment's spec (None for MCE IRL's tabular MDP)."""
        return self.policy_net.spec

    @property
    def timing(self) -> dict[str, float]:
        return {"compile_s": self.compile_s, "run_s": self.run_s}

    def policy(self, seed: int = 0, deterministic: bool = True) -> SeedPolicy | TabularSeedPolicy:
        """Run `seed`'s policy (an index in [0, num_seeds)) as a function `act(obs) -> action`
        on NumPy or JAX observations, one f32[obs_dim] or a batch f32[n, obs_dim] (see `SeedPolicy`);
        MCE IRL's is `act(states, t=0)` (see `TabularSeedPolicy`)."""
        params = self.policy_params[_seed_index(seed, self.num_seeds)]
        if isinstance(self.policy_net, TabularPolicyNet):
            return TabularSeedPolicy(params)
        return SeedPolicy(self.policy_net, params, deterministic, self.seed + seed)

    def evaluate(self, env: Any = None, episodes: int = 100, *, seed: int = 0, deterministic: bool = True,
                 references: tuple[float, float] | None = None) -> Any:
        """Returns and normalised scores of every seed's policy, with IQM and a bootstrap CI over
        seeds (an `imitax.api.Evaluation`).

        Args:
            env: an env id or an imitax env (default: the one trained on, or for a loaded run
                `spec.env_id` on `backend`); MCE IRL: a `TabularMDP` with the same states
                (default: the training MDP), evaluated exactly, `episodes` unused.
            episodes: complete episodes per seed.
            seed: evaluation seed; seed i of the result is evaluated with key `seed + 10_000 + i`.
            references: (random, expert) mean returns that override `self.references`.
        """
        from imitax.api.evaluation import evaluate_result

        return evaluate_result(self, env, episodes, seed, deterministic, references)

    def save(self, path: str | Path, *, overwrite: bool = False) -> Path:
        """Write a run folder at `path` (see `imitax.api.persist`) that `imitax.load` reads back
        and `imitax eval` evaluates; atomic: the folder appears complete or not at all.

        Raises:
            OutputError: `path` exists (unless `overwrite`, and then only an imitax run folder
                is replaced) or cannot be written.
        """
        from imitax.api.persist import save_result

        return save_result(self, path, overwrite=overwrite)
