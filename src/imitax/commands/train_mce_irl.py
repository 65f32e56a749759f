"""`imitax train mce-irl`: maximum causal entropy IRL on a gridworld or a random MDP.

The expert is the optimal (or soft-optimal) policy under the MDP's true reward; the
learner sees its exact state visitation (`--num-demos 0`) or `--num-demos` sampled
episodes per seed, never the reward. The run folder holds config.json, metrics,
reward/ (the learned reward, msgpack + JSON), reward_heatmap.png (gridworlds), curve.png,
result.json and summary.md.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated, Any, Literal

import jax
import jax.numpy as jnp
import numpy as np
import tyro

from imitax.algos.mce_irl import (ExpertKind, MCEIRLConfig, MCEIRLResult, References, empirical_visitation, expert_policy,
                                  sample_demonstrations, train_mce_irl)
from imitax.commands.common import RunFolderOptions, emit, holds_run_lock, start_run, training, write_result
from imitax.commands.resources import check_memory, tabular
from imitax.commands.wall_time import phase
from imitax.envs.tabular import GridworldConfig, RandomMDPConfig, TabularMDP
from imitax.errors import ConfigError
from imitax.io.checkpoint import save_checkpoint
from imitax.io.plots import plot_learning_curve, plot_reward_heatmaps
from imitax.io.run_dir import write_summary
from imitax.rl.loop import seed_slice
from imitax.rl.tabular import state_visitation

CURVE_METRICS = ["normalized_return", "occupancy_gap", "expert_nll"]


@dataclasses.dataclass
class TrainMCEIRLArgs:
    """MCE IRL on a tabular MDP, from the expert's exact state visitation or sampled demonstrations."""

    mdp: Literal["gridworld", "random"] = "gridworld"
    """gridworld (options --grid.*) or random (options --random.*)"""
    grid: GridworldConfig = GridworldConfig()
    random: RandomMDPConfig = RandomMDPConfig()
    expert: ExpertKind = "optimal"
    """the expert: optimal (hard value iteration) or soft (soft-optimal) under the true reward"""
    num_demos: int = 0
    """expert episodes sampled per seed (0: the expert's exact state visitation)"""
    num_seeds: int = 1
    """independent runs trained at once (vmapped); each samples its own demonstrations"""
    mce_irl: MCEIRLConfig = MCEIRLConfig()
    options: Annotated[RunFolderOptions, tyro.conf.OmitArgPrefixes] = RunFolderOptions()

    def mdp_size(self) -> tuple[int, int, int]:
        """(states, actions, horizon) of the MDP `build_mdp` would build, without building it."""
        if self.mdp == "random":
            return self.random.num_states, self.random.num_actions, self.random.horizon
        rows, cols = (len(self.grid.layout), max(map(len, self.grid.layout))) if self.grid.layout else (self.grid.size or (8, 8))
        return rows * cols, 5, self.grid.horizon or 2 * (rows + cols)

    def build_mdp(self) -> TabularMDP:
        return self.grid.build() if self.mdp == "gridworld" else self.random.build()


def expert_visitations(mdp: TabularMDP, expert: jnp.ndarray, num_demos: int, num_seeds: int, seed: int,
                       discount: float) -> jnp.ndarray:
    """f32[num_seeds, S]: the exact visitation for every seed, or each seed's empirical one
    from its own `num_demos` sampled episodes."""
    if num_demos == 0:
        return jnp.broadcast_to(state_visitation(mdp, expert, discount), (num_seeds, mdp.num_states))
    keys = jax.random.split(jax.random.PRNGKey(seed + 30_000), num_seeds)
    demos = jax.vmap(lambda key: sample_demonstrations(mdp, expert, key, num_demos))(keys)
    return jax.vmap(lambda d: empirical_visitation(d, mdp.num_states, discount))(demos)


