"""Memory a command will need, estimated from its options before anything is allocated or written.

The estimate counts what grows with the options: replay buffers and reservoirs of agent
transitions, PPO rollouts, the demonstrations, every network's parameters with their Adam
moments, tabular MDPs, all times the seeds trained at once (`--num-seeds` vmaps them, so they
are all in memory together). A compiled loop keeps its carry twice (the input and the output
of a step), so the carry counts double. What is not counted (XLA's workspace, Python, JAX
itself) is small next to a buffer that does not fit; the check refuses only estimates above
the memory the operating system says is available, so it catches a `--num-seeds 10000` or a
`--sac.buffer-size 1e9`, not a tight fit.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator, Sequence
from typing import Any

from imitax.envs.spec import EnvSpec
from imitax.errors import ResourceError

FLOAT_BYTES = 4
CARRY_COPIES = 2  # a compiled step's input and output carry
ADAM_COPIES = 3  # parameters and Adam's two moments
TARGET_COPIES = 2  # online and target networks (SAC's critics)


@dataclasses.dataclass(frozen=True)
class MemoryItem:
    """One thing a command allocates: what it is, and its bytes for all seeds together."""

    what: str
    bytes: int


def transition_bytes(spec: EnvSpec) -> int:
    """Bytes of one stored transition: obs and next obs, the action, reward, terminated, truncated."""
    return FLOAT_BYTES * (2 * spec.obs_dim + (1 if spec.discrete else spec.action_dim) + 3)


def network_parameters(inputs: int, hidden_sizes: Sequence[int], outputs: int) -> int:
    """Weights and biases of an MLP `inputs -> hidden_sizes -> outputs`."""
    widths = [inputs, *hidden_sizes, outputs]
    return sum((a + 1) * b for a, b in zip(widths[:-1], widths[1:]))


def estimate(config: Any, spec: EnvSpec, num_seeds: int = 1, demo_transitions: int = 0) -> list[MemoryItem]:
    """The memory items of training with `config` (a command's args or a method's config) on `spec`."""
    items = [MemoryItem(f"{demo_transitions:,} demonstration transitions", demo_transitions * transition_bytes(spec))]
    for name, learner in _learners(config):
        items.extend(_learner_items(name, learner, spec, num_seeds))
    for name, capacity in _reservoirs(config):
        items.append(_buffer(name, capacity, spec, num_seeds))
    return items


def _buffer(name: str, capacity: int, spec: EnvSpec, num_seeds: int) -> MemoryItem:
    """A buffer of `capacity` transitions per seed, kept in a compiled loop's carry."""
    return MemoryItem(f"{name} of {capacity:,} transitions x {num_seeds} seeds",
                      CARRY_COPIES * num_seeds * capacity * transition_bytes(spec))


def tabular(num_states: int, num_actions: int, horizon: int, num_seeds: int) -> list[MemoryItem]:
    """An MDP's dense transition tensor [S, A, S] (built in float64, kept in float32; shared by
    the seeds), and per seed its policies over the horizon, f32[horizon, S, A]."""
    return [MemoryItem(f"transition tensor of {num_states:,} states x {num_actions} actions",
                       (8 + FLOAT_BYTES) * num_states * num_actions * num_states),
            MemoryItem(f"per-step policies of {num_states:,} states x {num_seeds} seeds",
                       CARRY_COPIES * FLOAT_BYTES * num_seeds * max(horizon, 1) * num_states * num_actions)]


def check_memory(items: list[MemoryItem], available: int | None = None) -> None:
    """Raise ResourceError naming the largest item when the total exceeds the available memory
    (`available` bytes; default: what the operating system reports, no check when unknown)."""
    available = available_memory() if available is None else available
    total = sum(item.bytes for item in items)
    if available is None or total <= available:
        return
    largest = max(items, key=lambda item: item.bytes)
    raise ResourceError(f"this run needs about {_gib(total)} of memory, {_gib(available)} is available; the largest "
                        f"part is the {largest.what} ({_gib(largest.bytes)}); expected fewer --num-seeds or a smaller "
                        "buffer or network")


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation (Linux: MemAvailable), None when unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _gib(n: int) -> str:
    return f"{n / 2**30:,.1f} GiB"


def _learners(config: Any) -> Iterator[tuple[str, Any]]:
    """The RL learners `config` trains: a PPO or SAC config, or the one an imitation config's
    `generator` picks (a GAIL config holds both, and uses one)."""
    from imitax.rl.ppo import PPOConfig
    from imitax.rl.sac import SACConfig

    if isinstance(config, (PPOConfig, SACConfig)):
        yield type(config).__name__[:3].lower(), config
        return
    if not dataclasses.is_dataclass(config):
        return
    generator = getattr(config, "generator", None)
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if isinstance(value, (PPOConfig, SACConfig)):
            if generator is None or field.name == generator:
                yield field.name, value
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            yield from _learners(value)


def _reservoirs(config: Any) -> Iterator[tuple[str, int]]:
    """Reservoirs of agent transitions an adversarial config keeps (discriminator, saved reward)."""
    if not dataclasses.is_dataclass(config):
        return
    disc = getattr(config, "disc_replay_size", 0) or 0
    reward = getattr(config, "reward_replay_size", 0) if getattr(config, "separate_reward", False) else 0
    if disc or reward:
        yield "replay of agent transitions for the discriminator", max(disc, reward)
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            yield from _reservoirs(value)


def _learner_items(name: str, learner: Any, spec: EnvSpec, num_seeds: int) -> list[MemoryItem]:
    from imitax.rl.sac import SACConfig

    hidden = tuple(learner.hidden_sizes)
    outputs = spec.action_dim if spec.discrete else 2 * spec.action_dim
    policy = network_parameters(spec.obs_dim, hidden, outputs)
    if isinstance(learner, SACConfig):
        critic_inputs = spec.obs_dim + (0 if spec.discrete else spec.action_dim)
        critic_outputs = spec.action_dim if spec.discrete else 1
        critics = learner.num_critics * network_parameters(critic_inputs, hidden, critic_outputs)
        parameters = policy * ADAM_COPIES + critics * (ADAM_COPIES + 1)
        return [_buffer(f"{name} replay buffer", learner.buffer_capacity, spec, num_seeds),
                MemoryItem(f"{name} networks x {num_seeds} seeds", CARRY_COPIES * num_seeds * FLOAT_BYTES * parameters)]
    value = network_parameters(spec.obs_dim, hidden, 1)
    rollout = learner.num_envs * learner.rollout_steps
    # a rollout, its flattened and shuffled copies in the update, per seed
    return [MemoryItem(f"{name} rollout of {rollout:,} steps x {num_seeds} seeds",
                       3 * num_seeds * rollout * (transition_bytes(spec) + 4 * FLOAT_BYTES)),
            MemoryItem(f"{name} networks x {num_seeds} seeds",
                       CARRY_COPIES * num_seeds * FLOAT_BYTES * ADAM_COPIES * (policy + value))]
