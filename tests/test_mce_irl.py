"""MCE IRL: exact planning against brute force, gridworld construction and validation,
learning thresholds (exact visitation and sampled demonstrations), and the CLI."""

import contextlib
import io
import itertools
import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from imitax.algos.mce_irl import (MCEIRL, MCEIRLConfig, References, empirical_visitation, expert_policy,
                                  sample_demonstrations, train_mce_irl)
from imitax.cli import main
from imitax.envs.tabular import DEFAULT_LAYOUT, gridworld, random_mdp, tabular_mdp
from imitax.errors import ConfigError
from imitax.io.checkpoint import load_checkpoint
from imitax.rl.tabular import (expected_return, soft_value_iteration, state_action_visitation, state_distributions,
                               state_visitation, uniform_policy, value_iteration)


@pytest.fixture(scope="module")
def tiny():
    """3 states, 2 actions, horizon 3: small enough to enumerate every trajectory and policy."""
    return random_mdp(num_states=3, num_actions=2, branching=2, num_features=2, horizon=3, seed=1)


def _trajectory_returns(mdp, policy):
    """Exact expected return by enumerating every (s_0, a_0, ..., s_{H-1}, a_{H-1})."""
    P, p0, r = (np.asarray(x, np.float64) for x in (mdp.transitions, mdp.initial_dist, mdp.true_reward))
    policy = np.asarray(policy, np.float64)
    total = 0.0
    steps = [range(mdp.num_states), range(mdp.num_actions)] * mdp.horizon
    for path in itertools.product(*steps):
        states, actions = path[0::2], path[1::2]
        prob = p0[states[0]]
        for t in range(mdp.horizon):
            prob *= policy[t, states[t], actions[t]]
            if t + 1 < mdp.horizon:
                prob *= P[states[t], actions[t], states[t + 1]]
        total += prob * sum(r[s] for s in states)
    return total


def test_soft_value_iteration_matches_numpy_reference(tiny):
    P, r = np.asarray(tiny.transitions, np.float64), np.asarray(tiny.true_reward, np.float64)
    value = np.zeros(tiny.num_states)
    expected_policy = []
    for _ in range(tiny.horizon):
        q = r[:, None] + 0.9 * P @ value
        value = np.log(np.exp(q).sum(axis=1))
        expected_policy.insert(0, np.exp(q - value[:, None]))
    policy, values = soft_value_iteration(tiny, tiny.true_reward, discount=0.9)
    np.testing.assert_allclose(policy, np.stack(expected_policy), atol=1e-5)
    np.testing.assert_allclose(values[0], value, rtol=1e-5)


def test_forward_pass_and_value_iteration_match_brute_force(tiny):
    soft = soft_value_iteration(tiny, tiny.true_reward)[0]
    assert float(expected_return(tiny, soft, tiny.true_reward)) == pytest.approx(_trajectory_returns(tiny, soft), abs=1e-4)
    optimal, values = value_iteration(tiny, tiny.true_reward)
    best = float(tiny.initial_dist @ values[0])
    assert float(expected_return(tiny, optimal, tiny.true_reward)) == pytest.approx(best, abs=1e-4)
    # no deterministic time-dependent policy (2^9 of them) does better
    choices = itertools.product(range(tiny.num_actions), repeat=tiny.horizon * tiny.num_states)
    policies = jax.nn.one_hot(jnp.array(list(choices)).reshape(-1, tiny.horizon, tiny.num_states), tiny.num_actions)
    all_returns = jax.vmap(lambda p: expected_return(tiny, p, tiny.true_reward))(policies)
    assert float(all_returns.max()) == pytest.approx(best, abs=1e-4)


def test_occupancy_sums_to_horizon():
    mdp = gridworld()
    policy = soft_value_iteration(mdp, mdp.true_reward)[0]
    np.testing.assert_allclose(state_distributions(mdp, policy).sum(axis=1), 1.0, atol=1e-5)
    assert float(state_visitation(mdp, policy).sum()) == pytest.approx(mdp.horizon, rel=1e-5)
    assert float(state_visitation(mdp, policy, 0.9).sum()) == pytest.approx((1 - 0.9**mdp.horizon) / 0.1, rel=1e-5)
    np.testing.assert_allclose(state_action_visitation(mdp, policy).sum(axis=1), state_visitation(mdp, policy), atol=1e-4)


