"""Speed benchmark: `python benchmarks/speed.py [--ppo-steps N ...]` (same as `imitax bench`).

Writes benchmarks/results/speed.json; see imitax/commands/bench.py for what is measured.
"""

import sys

from imitax.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
