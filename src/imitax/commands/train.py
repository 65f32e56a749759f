"""`imitax train bc|gail|airl|sqil|dac|iq-learn ENV --demos ID`: imitation from a Minari dataset."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Annotated, Any

import jax
import tyro

from imitax.algos.airl import AIRLConfig, train_airl
from imitax.algos.bc import BCConfig, train_bc
from imitax.algos.dac import DACConfig, train_dac
from imitax.algos.gail import GAILConfig, episode_context, train_gail
from imitax.algos.iq_learn import IQLearnConfig, train_iq_learn
from imitax.algos.sqil import SQILConfig, train_sqil
from imitax.commands.common import (RunOptions, emit, evaluate_seeds, finish_run, holds_run_lock, keep_rollout_video, make_env,
                                   random_return, score_table, start_run, training, with_seed_axis)
from imitax.commands.resources import check_memory, estimate
from imitax.commands.wall_time import phase
from imitax.data.episode_context import context_warning
from imitax.data.minari_io import Demonstrations, load_demonstrations
from imitax.envs.jax_env import JaxEnv
from imitax.errors import ConfigError
from imitax.eval import check_references
from imitax.io.checkpoint import save_checkpoint
from imitax.nets.discriminator import check_ignore_obs
from imitax.io.policy_checkpoint import save_policy
from imitax.io.result_file import read_result_file
from imitax.io.reward_checkpoint import load_reward
from imitax.rl.loop import seed_slice
from imitax.rl.ppo import PPOConfig
from imitax.rl.train import train_ppo


@dataclasses.dataclass
class ImitationArgs:
    """What every `imitax train` command takes; subclasses add their algorithm's config."""

    env_id: Annotated[str, tyro.conf.Positional, tyro.conf.arg(metavar="ENV_ID")]
    demos: str
    """Minari dataset id or folder"""
    num_seeds: int = 1
    """independent seeds trained at once (vmapped on JAX envs)"""
    options: Annotated[RunOptions, tyro.conf.OmitArgPrefixes] = RunOptions()


@dataclasses.dataclass
class TrainBCArgs(ImitationArgs):
    """Behavioral cloning from demonstrations."""

    bc: BCConfig = BCConfig()

    @classmethod
    def defaults(cls, env_id: str) -> TrainBCArgs:
        return cls(env_id, demos=tyro.MISSING)  # type: ignore[arg-type]


@dataclasses.dataclass
class TrainGAILArgs(ImitationArgs):
    """GAIL: adversarial imitation (a PPO generator; --gail.generator sac is DAC)."""

    gail: GAILConfig = GAILConfig()

    @classmethod
    def defaults(cls, env_id: str) -> TrainGAILArgs:
        return cls(env_id, demos=tyro.MISSING, gail=GAILConfig.for_env(env_id))  # type: ignore[arg-type]


@dataclasses.dataclass
class TrainAIRLArgs(ImitationArgs):
    """AIRL: adversarial inverse RL (a transferable reward) with a PPO or SAC generator."""

    airl: AIRLConfig = AIRLConfig()

    @classmethod
    def defaults(cls, env_id: str) -> TrainAIRLArgs:
        return cls(env_id, demos=tyro.MISSING, airl=AIRLConfig.for_env(env_id))  # type: ignore[arg-type]


@dataclasses.dataclass
class TrainSQILArgs(ImitationArgs):
    """SQIL: soft actor-critic with reward 1 on expert transitions and 0 on the agent's."""

    sqil: SQILConfig = SQILConfig()

    @classmethod
    def defaults(cls, env_id: str) -> TrainSQILArgs:
        return cls(env_id, demos=tyro.MISSING, sqil=SQILConfig.for_env(env_id))  # type: ignore[arg-type]


@dataclasses.dataclass
class TrainDACArgs(ImitationArgs):
    """DAC: off-policy adversarial imitation (GAIL with the SAC generator: replay, one discriminator step per env step)."""

    dac: DACConfig = DACConfig()

    @classmethod
    def defaults(cls, env_id: str) -> TrainDACArgs:
        return cls(env_id, demos=tyro.MISSING, dac=DACConfig.for_env(env_id))  # type: ignore[arg-type]


