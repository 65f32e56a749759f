"""The `imitax` command: expert, collect, train bc|gail|airl|sqil|dac|iq-learn|rl|dagger|mce-irl, sweep, eval, plot, bench.

Each command's options are a typed dataclass read by tyro: the same object is the
Python API's config and the run's saved config.json. Defaults that depend on the
environment (tuned PPO settings) are filled in from the environment id before the
command line is parsed, so `--ppo.learning-rate` still overrides them.

User mistakes (bad id, missing dataset, mismatched data, bad config value) print one
line on stderr and exit with status 2. `--resume RUN` on a training command takes its
defaults from the run's saved config.json. Every command uses JAX's persistent compilation
cache (`imitax.compile_cache`; `IMITAX_COMPILATION_CACHE=off` or a folder) and, on a CPU,
one JAX device per core (`imitax.cpu_devices`).
"""

from __future__ import annotations

import contextlib
import io
import re
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import tyro

from imitax.commands.wall_time import process_started
from imitax.errors import ConfigError, ImitaxError

# The `imitax` program's command (argv from sys.argv, the first in its process) counts its time
# from the process's start; a call from Python (argv given) from the call.
_first_command = True

USAGE = """usage: imitax COMMAND [options]   (imitax COMMAND --help for a command's options)

commands:
  expert ENV [--algo ppo|sac]   train a PPO or SAC expert on ENV and save its policy
  collect ENV --episodes N      roll out the expert into a Minari dataset
  train bc|gail|airl|sqil|dac|iq-learn ENV --demos ID
                                imitate the demonstrations in a Minari dataset
  train rl ENV --reward RUN     PPO from scratch on a gail/airl/dac/iq-learn run's learned reward
  train dagger ENV --expert RUN DAgger: an expert policy labels the states the learner visits
  train mce-irl [--mdp random]  MCE IRL on a tabular MDP (gridworld or random), exact or from sampled demos
  sweep gail|airl|bc|dac|sqil|iq-learn ENV --demos ID --grid FIELD=V1,V2 [--sample FIELD=LOW:HIGH --num-samples N]
                                points x seeds (learning rates vmapped in one program); table, heatmap
  eval RUN [--video out.mp4]    returns and normalised score of a run's policy; --video films it
  plot RUN... [--metric M]      overlay runs' learning curves (IQM over seeds, 95% band) and final scores
  (any training command) --resume RUN
                                continue a killed run from its last saved state
  bench                         speed benchmark (compile, steps/s, rollout ceiling)
"""


def _commands() -> dict[str, tuple[type, Callable[[Any], Any]]]:
    from imitax.commands.bench import BenchArgs, run_bench
    from imitax.commands.collect import CollectArgs, run_collect
    from imitax.commands.evaluate import EvalArgs, run_eval
    from imitax.commands.expert import ExpertArgs, run_expert
    from imitax.commands.plot import PlotArgs, run_plot
    from imitax.commands.train import (TrainAIRLArgs, TrainBCArgs, TrainDACArgs, TrainGAILArgs, TrainIQLearnArgs,
                                       TrainRLArgs, TrainSQILArgs, run_airl, run_bc, run_dac, run_gail, run_iq_learn,
                                       run_rl, run_sqil)
    from imitax.commands.train_dagger import TrainDAggerArgs, run_dagger
    from imitax.commands.sweep import SWEEP_COMMANDS, run_sweep_command
    from imitax.commands.train_mce_irl import TrainMCEIRLArgs, run_mce_irl

    return {
        "expert": (ExpertArgs, run_expert),
        "collect": (CollectArgs, run_collect),
        "train bc": (TrainBCArgs, run_bc),
        "train gail": (TrainGAILArgs, run_gail),
        "train airl": (TrainAIRLArgs, run_airl),
        "train sqil": (TrainSQILArgs, run_sqil),
        "train dac": (TrainDACArgs, run_dac),
        "train iq-learn": (TrainIQLearnArgs, run_iq_learn),
        "train rl": (TrainRLArgs, run_rl),
        "train dagger": (TrainDAggerArgs, run_dagger),
        "train mce-irl": (TrainMCEIRLArgs, run_mce_irl),
        "eval": (EvalArgs, run_eval),
        "plot": (PlotArgs, run_plot),
        "bench": (BenchArgs, run_bench),
        **{name: (args_type, run_sweep_command) for name, (args_type, _) in SWEEP_COMMANDS.items()},
    }


