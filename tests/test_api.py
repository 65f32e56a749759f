"""The Python API: one call shape (`imitax.train`), one `TrainResult`, `imitax.load`, and the
README example. Budgets are tiny: these check the plumbing, not what the methods learn."""

from __future__ import annotations

import contextlib
import io
import json
import runpy
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import imitax
from imitax.algos.airl import AIRLConfig
from imitax.algos.bc import BCConfig
from imitax.algos.dac import DACConfig
from imitax.algos.dagger import DAggerConfig
from imitax.algos.gail import GAILConfig
from imitax.api.persist import resolved_config
from imitax.algos.iq_learn import IQLearnConfig
from imitax.algos.mce_irl import MCEIRLConfig
from imitax.algos.sqil import SQILConfig
from imitax.api import METHOD_NAMES, Evaluation, LearnedReward, TabularReward, TrainResult
from imitax.cli import main
from imitax.data.types import Transitions
from imitax.envs.tabular import gridworld
from imitax.errors import CheckpointError, ConfigError, DatasetError, ImitaxError, OutputError, SpaceError, UnknownEnvError
from imitax.rl.ppo import PPOConfig
from imitax.rl.sac import SACConfig

ROOT = Path(__file__).resolve().parents[1]
TINY_PPO = PPOConfig(total_steps=2048, num_envs=4, rollout_steps=64, num_epochs=1, num_minibatches=2, hidden_sizes=(16,))
TINY_SAC = SACConfig(total_steps=300, learning_starts=100, batch_size=32, hidden_sizes=(16,), buffer_size=300)
TINY_BC = BCConfig(num_steps=50, log_every=25, batch_size=32, hidden_sizes=(16,), eval_episodes=0)
TINY = {
    "bc": TINY_BC,
    "dagger": DAggerConfig(num_rounds=2, episodes_per_round=1, eval_episodes=2, bc=TINY_BC),
    # what `imitax train gail CartPole-v1` gets from the flags in GAIL_FLAGS
    "gail": GAILConfig.for_env("CartPole-v1", disc_hidden_sizes=(16,), ppo=dict(
        total_steps=2048, num_envs=4, rollout_steps=64, num_epochs=1, num_minibatches=2, hidden_sizes=(16,))),
    "airl": AIRLConfig(ppo=TINY_PPO, disc_hidden_sizes=(16,)),
    "dac": DACConfig(sac=TINY_SAC, disc_hidden_sizes=(16,)),
    "sqil": SQILConfig(sac=TINY_SAC),
    "iq-learn": IQLearnConfig(sac=TINY_SAC),
    "ppo": TINY_PPO,
    "sac": TINY_SAC,
    "mce-irl": MCEIRLConfig(num_steps=20, log_every=10),
}
GAIL_FLAGS = ["--gail.disc-hidden-sizes", "16", "--gail.ppo.total-steps", "2048", "--gail.ppo.num-envs", "4",
              "--gail.ppo.rollout-steps", "64", "--gail.ppo.num-epochs", "1", "--gail.ppo.num-minibatches", "2",
              "--gail.ppo.hidden-sizes", "16"]
# The JAX backend where a test needs it (BC: the CLI run below; GAIL: the README example);
# the rest on Gymnasium, which compiles less (no compiled rollout).
BACKEND = {"bc": "jax", "gail": "jax"}
ENV = {"sac": "Pendulum-v1"}  # Box actions
NUM_SEEDS = {"gail": 4}  # the README example's, so its program comes from the compilation cache
LEARNS_REWARD = {"gail", "airl", "dac", "iq-learn"}


def cartpole_expert_jax(key, obs):
    return (obs[2] + 0.5 * obs[3] > 0).astype(jnp.int32)


@pytest.fixture(scope="module")
def trained(demos_root):
    """train(method) -> its TrainResult, trained once per module with the tiny configs."""
    cache: dict[str, TrainResult] = {}

    def get(method: str) -> TrainResult:
        if method not in cache:
            cache[method] = _train(method)
        return cache[method]

    return get


