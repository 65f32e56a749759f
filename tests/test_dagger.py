"""DAgger: beta schedules, the label buffer, the mixture policy, label counting, learning, CLI."""

import contextlib
import io
import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from imitax.algos.bc import BCConfig
from imitax.algos.dagger import DAgger, DAggerConfig, beta_for_round, train_dagger
from imitax.cli import main
from imitax.data.label_buffer import LabelBuffer
from imitax.envs.spec import Discrete, EnvSpec
from imitax.errors import ConfigError
from imitax.eval import normalized_score

SMALL_BC = BCConfig(num_steps=500, batch_size=128, hidden_sizes=(64, 64), eval_episodes=0)
CARTPOLE_SPEC = EnvSpec("CartPole-v1", 4, Discrete(2), 500)


def _expert_fn(bundle):
    def expert_fn(key, obs):
        return bundle.policy.act(bundle.params, key, obs, deterministic=True)
    return expert_fn


def test_beta_schedules():
    def values(**kw):
        config = DAggerConfig(**kw)
        return [round(float(beta_for_round(config, r)), 6) for r in range(6)]

    assert values(beta_schedule="linear", beta_rampdown_rounds=4) == [1.0, 0.75, 0.5, 0.25, 0.0, 0.0]
    assert values(beta_schedule="linear", beta_rampdown_rounds=1) == [1.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    assert values(beta_schedule="exponential", beta_decay=0.5) == [1.0, 0.5, 0.25, 0.125, 0.0625, 0.03125]
    assert values(beta_schedule="constant", beta_constant=0.3) == [0.3] * 6


@pytest.mark.parametrize("changes, match", [
    ({"num_rounds": 0}, "dagger.num_rounds must be > 0"),
    ({"beta_decay": 1.5}, r"dagger.beta_decay must be a probability in \[0, 1\]"),
    ({"beta_schedule": "cosine"}, "expected one of linear, exponential, constant"),
    ({"bc": BCConfig(num_steps=0)}, "bc.num_steps must be > 0, got 0"),
])
def test_config_errors(changes, match):
    with pytest.raises(ConfigError, match=match):
        DAggerConfig(**changes).validate()


def test_retraining_budget_ignores_bc_log_every():
    """BC alone logs every bc.log_every steps, so its step count must be a multiple of it;
    DAgger's retraining never logs inside a round, so any positive count is accepted."""
    bc = BCConfig(num_steps=150, log_every=100)
    with pytest.raises(ConfigError, match=r"bc.num_steps \(150\) must be a multiple of bc.log_every \(100\)"):
        bc.num_log_points()
    assert DAggerConfig(bc=bc).validate().bc.num_steps == 150


def test_fit_takes_num_steps_on_filled_rows_only():
    """Every round's retraining takes exactly bc.num_steps gradient steps, whatever the aggregate's
    size, and draws only filled rows: the unfilled ones repeat the same states labelled 0 where
    the filled ones say 1, so a learner trained on them would pick 0. An empty aggregate takes none."""
    dagger = DAgger(DAggerConfig(bc=BCConfig(num_steps=200, batch_size=64, hidden_sizes=(16,))), CARTPOLE_SPEC)
    obs = jax.random.normal(jax.random.PRNGKey(1), (5, 4))
    buffer = LabelBuffer.allocate(CARTPOLE_SPEC, capacity=1000)
    buffer = buffer.replace(obs=jnp.tile(obs, (200, 1)))  # actions stay 0
    fit = jax.jit(dagger.fit)
    state, metrics = fit(dagger.init(jax.random.PRNGKey(0), buffer).bc, buffer)
    assert int(state.step) == 0 and float(metrics["loss"]) == 0.0
    for count in (5, 10):  # the same budget again on a grown aggregate
        buffer = buffer.add(obs, jnp.ones(5, jnp.int32), jnp.ones(5, bool))
        state, metrics = fit(state, buffer)
        assert int(buffer.count) == count and int(state.step) == 200
        np.testing.assert_array_equal(dagger.policy.act(state.params, None, obs, deterministic=True), 1)
        assert float(metrics["accuracy"]) > 0.5, metrics


def test_label_buffer_appends_valid_rows_in_order():
    add = jax.jit(LabelBuffer.add)
    buffer = LabelBuffer.allocate(CARTPOLE_SPEC, capacity=10)
    obs = jnp.arange(24, dtype=jnp.float32).reshape(3, 2, 4)  # [T=3, N=2, obs_dim]
    actions = jnp.arange(6, dtype=jnp.int32).reshape(3, 2)
    valid = jnp.array([[True, True], [True, False], [False, False]])
    buffer = add(buffer, obs, actions, valid)
    assert int(buffer.count) == 3
    np.testing.assert_array_equal(buffer.actions[:4], [0, 1, 2, 0])
    np.testing.assert_array_equal(buffer.obs[2], obs[1, 0])
    buffer = jax.jit(LabelBuffer.add)(buffer, obs[:1], actions[:1], valid[:1])
    assert int(buffer.count) == 5 and buffer.actions[3] == 0 and buffer.actions[4] == 1
    rows = np.asarray(jnp.concatenate([obs[0], obs[1, :1], obs[0]]))
    norm = jax.jit(LabelBuffer.obs_normalizer)(buffer)
    np.testing.assert_allclose(norm.mean, rows.mean(0), rtol=1e-6)
    np.testing.assert_allclose(norm.var, rows.var(0), rtol=1e-5)


def test_mixture_executes_expert_with_probability_beta():
    dagger = DAgger(DAggerConfig(bc=SMALL_BC), CARTPOLE_SPEC)
    learner = dagger.policy.init(jax.random.PRNGKey(0))
    obs = jax.random.normal(jax.random.PRNGKey(1), (4000, 4))
    learner_actions = dagger.policy.act(learner, None, obs, deterministic=True)

    def opposite_expert(key, one_obs):  # always disagrees with the learner
        return 1 - dagger.policy.act(learner, key, one_obs, deterministic=True)

    mixture = jax.jit(lambda beta: dagger.mixture_actions(opposite_expert, learner, beta, jax.random.PRNGKey(2), obs))
    for beta, expected in ((1.0, 1.0), (0.0, 0.0), (0.3, 0.3)):
        executed, labels = mixture(jnp.asarray(beta))
        np.testing.assert_array_equal(labels, 1 - learner_actions)  # every state is labelled by the expert
        assert abs(float((executed == labels).mean()) - expected) < 0.03, beta


@pytest.mark.slow
def test_dagger_learns_cartpole_and_counts_labels(cartpole_expert):
    """From scratch with beta = 0: the untrained learner drives every episode and the expert only labels."""
    env = cartpole_expert.env
    config = DAggerConfig(num_rounds=8, episodes_per_round=2, beta_schedule="constant", beta_constant=0.0,
                          eval_episodes=20, bc=SMALL_BC)
    result = train_dagger(env, _expert_fn(cartpole_expert), config, seed=0, num_seeds=2)
    scores = normalized_score(result.history["episode_return"], cartpole_expert.random_score, cartpole_expert.expert_score)
    # round 1's labels are the untrained learner's short episodes: not enough yet (seeds 0.17 and 0.68)
    assert scores[:, 1].mean() < 0.6 and scores[:, -1].min() >= 0.9, scores
    labels, rollout_return = result.history["expert_labels"], result.history["rollout_return"]
    assert (labels[:, 0] == 0).all() and (labels[:, 1] < 250 * config.episodes_per_round).all()  # untrained: falls early
    # learner-driven episodes have any length; every visited state is one label (CartPole: return = length)
    np.testing.assert_allclose(np.diff(labels, axis=1), rollout_return[:, 1:] * config.episodes_per_round, rtol=0, atol=1e-3)
    assert (result.history["beta"][:, 1:] == 0.0).all()


def test_gymnasium_host_loop_counts_labels(cartpole_expert):
    """Initial demos plus learner-driven rounds (warm-started, sampled actions); one label per visited state."""
    import imitax

    env = imitax.make("CartPole-v1", backend="gymnasium")
    config = DAggerConfig(num_rounds=2, episodes_per_round=3, beta_schedule="constant", beta_constant=0.0,
                          eval_episodes=3, warm_start=True, sample_learner_actions=True, bc=BCConfig(num_steps=40, hidden_sizes=(16,)))
    result = train_dagger(env, _expert_fn(cartpole_expert), config, seed=0, initial_demos=cartpole_expert.demos)
    labels, rollout_return = result.history["expert_labels"][0], result.history["rollout_return"][0]
    assert labels[0] == len(cartpole_expert.demos)
    np.testing.assert_allclose(np.diff(labels), 3 * rollout_return[1:], rtol=0, atol=1e-3)  # return = episode length
    assert np.isfinite(result.history["episode_return"]).all() and result.env_steps == labels[-1] - labels[0]


@pytest.fixture(scope="module")
def saved_expert(cartpole_expert, tmp_path_factory):
    from imitax.io.policy_checkpoint import save_policy

    path = tmp_path_factory.mktemp("expert") / "checkpoint"
    save_policy(path, cartpole_expert.policy, cartpole_expert.params, algorithm="ppo")
    return path


def test_cli_train_dagger_json(saved_expert, tmp_path):
    runs = tmp_path / "runs"
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = main(["train", "dagger", "CartPole-v1", "--expert", str(saved_expert.parent), "--dagger.num-rounds", "2",
                     "--dagger.episodes-per-round", "1", "--dagger.bc.num-steps", "50", "--dagger.bc.hidden-sizes",
                     "32", "--dagger.eval-episodes", "2", "--eval-episodes", "5", "--num-seeds", "2",
                     "--runs-dir", str(runs), "--json", "--no-progress"])
    assert code == 0, buffer.getvalue()
    out = json.loads(buffer.getvalue().strip().splitlines()[-1])
    assert out["command"] == "train dagger" and len(out["seed_normalized_scores"]) == 2
    assert out["reference"]["expert"] >= 400 and [r["round"] for r in out["rounds"]] == [0, 1, 2]
    assert out["rounds"][-1]["expert_labels"] == out["expert_labels"] > 0
    run_dir = Path(out["run_dir"])
    for file in ("config.json", "metrics.csv", "metrics.jsonl", "curve.png", "summary.md", "result.json",
                 "checkpoint/params.msgpack", "checkpoint/meta.json"):
        assert (run_dir / file).exists(), file
    assert json.loads((run_dir / "config.json").read_text())["dagger"]["num_rounds"] == 2
    assert json.loads((run_dir / "checkpoint" / "meta.json").read_text())["algorithm"] == "dagger"
    assert len((run_dir / "metrics.jsonl").read_text().strip().splitlines()) == 3
    # resuming a finished run restores its saved end state: same policy, no duplicated metric rows
    metrics, params = (run_dir / "metrics.jsonl").read_text(), (run_dir / "checkpoint" / "params.msgpack").read_bytes()
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["train", "dagger", "--resume", str(run_dir), "--no-progress"]) == 0
    assert (run_dir / "metrics.jsonl").read_text() == metrics
    assert (run_dir / "checkpoint" / "params.msgpack").read_bytes() == params


@pytest.mark.parametrize("env_id, expert, match", [
    ("CartPole-v1", "missing-run", "missing-run does not exist; expected a run folder"),
    ("Pendulum-v1", "SAVED", "is a policy for CartPole-v1 .*expected one for Pendulum-v1"),
])
def test_cli_bad_expert_exits_2(saved_expert, tmp_path, capsys, env_id, expert, match):
    path = str(saved_expert) if expert == "SAVED" else str(tmp_path / expert)
    code = main(["train", "dagger", env_id, "--expert", path, "--runs-dir", str(tmp_path / "runs"), "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("imitax train dagger: error:")
    assert __import__("re").search(match, err[0]), err[0]
    assert not (tmp_path / "runs").exists()
