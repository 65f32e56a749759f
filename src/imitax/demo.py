"""`make demo`: the main job on CartPole-v1, end to end, in about a minute.

Trains a PPO expert, collects 10 demonstrations into a local Minari dataset, trains BC
and GAIL on them, and prints a table of returns, normalised scores and wall times.
"""

from __future__ import annotations

import sys
import time
from dataclasses import replace
from pathlib import Path

from rich.console import Console
from rich.table import Table

from imitax.commands.collect import CollectArgs, run_collect
from imitax.commands.common import RunOptions
from imitax.commands.expert import ExpertArgs, run_expert
from imitax.commands.train import TrainBCArgs, TrainGAILArgs, run_bc, run_gail
from imitax.errors import ImitaxError

ENV_ID = "CartPole-v1"
DATASET_ID = "cartpole/imitax-demo-v0"


def main(runs_dir: Path = Path("runs"), env_id: str = ENV_ID) -> dict[str, dict]:
    console = Console()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    timings: dict[str, float] = {}

    def timed(label: str, fn, args):  # noqa: ANN001, ANN202
        start = time.perf_counter()
        result = fn(args)
        timings[label] = time.perf_counter() - start
        return result

    console.rule(f"[bold]imitax demo: {env_id}")
    def run_options(command: str) -> RunOptions:
        return RunOptions(runs_dir=runs_dir, name=f"{command}-{env_id}-demo-{stamp}")

    expert = timed("expert", run_expert, replace(ExpertArgs.defaults(env_id), options=run_options("expert")))
    collected = timed("collect", run_collect, CollectArgs(env_id, episodes=10, expert=Path(expert["run_dir"]),
                                                          dataset_id=DATASET_ID, overwrite=True, runs_dir=runs_dir))
    bc = timed("bc", run_bc, TrainBCArgs(env_id, DATASET_ID, options=run_options("bc")))
    gail = timed("gail", run_gail, replace(TrainGAILArgs.defaults(env_id), demos=DATASET_ID, options=run_options("gail")))

    expert_score, random_score = collected["expert_score"], collected["random_score"]
    table = Table(title=f"imitation on {env_id} from 10 expert episodes ({collected['transitions']} transitions)")
    for column in ("policy", "mean return", "normalised score", "wall time"):
        table.add_column(column, justify="left" if column == "policy" else "right")
    table.add_row("expert (PPO)", f"{expert_score:.1f}", "1.000", f"{timings['expert']:.1f}s")
    table.add_row("random", f"{random_score:.1f}", "0.000", "")
    table.add_row("BC", f"{bc['mean_return']:.1f}", f"{bc['normalized_score']:.3f}", f"{timings['bc']:.1f}s")
    table.add_row("GAIL", f"{gail['mean_return']:.1f}", f"{gail['normalized_score']:.3f}", f"{timings['gail']:.1f}s")
    console.print(table)
    for label, result in (("expert", expert), ("BC", bc), ("GAIL", gail)):
        console.print(f"{label:7s} run folder: {result['run_dir']}")
    console.print(f"demonstrations: Minari dataset {DATASET_ID} ({collected['path']}), collected in {timings['collect']:.1f}s")
    console.print(f"next: imitax eval {gail['run_dir']}")
    return {"expert": expert, "collect": collected, "bc": bc, "gail": gail}


if __name__ == "__main__":
    try:
        main()
    except ImitaxError as error:
        print(f"imitax demo: error: {error}", file=sys.stderr)
        sys.exit(2)