def _train(method: str, **overrides) -> TrainResult:
    kwargs = dict(config=TINY[method], num_seeds=NUM_SEEDS.get(method, 2), **overrides)
    if method == "mce-irl":
        return imitax.train(method, gridworld(size=(3, 3), horizon=6), **kwargs)
    env = imitax.make(ENV.get(method, "CartPole-v1"), backend=BACKEND.get(method, "gymnasium"))
    if method == "dagger":
        return imitax.train(method, env, expert=cartpole_expert_jax, **kwargs)
    return imitax.train(method, env, None if method in ("ppo", "sac") else "cartpole/expert-v0", **kwargs)


@pytest.mark.parametrize("method", METHOD_NAMES)
def test_every_method_returns_one_train_result_that_acts_evaluates_and_round_trips(trained, method, tmp_path):
    result = trained(method)
    assert isinstance(result, TrainResult) and result.method == method
    seeds = NUM_SEEDS.get(method, 2)
    assert result.num_seeds == seeds and result.compile_s >= 0 and result.run_s > 0
    assert result.history and all(values.shape[0] == seeds and values.ndim == 2 for values in result.history.values())
    if method == "mce-irl":
        assert isinstance(result.reward, TabularReward) and result.reward(jnp.arange(9)).shape == (9,)
    elif method in LEARNS_REWARD:
        assert isinstance(result.reward, LearnedReward) and result.reward.num_seeds == seeds
    else:
        assert result.reward is None

    evaluation = result.evaluate(episodes=3)
    assert isinstance(evaluation, Evaluation) and evaluation.mean_returns.shape == (seeds,)
    assert evaluation.metric == ("return" if method in ("ppo", "sac") else "normalized_score")
    values = evaluation.normalized_scores if evaluation.normalized_scores is not None else evaluation.mean_returns
    assert values.shape == (seeds,) and evaluation.ci95[0] <= evaluation.iqm <= evaluation.ci95[1]
    assert min(values) <= evaluation.iqm <= max(values)

    saved = result.save(tmp_path / "run")
    loaded = imitax.load(saved)
    # the saved config records run-time defaults (None, "auto") as the values the run resolved them to
    assert loaded.method == method and loaded.num_seeds == seeds and loaded.config == resolved_config(result.config, result.spec)
    assert loaded.references == result.references and loaded.history.keys() == result.history.keys()
    np.testing.assert_array_equal(loaded.history[next(iter(result.history))], result.history[next(iter(result.history))])
    if method == "mce-irl":
        states = np.arange(9)
        for seed in range(seeds):
            for t in (0, 5):
                np.testing.assert_array_equal(loaded.policy(seed)(states, t), result.policy(seed)(states, t))
        np.testing.assert_array_equal(loaded.reward.table, result.reward.table)
        assert loaded.evaluate().mean_returns.tolist() == evaluation.mean_returns.tolist()
        return
    obs = np.random.default_rng(0).normal(size=(64, result.spec.obs_dim)).astype(np.float32)
    for seed in range(seeds):
        np.testing.assert_array_equal(loaded.policy(seed)(obs), result.policy(seed)(obs))
    if method in LEARNS_REWARD:
        transitions = Transitions(jnp.asarray(obs), jnp.zeros(64, jnp.int32), jnp.zeros(64), jnp.asarray(obs[::-1]),
                                  jnp.zeros(64, bool), jnp.zeros(64, bool))
        for seed in range(seeds):
            np.testing.assert_array_equal(loaded.reward(transitions, seed), result.reward(transitions, seed))
    # `imitax eval` reads the saved folder as it reads a command's run folder
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["eval", str(saved), "--episodes", "3", "--backend", result.backend, "--json"]) == 0
    assert json.loads(out.getvalue().strip().splitlines()[-1])["algorithm"] == method