@holds_run_lock
def run_mce_irl(args: TrainMCEIRLArgs) -> dict[str, Any]:
    config = args.mce_irl.validate()
    if args.num_demos < 0:
        raise ConfigError(f"--num-demos must be >= 0 (0: exact expert visitation); got {args.num_demos}")
    if args.num_seeds < 1:
        raise ConfigError(f"--num-seeds must be > 0; got {args.num_seeds}")
    check_memory(tabular(*args.mdp_size(), args.num_seeds))
    mdp = args.build_mdp()
    expert = expert_policy(mdp, args.expert)
    references = References.of(mdp, expert)
    visitations = expert_visitations(mdp, expert, args.num_demos, args.num_seeds, args.options.seed, config.discount)

    run_dir = start_run(args.options, "mce-irl", args.mdp, args)
    title = f"MCE IRL ({config.reward_model} reward) on {args.mdp}"
    with training(run_dir, args.options, title, config.num_steps, config.log_every, "steps") as (mon, checkpoint):
        result = train_mce_irl(mdp, visitations, config, seed=args.options.seed, num_seeds=args.num_seeds,
                               references=references, on_chunk=mon, checkpoint=checkpoint)

    with phase("save"):
        save_checkpoint(run_dir / "reward", {"reward_params": seed_slice(result.reward_params, 0),
                                             "learned_reward": result.learned_reward[0]},
                        {"kind": "tabular-reward", "algorithm": "mce-irl",
                         "reward_model": result.algo.reward_model.to_dict(), "mdp": mdp.describe(),
                         "discount": config.discount})
    files = ["config.json", "metrics.csv", "metrics.jsonl", "reward/", "curve.png", "result.json"]
    with phase("plot"):
        if mdp.layout is not None:
            plot_reward_heatmaps(run_dir / "reward_heatmap.png",
                                 {"true reward": mdp.on_grid(mdp.true_reward),
                                  "learned reward (seed 0)": mdp.on_grid(result.learned_reward[0])},
                                 f"{title}: true vs learned reward", layout=mdp.layout)
            files.append("reward_heatmap.png")
        plot_learning_curve(run_dir / "curve.png", mon.rows, x="steps", ys=CURVE_METRICS, title=title,
                            hlines={"expert": 1.0, "random": 0.0})

    out = _result(args, mdp, result)
    _write_summary(run_dir, title, out, files)
    out = write_result(run_dir, out)
    seeds = ", ".join(f"{s:.3f}" for s in out["seed_normalized_returns"])
    source = "exact expert visitation" if args.num_demos == 0 else f"{args.num_demos} demonstrations per seed"
    emit(out, args.options.json, [
        f"{title} from {source}: the policy optimal under the learned reward earns {out['return_ratio']:.3f} of the "
        f"expert's true return ({out['true_return']:.2f} vs {references.expert_return:.2f}, random "
        f"{references.random_return:.2f}); normalised {out['normalized_return']:.3f} [per seed: {seeds}]",
        f"saved {run_dir}",
    ])
    return out


def _result(args: TrainMCEIRLArgs, mdp: TabularMDP, result: MCEIRLResult) -> dict[str, Any]:
    final = result.final

    def per_seed(name: str) -> list[float]:
        return [float(x) for x in np.asarray(final[name])]

    return {
        "command": "train mce-irl", "mdp": args.mdp, **mdp.describe(), "expert": args.expert,
        "num_demos": args.num_demos, "reward_model": args.mce_irl.reward_model,
        "return_ratio": float(np.mean(final["return_ratio"])),
        "normalized_return": float(np.mean(final["normalized_return"])),
        "true_return": float(np.mean(final["true_return"])),
        "occupancy_gap": float(np.mean(final["occupancy_gap"])),
        "reward_correlation": float(np.mean(final["reward_correlation"])),
        "seed_return_ratios": per_seed("return_ratio"), "seed_normalized_returns": per_seed("normalized_return"),
        "reference": {"expert": result.references.expert_return, "random": result.references.random_return},
        "optimizer_steps": args.mce_irl.num_steps, "compile_s": result.compile_s, "train_s": result.run_s,
        "steps_per_s": result.steps_per_s,
    }


def _write_summary(run_dir: Path, title: str, out: dict[str, Any], files: list[str]) -> None:
    headline = {k: v for k, v in out.items() if not isinstance(v, (dict, list))}
    write_summary(run_dir, title, {
        "Result": headline,
        "Reference true returns (exact)": out["reference"],
        "Per seed": [{"seed": i, "return ratio": round(r, 4), "normalised": round(n, 4)}
                     for i, (r, n) in enumerate(zip(out["seed_return_ratios"], out["seed_normalized_returns"]))],
        "How to read": "return ratio: the exact expected true return of the policy that is optimal under the learned "
                       "reward, divided by the expert's; normalised: the same with the uniform random policy at 0 and "
                       "the expert at 1; occupancy gap: total-variation distance between the learner's soft-optimal "
                       "and the expert's normalised state visitation.",
        "Files": ", ".join(files),
    })