def test_gradient_is_the_visitation_difference():
    """d/dr of the expert NLL (p0 . V_0 - D_E . r) computed by autodiff through soft VI
    equals D_learner - D_E, the gradient the learner uses."""
    mdp = random_mdp(num_states=12, num_actions=3, branching=3, horizon=6, seed=2)
    expert_visits = state_visitation(mdp, expert_policy(mdp))
    reward = jax.random.normal(jax.random.PRNGKey(0), (mdp.num_states,))

    def nll(r):
        return mdp.initial_dist @ soft_value_iteration(mdp, r)[1][0] - expert_visits @ r

    learner_visits = state_visitation(mdp, soft_value_iteration(mdp, reward)[0])
    np.testing.assert_allclose(jax.grad(nll)(reward), learner_visits - expert_visits, atol=1e-4)


def test_gridworld_dynamics():
    mdp = gridworld(layout=("S.", "#G"), slip=0.1, horizon=4)
    assert mdp.num_states == 3 and mdp.num_actions == 5 and mdp.cells == [(0, 0), (0, 1), (1, 1)]
    np.testing.assert_allclose(mdp.transitions.sum(axis=2), 1.0, atol=1e-6)
    right, up = 3, 0
    assert float(mdp.transitions[0, right, 1]) == pytest.approx(0.9 + 0.1 / 5)  # intended move, or a slip that moves right
    assert float(mdp.transitions[0, up, 0]) == pytest.approx(0.9 + 0.1 * 4 / 5)  # off the grid: stays, as 4 of 5 slips do
    np.testing.assert_allclose(mdp.initial_dist, [1, 0, 0])
    np.testing.assert_allclose(mdp.true_reward, [0, 0, 1])
    grid = mdp.on_grid(mdp.true_reward)
    assert np.isnan(grid[1, 0]) and grid[1, 1] == 1.0
    assert gridworld(size=(3, 4)).num_states == 12
    assert float(gridworld(random_start=True).initial_dist.max()) == pytest.approx(1 / 50)