def test_policy_takes_numpy_and_jax_one_observation_or_a_batch(trained):
    result = trained("bc")
    act = result.policy(seed=1)
    one, batch = np.array([0.01, 0.0, 0.05, 0.0], np.float32), np.zeros((5, 4), np.float32)
    assert isinstance(act(one), np.integer) and act(one).shape == ()
    assert isinstance(act(batch), np.ndarray) and act(batch).shape == (5,) and act(batch).dtype == np.int32
    assert set(act(np.random.default_rng(1).normal(size=(100, 4))).tolist()) <= {0, 1}
    assert isinstance(act(jnp.asarray(batch)), jax.Array)
    np.testing.assert_array_equal(jax.jit(act)(jnp.asarray(batch)), act(batch))
    np.testing.assert_array_equal(jax.vmap(act)(jnp.asarray(batch)), act(batch))
    assert int(act(one)) == int(act(jnp.asarray(one))) == int(act(one.tolist()))
    # deterministic by default; a stochastic policy samples, the same key giving the same actions
    np.testing.assert_array_equal(act(batch), act(batch))
    sampler, key = result.policy(seed=1, deterministic=False), jax.random.PRNGKey(3)
    np.testing.assert_array_equal(sampler(batch, key), sampler(batch, key))


def test_box_actions_are_clipped_to_the_bounds(trained):
    act = trained("sac").policy(seed=1)
    actions = act(np.random.default_rng(0).normal(size=(50, 3)) * 10)
    assert actions.shape == (50, 1) and actions.dtype == np.float32 and np.abs(actions).max() <= 2.0
    assert act(np.zeros(3)).shape == (1,)
    stochastic = trained("sac").policy(seed=1, deterministic=False)
    assert not np.array_equal(stochastic(np.zeros((20, 3))), stochastic(np.zeros((20, 3))))


def test_evaluate_gives_per_seed_figures_and_normalises_with_the_demos_references(trained):
    result = trained("bc")
    assert result.references.random == pytest.approx(22.2, abs=30) and result.references.expert == 500.0
    evaluation = result.evaluate(episodes=4, seed=1)
    assert evaluation.returns.shape == (2, 4)
    np.testing.assert_allclose(evaluation.normalized_scores, (evaluation.mean_returns - result.references.random)
                               / (500.0 - result.references.random))
    assert "IQM" in str(evaluation) and evaluation.to_dict()["seed_normalized_scores"] is not None
    # the same seed gives the same numbers; references can be given
    assert result.evaluate(episodes=4, seed=1).returns.tolist() == evaluation.returns.tolist()
    other = result.evaluate(episodes=4, seed=1, references=(0.0, 1000.0))
    np.testing.assert_allclose(other.normalized_scores, evaluation.mean_returns / 1000.0)
    # references that cannot normalise (expert not above random) leave the returns, with a warning
    with pytest.warns(UserWarning, match="not above the random reference"):
        inverted = result.evaluate(episodes=4, seed=1, references=(500.0, 10.0))
    assert inverted.metric == "return" and inverted.normalized_scores is None
    assert inverted.iqm == pytest.approx(float(np.mean(evaluation.mean_returns)))  # two seeds: IQM = mean


def test_demos_may_be_a_dataset_id_demonstrations_or_transitions(trained):
    from imitax.data.minari_io import load_demonstrations

    demos = load_demonstrations("cartpole/expert-v0")
    by_id = trained("bc")
    for given in (demos, demos.transitions()):
        result = imitax.train("bc", "CartPole-v1", given, config=TINY_BC, num_seeds=2)
        obs = np.random.default_rng(2).normal(size=(32, 4))
        np.testing.assert_array_equal(result.policy(1)(obs), by_id.policy(1)(obs))
    # Transitions carry no random reference: it is measured when evaluating
    assert result.references.random is None and result.references.expert == pytest.approx(500.0)
    assert result.evaluate(episodes=2).normalized_scores.shape == (2,)


