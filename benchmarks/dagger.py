"""Compounding-error benchmark: BC from few demonstrations against DAgger, per expert label.

Setting (default Pendulum-v1): a PPO expert (default settings, seed 0) is the labeller;
every (state, expert action) pair costs one label, and a Pendulum episode is 200 labels.

- BC from k expert episodes, k = 1..`--bc-episodes`: DAgger's own loop with beta = 1 in
  every round, so the expert drives every step and round k retrains BC from scratch on
  exactly k expert episodes (each seed draws its own episodes). Same network, optimiser
  and number of gradient steps (`bc.num_steps`, whatever the data's size) as DAgger's
  retraining, so the only difference between the curves is who chose the visited states. `train_bc` on one episode per seed is run as a cross-check.
- DAgger, one episode per round, retrained from scratch each round on the aggregate:
  "linear-1" (round 0: the expert drives, i.e. BC's one-episode start; afterwards the
  learner alone drives and the expert only labels) and "exponential-0.5" (beta = 0.5^r).

Every point is the deterministic learner's mean return over 100 episodes, normalised
(random = 0, expert = 1), for `--seeds` seeds: the mean and a 95% bootstrap CI.
Writes benchmarks/results/dagger.json and dagger.png.

    python benchmarks/dagger.py [--env Pendulum-v1] [--seeds 5] [--rounds 10] [--bc-episodes 20]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import jax
import numpy as np

import imitax
from imitax.algos.bc import BCConfig, train_bc
from imitax.algos.dagger import DAggerConfig, DAggerResult, train_dagger
from imitax.data.rollout import collect_episodes
from imitax.data.types import flatten_trajectories
from imitax.eval import evaluate, evaluate_policy, normalized_score, random_policy, seed_statistics
from imitax.io.atomic import atomic_write_bytes, atomic_write_json
from imitax.rl.loop import seed_slice
from imitax.rl.ppo import PPOConfig
from imitax.rl.train import train_ppo

TARGET = 0.95
LABEL_BUDGET_FACTOR = 10


def curve(result: DAggerResult, random_score: float, expert_score: float, skip_untrained: bool = True) -> list[dict]:
    """One point per history entry: expert labels and normalised scores over seeds."""
    labels = result.history["expert_labels"]  # [num_seeds, entries]
    scores = normalized_score(result.history["episode_return"], random_score, expert_score)
    points = []
    for entry in range(labels.shape[1]):
        if skip_untrained and labels[:, entry].max() == 0:
            continue  # the untrained network before any data
        stats = seed_statistics(scores[:, entry].tolist())
        points.append({"round": entry, "expert_labels": float(labels[:, entry].mean()),
                       "beta": float(result.history["beta"][0, entry]), **stats.to_dict(), "min": float(scores[:, entry].min())})
    return points


def first_reaching(points: list[dict], target: float, key: str = "mean") -> float | None:
    return next((p["expert_labels"] for p in points if p[key] >= target), None)


def plot(path: Path, curves: dict[str, list[dict]], few_demo_labels: float, title: str) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7.5, 4.6), dpi=110, layout="constrained")
    canvas = FigureCanvasAgg(figure)
    axis = figure.subplots()
    colors = {"bc": "tab:red", "dagger linear-1": "tab:blue", "dagger exponential-0.5": "tab:green"}
    legend = {"bc": "BC on k expert episodes (expert drives)",
              "dagger linear-1": "DAgger, beta 1 then 0 (learner drives)",
              "dagger exponential-0.5": "DAgger, beta = 0.5^round"}
    for name, points in curves.items():
        x = np.array([p["expert_labels"] for p in points])
        mean = np.array([p["mean"] for p in points])
        low, high = np.array([p["ci95"][0] for p in points]), np.array([p["ci95"][1] for p in points])
        axis.plot(x, mean, marker="o", markersize=3.5, color=colors.get(name), label=legend.get(name, name))
        axis.fill_between(x, low, high, color=colors.get(name), alpha=0.18, linewidth=0)
    axis.axhline(1.0, color="tab:gray", linestyle="--", linewidth=1, label="expert")
    axis.axhline(TARGET, color="black", linestyle=":", linewidth=1, label=f"{TARGET} target")
    axis.axvline(LABEL_BUDGET_FACTOR * few_demo_labels, color="tab:purple", linestyle="-.", linewidth=1,
                 label=f"{LABEL_BUDGET_FACTOR}x BC's one-episode labels")
    axis.set_xscale("log")
    axis.set_xlabel("expert labels (state, expert action pairs)")
    axis.set_ylabel("normalised return (random 0, expert 1)")
    axis.set_title(title)
    axis.grid(True, which="both", alpha=0.3)
    axis.legend(loc="lower right", fontsize=8)
    canvas.draw()
    import io

    buffer = io.BytesIO()
    canvas.print_png(buffer)
    atomic_write_bytes(path, buffer.getvalue())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="Pendulum-v1")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=10, help="DAgger rounds (one episode each)")
    parser.add_argument("--bc-episodes", type=int, default=20, help="largest BC dataset, in expert episodes")
    parser.add_argument("--eval-episodes", type=int, default=100)
    parser.add_argument("--output", type=Path, default=Path("benchmarks/results/dagger.json"))
    parser.add_argument("--replot", action="store_true", help="redraw the PNG from an existing JSON, train nothing")
    args = parser.parse_args()
    if args.replot:
        saved = json.loads(args.output.read_text())
        plot(args.output.with_suffix(".png"), saved["curves"], saved["summary"]["few_demo_bc"]["expert_labels"],
             f"{saved['env_id']}: BC vs DAgger, {saved['seeds']} seeds (mean, 95% CI)")
        return

    env = imitax.make(args.env)
    start = time.perf_counter()
    expert = train_ppo(env, PPOConfig.for_env(args.env), seed=0)
    expert_train_s = time.perf_counter() - start
    expert_params = seed_slice(expert.state, 0).policy_params

    def expert_fn(key, obs):  # one observation -> one action, deterministic
        return expert.ppo.policy.act(expert_params, key, obs, deterministic=True)

    def batched_expert(key, obs):
        return jax.vmap(expert_fn)(jax.random.split(key, obs.shape[0]), obs)

    expert_score = evaluate(env, batched_expert, jax.random.PRNGKey(1), args.eval_episodes).mean
    random_score = evaluate(env, random_policy(env.spec), jax.random.PRNGKey(2), args.eval_episodes).mean
    print(f"{args.env}: expert {expert_score:.1f}, random {random_score:.1f} (expert trained in {expert_train_s:.0f}s)", flush=True)

    settings = {"bc": DAggerConfig(num_rounds=args.bc_episodes, episodes_per_round=1, beta_schedule="constant",
                                   beta_constant=1.0, eval_episodes=args.eval_episodes),
                "dagger linear-1": DAggerConfig(num_rounds=args.rounds, episodes_per_round=1, beta_schedule="linear",
                                                beta_rampdown_rounds=1, eval_episodes=args.eval_episodes),
                "dagger exponential-0.5": DAggerConfig(num_rounds=args.rounds, episodes_per_round=1,
                                                       beta_schedule="exponential", beta_decay=0.5,
                                                       eval_episodes=args.eval_episodes)}
    curves, timings = {}, {}
    for name, config in settings.items():
        result = train_dagger(env, expert_fn, config, seed=0, num_seeds=args.seeds)
        curves[name] = curve(result, random_score, expert_score)
        timings[name] = {"compile_s": result.compile_s, "run_s": result.run_s,
                         "env_steps": result.env_steps, "env_steps_per_s": result.env_steps / result.run_s}
        print(f"{name} ({result.run_s:.0f}s + {result.compile_s:.0f}s compile)", flush=True)
        for p in curves[name]:
            print(f"  {p['expert_labels']:7.0f} labels  {p['mean']:6.3f} (95% CI {p['ci95'][0]:6.3f}..{p['ci95'][1]:6.3f}, "
                  f"min {p['min']:6.3f})", flush=True)

    # cross-check: the plain BC trainer on one expert episode per seed
    one_episode_bc = []
    for seed in range(args.seeds):
        demos = flatten_trajectories(collect_episodes(env, batched_expert, jax.random.PRNGKey(1000 + seed), 1))
        bc = train_bc(demos, env.spec, BCConfig(eval_episodes=0), seed=seed)
        ev = evaluate_policy(env, bc.bc.policy, seed_slice(bc.params, 0), jax.random.PRNGKey(2000 + seed), args.eval_episodes)
        one_episode_bc.append(float(normalized_score(ev.mean, random_score, expert_score)))
    train_bc_check = {"demo_transitions": len(demos), **seed_statistics(one_episode_bc).to_dict()}
    print(f"train_bc on one expert episode per seed: {train_bc_check['mean']:.3f} (values {np.round(one_episode_bc, 3).tolist()})")

    few_demo = curves["bc"][0]
    budget = LABEL_BUDGET_FACTOR * few_demo["expert_labels"]
    summary = {
        "few_demo_bc": {"expert_labels": few_demo["expert_labels"], "mean": few_demo["mean"], "ci95": few_demo["ci95"]},
        "label_budget": budget,
        "labels_to_reach_target_mean": {name: first_reaching(points, TARGET) for name, points in curves.items()},
        "labels_to_reach_target_every_seed": {name: first_reaching(points, TARGET, "min") for name, points in curves.items()},
    }
    dagger_labels = summary["labels_to_reach_target_mean"]["dagger linear-1"]
    summary["dagger_within_budget"] = dagger_labels is not None and dagger_labels <= budget
    summary["bc_few_demo_falls_short"] = few_demo["ci95"][1] < TARGET
    results = {"env_id": args.env, "seeds": args.seeds, "eval_episodes": args.eval_episodes, "target": TARGET,
               "expert_return": expert_score, "random_return": random_score, "expert_train_s": expert_train_s,
               "curves": curves, "timings": timings, "train_bc_one_episode": train_bc_check, "summary": summary,
               "settings": {name: {"num_rounds": c.num_rounds, "episodes_per_round": c.episodes_per_round,
                                   "beta_schedule": c.beta_schedule, "beta_rampdown_rounds": c.beta_rampdown_rounds,
                                   "beta_decay": c.beta_decay, "beta_constant": c.beta_constant,
                                   "warm_start": c.warm_start, "bc_num_steps": c.bc.num_steps,
                                   "bc_hidden_sizes": list(c.bc.hidden_sizes)} for name, c in settings.items()}}
    atomic_write_json(args.output, results)
    png = args.output.with_suffix(".png")
    plot(png, curves, few_demo["expert_labels"],
         f"{args.env}: BC vs DAgger, {args.seeds} seeds (mean, 95% CI)")
    print(f"BC from one episode ({few_demo['expert_labels']:.0f} labels): {few_demo['mean']:.3f}; target {TARGET} reached "
          f"(mean over seeds) at: " + ", ".join(f"{n} {v if v is None else int(v)}" for n, v in
                                                summary["labels_to_reach_target_mean"].items())
          + f"; budget {budget:.0f} labels")
    print(f"wrote {args.output} and {png}")


if __name__ == "__main__":
    main()
