"""`imitax expert ENV`: train a PPO expert and save its policy."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

import tyro

from imitax.commands.common import (RunOptions, emit, evaluate_seeds, finish_run, make_env, random_return, score_table, start_run,
                                   training, with_seed_axis)
from imitax.io.policy_checkpoint import save_policy
from imitax.rl.loop import seed_slice
from imitax.rl.ppo import PPOConfig
from imitax.rl.train import train_ppo


@dataclasses.dataclass
class ExpertArgs:
    """Train an expert with PPO on the environment's reward."""

    env_id: Annotated[str, tyro.conf.Positional, tyro.conf.arg(metavar="ENV_ID")]
    """environment id, e.g. CartPole-v1"""
    ppo: PPOConfig = PPOConfig()
    options: Annotated[RunOptions, tyro.conf.OmitArgPrefixes] = RunOptions()

    @classmethod
    def defaults(cls, env_id: str) -> ExpertArgs:
        return cls(env_id, PPOConfig.for_env(env_id))


def run_expert(args: ExpertArgs) -> dict[str, Any]:
    opts = args.options
    env = make_env(args.env_id, opts.backend)
    args.ppo.validate()
    run_dir = start_run(opts, "expert", args.env_id, args)
    with training(run_dir, opts, f"PPO {args.env_id}", args.ppo.num_updates * args.ppo.batch_size,
                  args.ppo.batch_size, "env_steps") as (mon, checkpoint):
        result = train_ppo(env, args.ppo, seed=opts.seed, on_chunk=mon, checkpoint=checkpoint)
    policy = result.ppo.policy
    params = seed_slice(result.state, 0).policy_params
    evaluation = evaluate_seeds(env, policy, with_seed_axis(params), 1, opts.eval_episodes, opts.seed)[0]
    random_score = random_return(env, opts.eval_episodes, opts.seed)
    save_policy(run_dir / "checkpoint", policy, params, algorithm="ppo", expert_return=evaluation.mean,
                random_return=random_score)
    out = {
        "command": "expert", "env_id": args.env_id, "backend": opts.backend,
        **score_table([evaluation], random_score, evaluation.mean),
        "env_steps": result.env_steps, "compile_s": result.compile_s, "train_s": result.run_s,
        "env_steps_per_s": result.env_steps / max(result.run_s, 1e-9),
    }
    finish_run(run_dir, f"PPO expert on {args.env_id}", mon.rows, "env_steps", ["episode_return", "value_loss", "entropy"],
               out, hlines={"random": random_score})
    emit({**out, "run_dir": str(run_dir)}, opts.json, [
        f"expert {args.env_id}: mean return {evaluation.mean:.1f} ± {evaluation.std:.1f} over {opts.eval_episodes} episodes "
        f"(random {random_score:.1f}); {result.env_steps:,} env steps in {result.run_s:.1f}s + {result.compile_s:.1f}s compile",
        f"saved {run_dir}",
    ])
    return {**out, "run_dir": str(run_dir)}