def test_load_reads_command_line_runs(trained, tmp_path):
    runs = tmp_path / "runs"
    common = ["--runs-dir", str(runs), "--json", "--no-progress"]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["train", "bc", "CartPole-v1", "--demos", "cartpole/expert-v0", "--bc.num-steps", "50",
                     "--bc.log-every", "25", "--bc.batch-size", "32", "--bc.hidden-sizes", "16", "--bc.eval-episodes",
                     "0", "--num-seeds", "2", "--eval-episodes", "3", *common]) == 0
        assert main(["train", "mce-irl", "--grid.size", "3", "3", "--grid.horizon", "6", "--mce-irl.num-steps", "20",
                     "--mce-irl.log-every", "10", *common]) == 0
        assert main(["train", "gail", "CartPole-v1", "--demos", "cartpole/expert-v0", *GAIL_FLAGS, "--num-seeds", "4",
                     "--eval-episodes", "3", *common]) == 0
    bc_out, mce_out, gail_out = (json.loads(line) for line in out.getvalue().strip().splitlines()[-3:])

    bc = imitax.load(bc_out["run_dir"])
    assert bc.method == "bc" and bc.num_seeds == 1 and bc.config == TINY_BC and bc.reward is None
    assert bc.references.expert == 500.0 and bc.compile_s == bc_out["compile_s"]
    assert bc.history["gradient_steps"].tolist() == [[25, 50]]
    # the same config and seed as the Python run: the same policy
    obs = np.random.default_rng(3).normal(size=(32, 4))
    np.testing.assert_array_equal(bc.policy(0)(obs), trained("bc").policy(0)(obs))
    assert bc.evaluate(episodes=3).mean_returns[0] == pytest.approx(bc_out["seed_returns"][0])

    mce = imitax.load(mce_out["run_dir"])
    assert mce.method == "mce-irl" and isinstance(mce.reward, TabularReward)
    python_mce = trained("mce-irl")
    np.testing.assert_allclose(mce.reward.table[0], python_mce.reward.table[0], rtol=1e-6)
    assert mce.evaluate().mean_returns[0] == pytest.approx(mce_out["true_return"], rel=1e-5)

    gail, python_gail = imitax.load(gail_out["run_dir"]), trained("gail")
    assert gail.method == "gail" and gail.config == python_gail.config.resolved(python_gail.spec) and gail.num_seeds == 1
    assert (gail.config.bc_weight, gail.config.disc_steps, gail.config.disc_grad_penalty) == (0.1, 4, 0.1)  # not null
    assert isinstance(gail.reward, LearnedReward) and gail.reward.metadata == python_gail.reward.metadata
    transitions = Transitions(jnp.asarray(obs), jnp.ones(32, jnp.int32), jnp.zeros(32), jnp.asarray(obs[::-1]),
                              jnp.zeros(32, bool), jnp.zeros(32, bool))
    np.testing.assert_allclose(gail.reward(transitions), python_gail.reward(transitions), rtol=1e-6)
    np.testing.assert_array_equal(gail.policy(0)(obs), python_gail.policy(0)(obs))


def test_load_reads_an_expert_run_folder(trained, tmp_path):
    """The files `imitax expert` writes (see commands/expert.py), made here without training an expert."""
    from imitax.io.atomic import to_jsonable
    from imitax.io.policy_checkpoint import save_policy

    ppo, run = trained("ppo"), tmp_path / "expert-CartPole-v1"
    save_policy(run / "checkpoint", ppo.policy_net, ppo.policy_params[1], algorithm="ppo", expert_return=480.0,
                random_return=20.0)
    (run / "config.json").write_text(json.dumps({"env_id": "CartPole-v1", "algo": "auto", "ppo": to_jsonable(ppo.config),
                                                 "options": {"seed": 3, "backend": "gymnasium"}}))
    (run / "result.json").write_text(json.dumps({"command": "expert", "algo": "ppo", "compile_s": 1.5, "train_s": 2.5,
                                                 "reference": {"random": 20.0, "expected": 250.0, "solved": 475.0}}))
    (run / "metrics.jsonl").write_text('{"env_steps": 1024, "episode_return": 20.0}\n'
                                       '{"env_steps": 2048, "episode_return": null}\n')
    loaded = imitax.load(run)
    assert (loaded.method, loaded.config, loaded.seed, loaded.backend) == ("ppo", ppo.config, 3, "gymnasium")
    assert (loaded.references.random, loaded.references.expert) == (20.0, 480.0) and loaded.timing["run_s"] == 2.5
    assert loaded.history["env_steps"].tolist() == [[1024, 2048]] and np.isnan(loaded.history["episode_return"][0, 1])
    obs = np.random.default_rng(4).normal(size=(16, 4))
    np.testing.assert_array_equal(loaded.policy(0)(obs), ppo.policy(1)(obs))
    assert loaded.evaluate(episodes=2).normalized_scores.shape == (1,)


