"""`imitax expert ENV`: train a PPO or SAC expert, save its policy, and say whether it is one.

An expert that does not beat a random policy by a clear margin (see `expected_return`) is
still saved (the run folder is there to inspect), but the command ends with one line on
stderr and exit status 2 unless `--allow-weak-expert`; one that beats random clearly but
stays below the environment's solved level gets a one-line warning.
"""

from __future__ import annotations

import dataclasses
import sys
from typing import Annotated, Any

import gymnasium as gym
import tyro

from imitax.commands.common import (RunOptions, emit, evaluate_seeds, finish_run, holds_run_lock, keep_rollout_video, make_env,
                                    random_return, start_run, training, with_seed_axis)
from imitax.commands.resources import check_memory, estimate
from imitax.commands.wall_time import phase
from imitax.errors import ConfigError, ImitaxError
from imitax.io.policy_checkpoint import save_policy
from imitax.rl.loop import seed_slice
from imitax.rl.off_policy import train_sac
from imitax.rl.ppo import PPOConfig
from imitax.rl.sac import SACConfig
from imitax.rl.train import train_ppo

EXPERT_ALGOS = ("auto", "ppo", "sac")

CLEAR_MARGIN = 0.5
"""An expert must cover this fraction of the way from random to the solved level (or, without
one, beat random by this fraction of |random|, at least 1)."""


class WeakExpertError(ImitaxError):
    """The trained expert does not beat a random policy by a clear margin (the run is saved)."""


@dataclasses.dataclass
class ExpertArgs:
    """Train an expert with PPO or SAC on the environment's reward."""

    env_id: Annotated[str, tyro.conf.Positional, tyro.conf.arg(metavar="ENV_ID")]
    """environment id, e.g. CartPole-v1"""
    algo: str = "auto"
    """ppo | sac | auto (SAC for Gymnasium MuJoCo tasks with Box actions, else PPO)"""
    ppo: PPOConfig = PPOConfig()
    sac: SACConfig = SACConfig()
    allow_weak_expert: bool = False
    """exit 0 even if the expert does not beat random by a clear margin (it is saved either way)"""
    options: Annotated[RunOptions, tyro.conf.OmitArgPrefixes] = RunOptions()

    @classmethod
    def defaults(cls, env_id: str) -> ExpertArgs:
        return cls(env_id, ppo=PPOConfig.for_env(env_id), sac=SACConfig.for_env(env_id))

    def resolved_algo(self, env: Any) -> str:
        """`algo`, with "auto" resolved for the environment."""
        if self.algo not in EXPERT_ALGOS:
            raise ConfigError(f"unknown expert algorithm {self.algo!r}; expected one of {', '.join(EXPERT_ALGOS)}")
        if self.algo != "auto":
            return self.algo
        return "sac" if is_mujoco(self.env_id) and not env.spec.discrete else "ppo"


def is_mujoco(env_id: str) -> bool:
    """Whether a registered Gymnasium id is one of the MuJoCo tasks."""
    spec = gym.registry.get(env_id.rpartition(":")[2])
    entry = getattr(spec, "entry_point", None)
    return isinstance(entry, str) and entry.startswith("gymnasium.envs.mujoco")


def solved_level(env_id: str) -> float | None:
    """The return at which the task counts as solved (Gymnasium's `reward_threshold`), if it has one."""
    spec = gym.registry.get(env_id.rpartition(":")[2])
    threshold = getattr(spec, "reward_threshold", None)
    return None if threshold is None else float(threshold)


def expected_return(random_score: float, solved: float | None) -> float:
    """The least mean return that beats `random_score` by a clear margin: `CLEAR_MARGIN` of the
    way to the solved level when there is one above random, else random + CLEAR_MARGIN * max(|random|, 1)."""
    if solved is not None and solved > random_score:
        return random_score + CLEAR_MARGIN * (solved - random_score)
    return random_score + CLEAR_MARGIN * max(abs(random_score), 1.0)