@dataclasses.dataclass
class TrainIQLearnArgs(ImitationArgs):
    """IQ-Learn: inverse soft-Q learning (online, or offline from the demonstrations alone)."""

    iq_learn: IQLearnConfig = IQLearnConfig()

    @classmethod
    def defaults(cls, env_id: str) -> TrainIQLearnArgs:
        return cls(env_id, demos=tyro.MISSING, iq_learn=IQLearnConfig.for_env(env_id))  # type: ignore[arg-type]


@dataclasses.dataclass
class TrainRLArgs:
    """PPO from scratch on a learned reward alone (a gail, airl, dac or iq-learn run's reward/)."""

    env_id: Annotated[str, tyro.conf.Positional, tyro.conf.arg(metavar="ENV_ID")]
    reward: Path
    """run folder (or its reward/ checkpoint) whose learned reward replaces the environment's"""
    ppo: PPOConfig = PPOConfig()
    options: Annotated[RunOptions, tyro.conf.OmitArgPrefixes] = RunOptions()

    @classmethod
    def defaults(cls, env_id: str) -> TrainRLArgs:
        # A learned reward's scale is arbitrary; PPO's tuned settings assume the environment's.
        ppo = PPOConfig.for_env(env_id, normalize_rewards=True)
        return cls(env_id, reward=tyro.MISSING, ppo=ppo)  # type: ignore[arg-type]


@holds_run_lock
def run_rl(args: TrainRLArgs) -> dict[str, Any]:
    """Train PPO on the learned reward; report the environment's true return."""
    opts = args.options
    args.ppo.validate()
    env = make_env(args.env_id, opts.backend)
    reward_fn, reward_spec, meta = load_reward(args.reward)
    if (reward_spec.obs_dim, reward_spec.action_space) != (env.spec.obs_dim, env.spec.action_space):
        raise ConfigError(f"{args.reward}: the reward was learned on {reward_spec.env_id} (obs {reward_spec.obs_dim}, "
                          f"{reward_spec.action_space}); expected one for {env.spec.env_id}")
    check_memory(estimate(args.ppo, env.spec))
    reference = _reward_run_reference(Path(args.reward)) or {"random": random_return(env, opts.eval_episodes, opts.seed),
                                                             "expert": float("nan")}
    run_dir = start_run(opts, "rl", args.env_id, args)
    with training(run_dir, opts, f"PPO on learned reward {args.env_id}", args.ppo.num_updates * args.ppo.batch_size,
                  args.ppo.batch_size, "env_steps") as (mon, checkpoint):
        result = train_ppo(env, args.ppo, seed=opts.seed, reward_fn=reward_fn, on_chunk=mon, checkpoint=checkpoint)
    policy = result.ppo.policy
    params = seed_slice(result.state, 0).policy_params
    evaluations = evaluate_seeds(env, policy, with_seed_axis(params), 1, opts.eval_episodes, opts.seed)
    with phase("save"):
        save_policy(run_dir / "checkpoint", policy, params, algorithm=f"ppo-on-{meta['algorithm']}-reward", reward=str(args.reward))
    keep_rollout_video(run_dir, opts, args.env_id, policy, params)
    out = {"command": "train rl", "env_id": args.env_id, "backend": opts.backend, "reward": str(args.reward),
           "reward_algorithm": meta["algorithm"], **score_table(evaluations, reference["random"], reference["expert"]),
           "env_steps": result.env_steps, "compile_s": result.compile_s, "train_s": result.run_s}
    return _finish(run_dir, f"PPO on {meta['algorithm'].upper()} reward", args.env_id, mon.rows, "env_steps", out, opts.json)


def _reward_run_reference(reward_path: Path) -> dict[str, float] | None:
    """The reference scores recorded by the gail/airl run that learned the reward."""
    for folder in (reward_path, reward_path.parent):
        result = read_result_file(folder)
        if result.exists:
            return result.reference
    return None


