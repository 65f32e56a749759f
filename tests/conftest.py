"""Shared fixtures: one CartPole expert and its demonstrations per test session."""

from __future__ import annotations

import dataclasses
import os
import tempfile

import jax
import pytest

os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=1")
# One compilation cache for the session's workers (and later sessions), outside the user's own;
# the library's tests use it too, not only the CLI's.
os.environ.setdefault("IMITAX_COMPILATION_CACHE",
                      os.path.join(tempfile.gettempdir(), f"imitax-tests-jax-cache-{os.getuid()}"))

from imitax.compile_cache import enable_compilation_cache  # noqa: E402

enable_compilation_cache()


@dataclasses.dataclass(frozen=True)
class ExpertBundle:
    env: object
    policy: object
    params: object
    demos: object  # Transitions from 10 expert episodes
    trajectories: list
    expert_score: float
    random_score: float


@pytest.fixture(scope="session")
def cartpole_expert() -> ExpertBundle:
    """A PPO expert on gymnax CartPole-v1 (shipped in tests/experts/) and 10 deterministic demonstrations."""
    import imitax
    from imitax.data.rollout import collect_episodes
    from imitax.data.types import flatten_trajectories
    from imitax.eval import evaluate, random_policy
    from shipped_experts import shipped_expert

    env = imitax.make("CartPole-v1")
    policy, params = shipped_expert("CartPole-v1")

    def expert_fn(key, obs):
        return policy.act(params, key, obs, deterministic=True)

    expert_score = evaluate(env, expert_fn, jax.random.PRNGKey(1), 100).mean
    random_score = evaluate(env, random_policy(env.spec), jax.random.PRNGKey(2), 100).mean
    trajectories = collect_episodes(env, expert_fn, jax.random.PRNGKey(3), 10)
    return ExpertBundle(env, policy, params, flatten_trajectories(trajectories), trajectories, expert_score, random_score)


@pytest.fixture
def minari_root(tmp_path, monkeypatch):
    root = tmp_path / "minari"
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(root))
    return root


def cartpole_controller(obs):
    """A hand-written CartPole controller (return 500): push towards where the pole falls."""
    return int(obs[2] + 0.5 * obs[3] > 0)


@pytest.fixture(scope="module")
def demos_root(tmp_path_factory):
    """A Minari root holding cartpole/expert-v0 (5 episodes of `cartpole_controller`), the
    module's MINARI_DATASETS_PATH while it runs."""
    import imitax

    root = tmp_path_factory.mktemp("minari")
    patch = pytest.MonkeyPatch()
    patch.setenv("MINARI_DATASETS_PATH", str(root))
    imitax.collect("CartPole-v1", cartpole_controller, episodes=5, dataset_id="cartpole/expert-v0", reference_episodes=5)
    yield root
    patch.undo()


# The heaviest files first (by their summed test time on the 2-core machine, 2026-11-29: 100 s
# down to 18 s), run with `--dist loadfile --no-loadscope-reorder` (Makefile; pytest-xdist 3.8):
# xdist hands whole files to its workers in this order, so the last files to start are short
# ones and neither worker idles long at the end. xdist's own order (most tests first) started
# several of these last.
HEAVY_FIRST = ("test_resume.py", "test_sweep_ray.py", "test_sweep.py", "test_cli.py", "test_learning.py",
               "test_iq_learn.py", "test_airl_saved_reward.py", "test_off_policy_imitation.py", "test_api.py",
               "test_rl.py", "test_sweep_search.py", "test_sac.py", "test_episode_context.py", "test_dagger.py")


def pytest_collection_modifyitems(items):
    rank = {name: index for index, name in enumerate(HEAVY_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(HEAVY_FIRST)))  # stable: the rest keep their order
