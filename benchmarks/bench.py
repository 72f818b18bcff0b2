"""rnnkit against PyTorch, side by side: `python benchmarks/bench.py [--quick | --tiny] [--markdown FILE]`.

The logic lives in rnnkit.bench (also `rnnkit bench`); see its docstring.
"""

import sys

from rnnkit.bench import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