def load_for(args: ImitationArgs) -> tuple[Any, Demonstrations, float, float]:
    """The environment, the validated demonstrations and the reference scores (random, expert)."""
    if args.num_seeds <= 0:
        raise ConfigError(f"--num-seeds must be > 0, got {args.num_seeds}")
    env = make_env(args.env_id, args.options.backend)
    with phase("load"):
        demos = load_demonstrations(args.demos, spec=env.spec)
    expert_score = demos.expert_reference
    random_score = demos.random_score if demos.random_score is not None else \
        random_return(env, args.options.eval_episodes, args.options.seed)
    try:  # before training, not after it: the scores could not be normalised
        check_references(random_score, expert_score)
    except ConfigError as error:
        raise ConfigError(f"{args.demos}: {error}") from None
    check_memory(estimate(args, env.spec, args.num_seeds, demos.num_transitions))
    return env, demos, random_score, expert_score


@holds_run_lock
def run_bc(args: TrainBCArgs) -> dict[str, Any]:
    opts = args.options
    args.bc.validate().num_log_points()
    env, demos, random_score, expert_score = load_for(args)
    run_dir = start_run(opts, "bc", args.env_id, args)
    with training(run_dir, opts, f"BC {args.env_id}", args.bc.num_steps, args.bc.log_every, "gradient_steps") as (mon, checkpoint):
        result = train_bc(demos.transitions(), env.spec, args.bc, seed=opts.seed, num_seeds=args.num_seeds,
                          eval_env=env if isinstance(env, JaxEnv) else None, on_chunk=mon, checkpoint=checkpoint)
    policy = result.bc.policy
    evaluations = evaluate_seeds(env, policy, result.params, args.num_seeds, opts.eval_episodes, opts.seed)
    with phase("save"):
        save_policy(run_dir / "checkpoint", policy, seed_slice(result.params, 0), algorithm="bc", dataset=args.demos)
    keep_rollout_video(run_dir, opts, args.env_id, policy, seed_slice(result.params, 0))
    out = {"command": "train bc", "env_id": args.env_id, "backend": opts.backend, "demos": args.demos,
           "demo_transitions": demos.num_transitions, **score_table(evaluations, random_score, expert_score),
           "gradient_steps": result.gradient_steps, "compile_s": result.compile_s, "train_s": result.run_s}
    return _finish(run_dir, "BC", args.env_id, mon.rows, "gradient_steps", out, opts.json)


def run_gail(args: TrainGAILArgs) -> dict[str, Any]:
    return _run_from_demos(args, args.gail, "GAIL", train_gail)


def run_airl(args: TrainAIRLArgs) -> dict[str, Any]:
    return _run_from_demos(args, args.airl, "AIRL", train_airl)


def run_sqil(args: TrainSQILArgs) -> dict[str, Any]:
    return _run_from_demos(args, args.sqil, "SQIL", train_sqil)


def run_dac(args: TrainDACArgs) -> dict[str, Any]:
    return _run_from_demos(args, args.dac, "DAC", train_dac)


def run_iq_learn(args: TrainIQLearnArgs) -> dict[str, Any]:
    return _run_from_demos(args, args.iq_learn, "IQ-Learn", train_iq_learn)


