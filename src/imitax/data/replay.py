"""Replay buffers with fixed shapes: a reservoir (a uniform sample of every transition ever
added) and a FIFO ring (`ReplayBuffer`, the recent past, for off-policy learners).

Why a reservoir: adversarial imitation's discriminator normally sees only the current policy's rollout,
so once the policy is near the expert it forgets what earlier, worse policies did, and
the learned reward is unconstrained on those states. A fresh agent trained on the saved
reward starts out exactly there. A reservoir keeps a uniform sample over the whole run
at a fixed shape, so it lives inside the compiled loop.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from imitax.data.types import Transitions


@struct.dataclass
class Reservoir:
    """items: Transitions with fields [capacity, ...]; seen: i32[], transitions offered so
    far. Slots `[0, min(seen, capacity))` are filled."""

    items: Transitions
    seen: jnp.ndarray

    @classmethod
    def allocate(cls, example: Transitions, capacity: int) -> Reservoir:
        """An empty reservoir for transitions shaped like one row of `example` ([n, ...])."""
        items = jax.tree.map(lambda x: jnp.zeros((capacity, *x.shape[1:]), x.dtype), example)
        return cls(items, jnp.zeros((), jnp.int32))

    @property
    def capacity(self) -> int:
        return self.items.obs.shape[0]

    def add(self, key: jax.Array, batch: Transitions) -> Reservoir:
        """Offer the rows of `batch` ([n, ...]). Row i of the stream is kept with
        probability capacity / (i + 1), in a uniformly drawn slot (Vitter's algorithm R)."""
        n = batch.obs.shape[0]
        index = self.seen + jnp.arange(n, dtype=jnp.int32)
        draw = jax.random.randint(key, (n,), 0, jnp.iinfo(jnp.int32).max) % (index + 1)
        slot = jnp.where(index < self.capacity, index, draw)
        slot = jnp.where(slot < self.capacity, slot, self.capacity)  # out of range: dropped
        items = jax.tree.map(lambda buf, x: buf.at[slot].set(x.astype(buf.dtype), mode="drop"), self.items, batch)
        return Reservoir(items, self.seen + n)

    def sample(self, key: jax.Array, n: int) -> Transitions:
        """n rows drawn uniformly with replacement from the filled slots (call after an add)."""
        filled = jnp.maximum(jnp.minimum(self.seen, self.capacity), 1)
        rows = jax.random.randint(key, (n,), 0, filled)
        return jax.tree.map(lambda x: x[rows], self.items)


@struct.dataclass
class ReplayBuffer:
    """A preallocated first-in-first-out ring of transitions, for off-policy learners.

    items: Transitions with fields [capacity, ...]; position: i32[], the next slot written;
    size: i32[], filled slots (up to capacity). Fixed shapes, so it lives in a compiled carry.
    """

    items: Transitions
    position: jnp.ndarray
    size: jnp.ndarray

    @classmethod
    def allocate(cls, example: Transitions, capacity: int) -> ReplayBuffer:
        """An empty buffer for transitions shaped like one row of `example` ([n, ...])."""
        items = jax.tree.map(lambda x: jnp.zeros((capacity, *x.shape[1:]), x.dtype), example)
        return cls(items, jnp.zeros((), jnp.int32), jnp.zeros((), jnp.int32))

    @property
    def capacity(self) -> int:
        return self.items.obs.shape[0]

    def add(self, batch: Transitions) -> ReplayBuffer:
        """Append the rows of `batch` ([n, ...], n <= capacity), overwriting the oldest."""
        n = batch.obs.shape[0]
        slots = (self.position + jnp.arange(n, dtype=jnp.int32)) % self.capacity
        items = jax.tree.map(lambda buf, x: buf.at[slots].set(x.astype(buf.dtype)), self.items, batch)
        return ReplayBuffer(items, (self.position + n) % self.capacity, jnp.minimum(self.size + n, self.capacity))

    def sample(self, key: jax.Array, n: int) -> Transitions:
        """n rows drawn uniformly with replacement from the filled slots (at least one must be)."""
        rows = jax.random.randint(key, (n,), 0, jnp.maximum(self.size, 1))
        return jax.tree.map(lambda x: x[rows], self.items)