def test_mce_irl_evaluates_exactly_on_changed_dynamics(trained):
    result = trained("mce-irl")
    same = result.evaluate(gridworld(size=(3, 3), horizon=6))
    np.testing.assert_allclose(same.mean_returns, result.evaluate().mean_returns, rtol=1e-6)
    slippery = result.evaluate(gridworld(size=(3, 3), horizon=6, slip=0.5))
    assert slippery.returns.shape == (2, 1) and (slippery.mean_returns < same.mean_returns).all()
    assert slippery.references.expert < result.references.expert  # the slippery MDP's own expert
    with pytest.raises(ConfigError, match="9 states"):
        result.evaluate(gridworld(size=(4, 4)))


def test_readme_example_runs(demos_root, tmp_path, monkeypatch):
    """docs/python_example.py as written, with the tiny config in place of the defaults."""
    real_train = imitax.train

    def tiny_train(method, env, demos=None, **kwargs):
        kwargs.setdefault("config", TINY[method])
        return real_train(method, env, demos, **kwargs)

    monkeypatch.setattr(imitax, "train", tiny_train, raising=False)
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        runpy.run_path(str(ROOT / "docs" / "python_example.py"), run_name="__main__")
    printed = out.getvalue()
    assert "IQM" in printed and "(4, " in printed and "compile_s" in printed
    assert imitax.load(tmp_path / "runs" / "gail-python").num_seeds == 4


def test_readme_shows_the_example_the_tests_run():
    """The README's Python block is docs/python_example.py's code, so what the tests run is what users read."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## The Python API"):]
    block = section[section.index("```python\n") + len("```python\n"):section.index("```\n", section.index("```python") + 9)]
    example = (ROOT / "docs" / "python_example.py").read_text()
    code = example[example.index('"""', 3) + 3:].lstrip("\n")
    assert block == code


# ---------------------------------------------------------------------------- bad input


def test_loading_a_missing_or_foreign_folder_is_a_clear_error(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        imitax.load(tmp_path / "nothing-here")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="not a run folder"):
        imitax.load(tmp_path / "empty")
    (tmp_path / "file").write_text("x")
    with pytest.raises(CheckpointError, match="is a file"):
        imitax.load(tmp_path / "file")


@pytest.mark.parametrize("damage", ["params", "meta", "config", "pickle", "history", "missing-checkpoint"])
def test_loading_a_corrupted_run_names_the_file(trained, tmp_path, damage):
    run = trained("gail").save(tmp_path / "run")
    if damage == "params":
        (run / "seeds" / "1" / "checkpoint" / "params.msgpack").write_bytes(b"\x93garbage")
        expected = "params.msgpack"
    elif damage == "meta":
        (run / "reward" / "meta.json").write_text("{not json")
        expected = "meta.json"
    elif damage == "config":
        (run / "config.json").write_text("[1, 2")
        expected = "config.json"
    elif damage == "pickle":
        (run / "checkpoint" / "params.msgpack").write_bytes(b"\x80\x04\x95" + b"\x00" * 20)
        expected = "pickle"
    elif damage == "history":
        (run / "history" / "params.msgpack").write_bytes(b"")
        expected = "history"
    else:
        import shutil

        shutil.rmtree(run / "checkpoint")
        expected = "checkpoint"
    with pytest.raises(CheckpointError, match=expected):
        imitax.load(run)