@holds_run_lock
def _run_from_demos(args: ImitationArgs, config: GAILConfig | AIRLConfig | SQILConfig | DACConfig | IQLearnConfig,
                     algo_name: str, trainer: Any) -> dict[str, Any]:
    """GAIL, AIRL and DAC (a PPO or SAC generator), SQIL and IQ-Learn (SAC): train, evaluate,
    save the policy and, where the method learns one, the reward."""
    opts = args.options
    config.validate()
    env, demos, random_score, expert_score = load_for(args)
    has_option = isinstance(config, (GAILConfig, AIRLConfig))  # GAIL, DAC and AIRL can hide features
    if has_option and config.disc_ignore_obs is not None:  # feature indices fit this env's observations
        check_ignore_obs(config.disc_ignore_obs, env.spec.obs_dim, f"{algo_name.lower()}.disc_ignore_obs")
    resolved = config.resolved(env.spec) if hasattr(config, "resolved") else config
    with phase("load"):
        resolved, context, hidden = episode_context(resolved, env, demos.trajectories, opts.seed)
    hide = f"--{algo_name.lower()}.disc-ignore-obs" if has_option else None
    warning = context_warning(context, len(demos.trajectories), hide, hidden=hidden) if context else None
    args, config = _with_config(args, config, resolved), resolved
    run_dir = start_run(opts, algo_name.lower(), args.env_id, args)
    if warning is not None:  # once nothing else can refuse the command: an error stays its only line
        print(f"imitax train {algo_name.lower()}: warning: {warning}", file=sys.stderr)
    unit = "env_steps"
    if getattr(config, "offline", False):
        total, per_iteration, unit = config.gradient_steps, config.sac.gradient_steps, "gradient_steps"
    elif getattr(config, "generator", "sac") == "sac":
        total, per_iteration = config.sac.num_iterations * config.sac.steps_per_iteration, config.sac.steps_per_iteration
    else:
        total, per_iteration = config.ppo.num_updates * config.ppo.batch_size, config.ppo.batch_size
    with training(run_dir, opts, f"{algo_name} {args.env_id}", total * args.num_seeds, per_iteration * args.num_seeds,
                  unit) as (mon, checkpoint):
        result = trainer(env, demos.transitions(), config=config, seed=opts.seed, num_seeds=args.num_seeds, on_chunk=mon,
                         checkpoint=checkpoint)
    policy = result.algo.policy
    policy_params = jax.vmap(result.algo.policy_params)(result.state)
    evaluations = evaluate_seeds(env, policy, policy_params, args.num_seeds, opts.eval_episodes, opts.seed)
    with phase("save"):
        save_policy(run_dir / "checkpoint", policy, seed_slice(policy_params, 0), algorithm=algo_name.lower(),
                    dataset=args.demos)
        if hasattr(result.algo, "saved_reward"):
            params, reward_meta = result.algo.saved_reward(result.state)
            save_checkpoint(run_dir / "reward", seed_slice(params, 0),
                            {"kind": "reward", "algorithm": algo_name.lower(), "env_spec": env.spec.to_dict(), **reward_meta})
    keep_rollout_video(run_dir, opts, args.env_id, policy, seed_slice(policy_params, 0))
    steps = result.env_steps * args.num_seeds
    out = {"command": f"train {algo_name.lower()}", "env_id": args.env_id, "backend": opts.backend, "demos": args.demos,
           "demo_transitions": demos.num_transitions, **score_table(evaluations, random_score, expert_score),
           "env_steps": steps, "compile_s": result.compile_s, "train_s": result.run_s,
           "env_steps_per_s": steps / max(result.run_s, 1e-9)}
    if unit == "gradient_steps":
        out["gradient_steps"] = result.gradient_steps * args.num_seeds
    if warning is not None:
        out["warnings"] = [warning]
    return _finish(run_dir, algo_name, args.env_id, mon.rows, unit, out, opts.json)


def _with_config(args: ImitationArgs, old: Any, new: Any) -> ImitationArgs:
    """`args` with its method config `old` replaced by `new`: the config with its run-time
    defaults (None, "auto") resolved, so config.json records what the run trains with (a
    resume keeps it though a default changes)."""
    name = next(field.name for field in dataclasses.fields(args) if getattr(args, field.name) is old)
    return dataclasses.replace(args, **{name: new})


def _finish(run_dir: Any, algo: str, env_id: str, rows: list[dict[str, Any]], x: str, out: dict[str, Any], as_json: bool) -> dict[str, Any]:
    ref = out["reference"]
    out = finish_run(run_dir, f"{algo} on {env_id}", rows, x,
                     ["episode_return", "disc_loss", "critic_loss", "loss", "disc_expert_accuracy", "disc_agent_accuracy"],
                     out, hlines={"expert": ref["expert"], "random": ref["random"]})
    seeds = ", ".join(f"{s:.3f}" for s in out["seed_normalized_scores"])
    emit(out, as_json, [
        f"{algo} {env_id}: mean return {out['mean_return']:.1f} (expert {ref['expert']:.1f}, random {ref['random']:.1f}), "
        f"normalised score {out['normalized_score']:.3f} [per seed: {seeds}]",
        f"saved {run_dir}",
    ])
    return out