@holds_run_lock
def run_expert(args: ExpertArgs) -> dict[str, Any]:
    """Train, evaluate and save; raises WeakExpertError after saving when the expert is weak."""
    opts = args.options
    env = make_env(args.env_id, opts.backend)
    algo = args.resolved_algo(env)
    config = args.sac if algo == "sac" else args.ppo
    config.validate()
    check_memory(estimate(config, env.spec))
    if algo == "sac":
        total, per_iteration = config.num_iterations * config.steps_per_iteration, config.steps_per_iteration
    else:
        total, per_iteration = config.num_updates * config.batch_size, config.batch_size
    run_dir = start_run(opts, "expert", args.env_id, args)
    with training(run_dir, opts, f"{algo.upper()} {args.env_id}", total, per_iteration, "env_steps") as (mon, checkpoint):
        trainer = train_sac if algo == "sac" else train_ppo
        result = trainer(env, config, seed=opts.seed, on_chunk=mon, checkpoint=checkpoint)
    policy = result.sac.policy if algo == "sac" else result.ppo.policy
    params = seed_slice(result.state, 0).policy_params
    evaluation = evaluate_seeds(env, policy, with_seed_axis(params), 1, opts.eval_episodes, opts.seed)[0]
    random_score = random_return(env, opts.eval_episodes, opts.seed)
    with phase("save"):
        save_policy(run_dir / "checkpoint", policy, params, algorithm=algo, expert_return=evaluation.mean,
                    random_return=random_score)
    keep_rollout_video(run_dir, opts, args.env_id, policy, params)
    solved = solved_level(args.env_id)
    expected = expected_return(random_score, solved)
    out = {
        "command": "expert", "env_id": args.env_id, "backend": opts.backend, "algo": algo,
        "mean_return": evaluation.mean, "std_return": evaluation.std, "eval_episodes": opts.eval_episodes,
        "reference": {"random": random_score, "expected": expected, "solved": solved},
        "beats_random": evaluation.mean >= expected, "solved": None if solved is None else evaluation.mean >= solved,
        "env_steps": result.env_steps, "compile_s": result.compile_s, "train_s": result.run_s,
        "env_steps_per_s": result.env_steps / max(result.run_s, 1e-9),
    }
    out = finish_run(run_dir, f"{algo.upper()} expert on {args.env_id}", mon.rows, "env_steps",
                     ["episode_return", "value_loss", "critic_loss", "entropy"],
                     out, hlines={"random": random_score, **({} if solved is None else {"solved": solved})})
    emit(out, opts.json, [
        f"expert {args.env_id}: mean return {evaluation.mean:.1f} ± {evaluation.std:.1f} over {opts.eval_episodes} episodes "
        f"(random {random_score:.1f}{'' if solved is None else f', solved {solved:g}'}); "
        f"{result.env_steps:,} env steps in {result.run_s:.1f}s + {result.compile_s:.1f}s compile",
        f"saved {run_dir}",
    ])
    verdict = _verdict(args, algo, evaluation.mean, random_score, expected, solved, str(run_dir))
    if not out["beats_random"] and not args.allow_weak_expert:
        raise WeakExpertError(verdict)
    if verdict:
        print(f"imitax expert: warning: {verdict}", file=sys.stderr)
    return out


def _verdict(args: ExpertArgs, algo: str, reached: float, random_score: float, expected: float, solved: float | None,
             run_dir: str) -> str:
    """One line saying how the expert falls short ('' when it reached the solved level, or beat
    random clearly on a task without one)."""
    config = args.sac if algo == "sac" else args.ppo
    budget = f"more --{algo}.total-steps (now {config.total_steps:,}) may get there; the run is saved in {run_dir}"
    if reached < expected:
        target = (f"{CLEAR_MARGIN:.0%} of the way to the solved level {solved:g}" if solved is not None and solved > random_score
                  else f"random + {CLEAR_MARGIN:.0%} of max(|random|, 1)")
        return (f"the {args.env_id} expert does not beat random by a clear margin: mean return {reached:.1f}, "
                f"random {random_score:.1f}, expected at least {expected:.1f} ({target}); {budget}")
    if solved is not None and reached < solved:
        return (f"the {args.env_id} expert beats random ({random_score:.1f}) but its mean return {reached:.1f} is below "
                f"the solved level {solved:g}; {budget}")
    return ""