def test_bad_arguments_raise_imitax_errors_before_training(trained, demos_root):
    env = imitax.make("CartPole-v1")
    cases = [
        (ConfigError, "unknown method", lambda: imitax.train("gan", env, "cartpole/expert-v0")),
        (ConfigError, "needs demos", lambda: imitax.train("gail", env)),
        (ConfigError, "takes no demos", lambda: imitax.train("ppo", env, "cartpole/expert-v0")),
        (ConfigError, "takes a GAILConfig", lambda: imitax.train("gail", env, "cartpole/expert-v0", config=TINY_BC)),
        (ConfigError, "bc.learning_rate", lambda: imitax.train("bc", env, "cartpole/expert-v0",
                                                                 config=BCConfig(learning_rate=-1.0))),
        (ConfigError, "seed", lambda: imitax.train("bc", env, "cartpole/expert-v0", seed=-1)),
        (ConfigError, "num_seeds", lambda: imitax.train("bc", env, "cartpole/expert-v0", num_seeds=0)),
        (ConfigError, "needs expert", lambda: imitax.train("dagger", env)),
        (ConfigError, "takes no expert", lambda: imitax.train("bc", env, "cartpole/expert-v0", expert=cartpole_expert_jax)),
        (ConfigError, "could not be traced", lambda: imitax.train("dagger", env, expert=lambda key: 0)),
        (ConfigError, "tabular MDP", lambda: imitax.train("mce-irl", env)),
        (ConfigError, "expected an environment id", lambda: imitax.train("bc", 42, "cartpole/expert-v0")),
        (UnknownEnvError, "NoSuchEnv", lambda: imitax.train("bc", "NoSuchEnv-v9", "cartpole/expert-v0")),
        (DatasetError, "cartpole/nothing", lambda: imitax.train("bc", env, "cartpole/nothing-v0")),
        (DatasetError, "another environment", lambda: imitax.train("bc", "Acrobot-v1", "cartpole/expert-v0")),
        (DatasetError, "Transitions.obs", lambda: imitax.train("bc", env, Transitions(
            np.zeros((3, 5)), np.zeros(3, int), np.zeros(3), np.zeros((3, 5)), np.zeros(3, bool), np.zeros(3, bool)))),
        (DatasetError, "Transitions.actions", lambda: imitax.train("bc", env, Transitions(
            np.zeros((3, 4)), np.full(3, 7), np.zeros(3), np.zeros((3, 4)), np.zeros(3, bool), np.zeros(3, bool)))),
        (DatasetError, "expected a Minari dataset id", lambda: imitax.train("bc", env, [1, 2, 3])),
    ]
    for error, match, call in cases:
        with pytest.raises(error, match=match):
            call()
    result = trained("bc")
    with pytest.raises(SpaceError, match=r"expected one observation \[4\]"):
        result.policy(0)(np.zeros(5))
    with pytest.raises(SpaceError, match="not numeric"):
        result.policy(0)("left")
    with pytest.raises(ConfigError, match="has 2 seeds"):
        result.policy(seed=2)
    with pytest.raises(ConfigError, match="same spaces"):
        result.evaluate("Acrobot-v1", episodes=2)
    with pytest.raises(ConfigError, match="episodes"):
        result.evaluate(episodes=0)


def test_saving_over_an_existing_folder_is_refused_unless_asked(trained, tmp_path):
    result = trained("bc")
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    with pytest.raises(OutputError, match="exists"):
        result.save(tmp_path / "taken")
    with pytest.raises(OutputError, match="not a run folder"):
        result.save(tmp_path / "taken", overwrite=True)
    assert (tmp_path / "taken" / "notes.txt").read_text() == "mine"
    first = result.save(tmp_path / "run")
    assert result.save(first, overwrite=True) == first and imitax.load(first).num_seeds == 2
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging folder left behind
    assert all(isinstance(error, type) and issubclass(error, ImitaxError)
               for error in (CheckpointError, ConfigError, DatasetError, OutputError, SpaceError))
