"""The one check of every command's numbers: no float option takes NaN or inf unless inf means
something there, and seeds stay in the range where JAX gives each its own key."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import jax
import numpy as np
import pytest

from imitax.algos.bc import BCConfig
from imitax.commands.collect import CollectArgs
from imitax.commands.common import RunFolderOptions, validate_all
from imitax.commands.evaluate import EvalArgs
from imitax.commands.expert import ExpertArgs
from imitax.commands.numeric_options import check_numeric_options
from imitax.commands.train import (TrainAIRLArgs, TrainBCArgs, TrainDACArgs, TrainGAILArgs, TrainIQLearnArgs, TrainRLArgs,
                                   TrainSQILArgs)
from imitax.commands.train_dagger import TrainDAggerArgs
from imitax.commands.train_mce_irl import TrainMCEIRLArgs
from imitax.envs.tabular import GridworldConfig
from imitax.errors import SEED_RANGE, ConfigError, allows_infinity, require_seed
from imitax.rl.ppo import PPOConfig

COMMAND_CONFIGS = {
    "expert": ExpertArgs.defaults("CartPole-v1"),
    "collect": CollectArgs("CartPole-v1"),
    "eval": EvalArgs(Path("run")),
    "train bc": TrainBCArgs("CartPole-v1", demos="demos"),
    "train gail": TrainGAILArgs("CartPole-v1", demos="demos"),
    "train airl": TrainAIRLArgs("CartPole-v1", demos="demos"),
    "train sqil": TrainSQILArgs("CartPole-v1", demos="demos"),
    "train dac": TrainDACArgs("CartPole-v1", demos="demos"),
    "train iq-learn": TrainIQLearnArgs("CartPole-v1", demos="demos"),
    "train rl": TrainRLArgs("CartPole-v1", reward=Path("run")),
    "train dagger": TrainDAggerArgs("CartPole-v1", expert=Path("run")),
    "train mce-irl": TrainMCEIRLArgs(),
}
INFINITE_OK = {"checkpoint_every_s", "max_grad_norm"}  # inf: no periodic saves / no gradient clipping


def float_fields(config: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    """(path of field names, owning dataclass) of every float field of `config`, nested ones included."""
    out = []
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if dataclasses.is_dataclass(value):
            out += float_fields(value, path + (field.name,))
        elif isinstance(value, float):
            out.append((path + (field.name,), config))
    return out


def replaced(config: Any, path: tuple[str, ...], value: Any) -> Any:
    if len(path) == 1:
        return dataclasses.replace(config, **{path[0]: value})
    return dataclasses.replace(config, **{path[0]: replaced(getattr(config, path[0]), path[1:], value)})


@pytest.mark.parametrize("command", COMMAND_CONFIGS)
def test_every_float_option_refuses_nan_and_infinity_where_not_meaningful(command):
    config = COMMAND_CONFIGS[command]
    check_numeric_options(config)
    fields = float_fields(config)
    assert fields or command in ("collect", "eval")
    for path, owner in fields:
        flag = path[-1].replace("_", "-")
        with pytest.raises(ConfigError, match=f"{flag} is nan; expected a "):
            check_numeric_options(replaced(config, path, math.nan))
        for infinity in (math.inf, -math.inf):
            if allows_infinity(owner, path[-1]):
                check_numeric_options(replaced(config, path, infinity))
            else:
                with pytest.raises(ConfigError, match=f"{flag} is {infinity}; expected a finite number"):
                    check_numeric_options(replaced(config, path, infinity))
    assert {path[-1] for path, owner in fields if allows_infinity(owner, path[-1])} <= INFINITE_OK


def test_options_are_named_as_typed_on_the_command_line():
    config = TrainGAILArgs("CartPole-v1", demos="demos")
    with pytest.raises(ConfigError, match=r"^--checkpoint-every-s is nan"):  # options' prefix is omitted by tyro
        check_numeric_options(replaced(config, ("options", "checkpoint_every_s"), math.nan))
    with pytest.raises(ConfigError, match=r"^--gail\.ppo\.learning-rate is inf"):
        check_numeric_options(replaced(config, ("gail", "ppo", "learning_rate"), math.inf))
    with pytest.raises(ConfigError, match=r"^--grid\.reward-seed is -1"):
        check_numeric_options(replaced(TrainMCEIRLArgs(), ("grid", "reward_seed"), -1))


def test_infinity_where_it_means_something_passes_every_check():
    validate_all(replaced(TrainBCArgs("CartPole-v1", demos="demos", bc=BCConfig(max_grad_norm=math.inf)),
                          ("options", "checkpoint_every_s"), math.inf))
    PPOConfig(max_grad_norm=math.inf).validate()
    with pytest.raises(ConfigError, match="must be >= 0, got -inf"):
        RunFolderOptions(checkpoint_every_s=-math.inf).validate()
    with pytest.raises(ConfigError, match="must be >= 0, got nan"):  # the Python API, without the CLI's check
        RunFolderOptions(checkpoint_every_s=math.nan).validate()


def test_require_helpers_refuse_infinity_in_the_python_api():
    with pytest.raises(ConfigError, match=r"ppo\.learning_rate must be > 0, got inf; expected a finite number"):
        PPOConfig(learning_rate=math.inf).validate()
    with pytest.raises(ConfigError, match=r"ppo\.ent_coef must be >= 0, got inf; expected a finite number"):
        PPOConfig(ent_coef=math.inf).validate()
    with pytest.raises(ConfigError, match=r"ppo\.init_log_std must be a finite number, got nan"):
        PPOConfig(init_log_std=math.nan).validate()
    with pytest.raises(ConfigError, match="pit_reward must be a finite number"):
        GridworldConfig(pit_reward=-math.inf).build()


def test_seeds_are_the_ones_jax_tells_apart():
    low, high = SEED_RANGE
    for seed in (low, high):
        require_seed(seed, "--seed")
    for seed in (low - 1, high + 1, 2**63, 2**64, True, 1.0):
        with pytest.raises(ConfigError, match=r"expected a seed in \[0, 2\*\*32 - 1 = 4294967295\]"):
            require_seed(seed, "--seed")
    # Why the range: JAX keeps a seed's low 32 bits, so the next seed would repeat seed 0's numbers,
    # while the largest one still has room for the offsets commands add (seed + 30_000 + index).
    assert np.array_equal(jax.random.PRNGKey(high + 1), jax.random.PRNGKey(low))
    assert not np.array_equal(jax.random.PRNGKey(high), jax.random.PRNGKey(low))
    jax.random.PRNGKey(high + 30_000 + 1_000)


def test_every_seed_option_is_checked():
    paths = {command: seed_paths(config) for command, config in COMMAND_CONFIGS.items()}
    assert all(paths.values()) and ("grid", "reward_seed") in paths["train mce-irl"]
    for command, config in COMMAND_CONFIGS.items():
        for path in paths[command]:
            with pytest.raises(ConfigError, match="expected a seed in"):
                check_numeric_options(replaced(config, path, 2**64))


def seed_paths(config: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = []
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if dataclasses.is_dataclass(value):
            out += seed_paths(value, path + (field.name,))
        elif field.name == "seed" or field.name.endswith("_seed"):
            out.append(path + (field.name,))
    return out