def main(argv: Sequence[str] | None = None) -> int:
    global _first_command
    called = time.perf_counter()
    from_start = argv is None and _first_command
    started, _first_command = (process_started() or called) if from_start else called, False
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0 if args else 2
    name = args.pop(0)
    if name in ("train", "sweep"):
        if not args or args[0].startswith("-"):
            print(USAGE, file=sys.stderr)
            choices = "bc, gail, airl, sqil, dac, iq-learn, dagger, mce-irl or rl" if name == "train" else \
                "gail, airl, bc, dac, sqil or iq-learn"
            print(f"imitax: error: `imitax {name}` needs an algorithm: {choices}", file=sys.stderr)
            return 2
        name = f"{name} {args.pop(0)}"
    from imitax.cpu_devices import use_cpu_cores

    use_cpu_cores()  # before anything can start JAX: a sweep's or --num-seeds' runs split over the cores
    commands = _commands()  # the heavy imports (JAX, flax, ...) on a process's first command
    if name not in commands:
        print(f"imitax: error: unknown command {name!r}; expected one of: {', '.join(commands)}", file=sys.stderr)
        return 2
    config_type, run = commands[name]
    from imitax.commands.common import validate_all
    from imitax.commands.wall_time import command_clock
    from imitax.compile_cache import enable_compilation_cache

    enable_compilation_cache()
    from imitax.io.run_dir import discard_failed_runs

    try:
        with command_clock(started) as clock:
            clock.add("import", time.perf_counter() - started)
            config = _parse(config_type, args, name)
            validate_all(config)  # every config value is checked before anything is loaded or written
            with discard_failed_runs():  # a refused run leaves no half-written run folder
                run(config)
    except ImitaxError as error:
        message = " ".join(str(error).splitlines())
        print(f"imitax {name}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"imitax {name}: interrupted", file=sys.stderr)
        return 130
    return 0


def _parse(config_type: type, args: list[str], name: str) -> Any:
    """The command's config from `args`. tyro's usage errors (a framed box on stderr) become a
    ConfigError, so they print as one line like every other mistake."""
    captured = io.StringIO()
    try:
        with contextlib.redirect_stderr(captured):
            config = tyro.cli(config_type, args=args, prog=f"imitax {name}", default=_defaults(config_type, args))
    except SystemExit as exit:
        if exit.code in (0, None):  # --help
            sys.stderr.write(captured.getvalue())
            raise
        text = " ".join(re.sub(r"[\u2500-\u257f]+", " ", captured.getvalue()).split())  # drop the frame
        raise ConfigError(text or f"invalid arguments {args}; see imitax {name} --help") from None
    sys.stderr.write(captured.getvalue())  # tyro's warnings, if any
    return config


def _defaults(config_type: type, args: list[str]) -> Any:
    """The saved config of the run named by `--resume`, else the environment-specific
    default config when the command takes an env id first."""
    resume = [args[i + 1] for i, arg in enumerate(args[:-1]) if arg == "--resume"] + \
        [arg.split("=", 1)[1] for arg in args if arg.startswith("--resume=")]
    if resume:
        from imitax.commands.common import load_run_config
        return load_run_config(config_type, Path(resume[-1]))
    defaults = getattr(config_type, "defaults", None)
    if defaults is None or not args or args[0].startswith("-"):
        return tyro.MISSING_NONPROP
    return defaults(args[0])


if __name__ == "__main__":
    sys.exit(main())