@pytest.mark.parametrize("kwargs, message", [
    ({"slip": 1.0}, "slip must be in"),
    ({"walls": [(0, 0)]}, "on the start cell"),
    ({"walls": [(8, 0)]}, "outside the 8x8 grid"),
    ({"layout": ("S.", "...")}, "same, non-zero length"),
    ({"layout": ("S?",)}, "unknown character '\\?' at row 0, column 1"),
    ({"layout": ("##",)}, "no free cell"),
    ({"layout": ("S.",), "size": (2, 2)}, "not both"),
    ({"horizon": 0}, "horizon must be an integer >= 1"),
    ({"reward": "dense"}, "reward must be 'map' or 'random'"),
])
def test_gridworld_validation(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        gridworld(**kwargs)


def test_tabular_mdp_validation():
    transitions = np.full((2, 1, 2), 0.5)
    with pytest.raises(ConfigError, match=r"transitions\[s, a, :\] must sum to 1"):
        tabular_mdp(transitions * 1.5, [1, 0], 3, [0, 1])
    with pytest.raises(ConfigError, match="initial_dist must sum to 1"):
        tabular_mdp(transitions, [0.5, 0.2], 3, [0, 1])
    with pytest.raises(ConfigError, match="true_reward must have shape"):
        tabular_mdp(transitions, [1, 0], 3, [0, 1, 2])
    with pytest.raises(ConfigError, match="branching"):
        random_mdp(num_states=3, branching=4)
    with pytest.raises(ConfigError, match="multiple of mce_irl.log_every"):
        MCEIRLConfig(num_steps=30).validate()


def test_learns_from_exact_visitation_linear_and_mlp():
    mdp = gridworld()
    visits = state_visitation(mdp, expert_policy(mdp))
    for config in (MCEIRLConfig(num_steps=200, log_every=50),
                   MCEIRLConfig(reward_model="mlp", learning_rate=0.01, num_steps=200, log_every=50)):
        result = train_mce_irl(mdp, visits, config, seed=0, num_seeds=2)
        final = result.final
        assert final["return_ratio"].min() >= 0.95, (config.reward_model, final)
        assert final["occupancy_gap"].max() < 0.05, (config.reward_model, final)
        assert result.history["occupancy_gap"][0, -1] < result.history["occupancy_gap"][0, 0]
        assert result.learned_reward.shape == (2, mdp.num_states)
        assert result.soft_policy.shape == (2, mdp.horizon, mdp.num_states, 5)


def test_random_mdp_exact_visitation():
    mdp = random_mdp(seed=3)
    result = train_mce_irl(mdp, state_visitation(mdp, expert_policy(mdp)), MCEIRLConfig(num_steps=300, log_every=100))
    assert float(result.final["normalized_return"][0]) >= 0.95


def test_sampled_demonstrations():
    mdp = gridworld(random_start=True)
    expert = expert_policy(mdp)
    demos = sample_demonstrations(mdp, expert, jax.random.PRNGKey(0), 2000)
    assert demos.states.shape == (2000, mdp.horizon) and demos.actions.dtype == jnp.int32
    exact = state_visitation(mdp, expert)
    assert float(jnp.abs(empirical_visitation(demos, mdp.num_states) - exact).sum() / mdp.horizon) < 0.05
    # disjoint slices: 50 demonstrations per seed (3 seeds), then 1 per seed (3 seeds); one program trains all six
    slices = [(50 * i, 50 * (i + 1)) for i in range(3)] + [(150 + i, 151 + i) for i in range(3)]
    visits = [empirical_visitation(jax.tree.map(lambda x, a=a, b=b: x[a:b], demos), mdp.num_states) for a, b in slices]
    result = train_mce_irl(mdp, jnp.stack(visits), MCEIRLConfig(num_steps=300, log_every=100), num_seeds=6)
    scores = result.final["normalized_return"]
    assert scores[:3].min() >= 0.9, scores
    assert scores[:3].mean() > scores[3:].mean(), scores


def test_references_and_soft_expert():
    mdp = gridworld()
    optimal, soft = References.of(mdp, expert_policy(mdp)), References.of(mdp, expert_policy(mdp, "soft"))
    assert optimal.random_return == pytest.approx(float(expected_return(mdp, uniform_policy(mdp), mdp.true_reward)))
    assert optimal.random_return < soft.expert_return < optimal.expert_return
    with pytest.raises(ConfigError, match="equals the random policy's"):
        train_mce_irl(gridworld(reward="map", goal_reward=0.0, pit_reward=0.0), jnp.ones(50), MCEIRLConfig())
    metrics = MCEIRL(MCEIRLConfig()).evaluate({"theta": mdp.true_reward}, mdp, optimal)
    assert float(metrics["return_ratio"]) == pytest.approx(1.0, abs=1e-5)


def _run_cli(args):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(args)
    return code, out.getvalue(), err.getvalue()


def test_cli_run_folder_and_json(tmp_path):
    code, out, _ = _run_cli(["train", "mce-irl", "--num-demos", "20", "--num-seeds", "2", "--mce-irl.num-steps", "100",
                             "--runs-dir", str(tmp_path), "--name", "grid", "--json", "--no-progress"])
    assert code == 0
    result = json.loads(out.strip().splitlines()[-1])
    run_dir = Path(result["run_dir"])
    assert run_dir == tmp_path / "grid"
    for file in ("config.json", "metrics.csv", "metrics.jsonl", "curve.png", "reward_heatmap.png", "result.json",
                 "summary.md", "reward/params.msgpack", "reward/meta.json"):
        assert (run_dir / file).exists(), file
    assert result["num_demos"] == 20 and len(result["seed_normalized_returns"]) == 2
    assert result["normalized_return"] > 0.8
    params, meta = load_checkpoint(run_dir / "reward")
    assert meta["kind"] == "tabular-reward" and meta["mdp"]["layout"] == list(DEFAULT_LAYOUT)
    assert params["learned_reward"].shape == (50,)
    assert json.loads((run_dir / "config.json").read_text())["mce_irl"]["num_steps"] == 100
    assert len((run_dir / "metrics.jsonl").read_text().splitlines()) == 4
    # resuming the finished run restores its saved end state: same reward, no duplicated metric rows
    metrics, reward = (run_dir / "metrics.jsonl").read_text(), (run_dir / "reward" / "params.msgpack").read_bytes()
    code, out, _ = _run_cli(["train", "mce-irl", "--resume", str(run_dir), "--json", "--no-progress"])
    assert code == 0 and json.loads(out.strip().splitlines()[-1])["normalized_return"] == result["normalized_return"]
    assert (run_dir / "metrics.jsonl").read_text() == metrics
    assert (run_dir / "reward" / "params.msgpack").read_bytes() == reward


def test_cli_random_mdp_text_output(tmp_path):
    code, out, _ = _run_cli(["train", "mce-irl", "--mdp", "random", "--random.num-states", "20", "--mce-irl.num-steps",
                             "100", "--runs-dir", str(tmp_path), "--no-progress"])
    assert code == 0 and "of the expert's true return" in out
    run_dir = Path(out.strip().splitlines()[-1].removeprefix("saved "))
    assert (run_dir / "result.json").exists() and not (run_dir / "reward_heatmap.png").exists()


@pytest.mark.parametrize("args, message", [
    (["--grid.slip", "1.5"], "slip must be in [0, 1); got 1.5"),
    (["--grid.walls", "0", "0"], "wall (0, 0) is on the start cell"),
    (["--num-demos", "-1"], "--num-demos must be >= 0"),
])
def test_cli_bad_input_exits_2_with_one_line(tmp_path, args, message):
    code, out, err = _run_cli(["train", "mce-irl", *args, "--runs-dir", str(tmp_path), "--no-progress"])
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and message in err
    assert not any(tmp_path.iterdir())
