"""What surveying a typed formula costs (view, minima, start), the work a user waits
for after typing a surface. Prints the median and the maximum over repeats.

    python3 bench/bench_formula.py [repeats]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from shared import median_max, timings  # noqa: E402

from optviz.expr import parse  # noqa: E402
from optviz.formula import analyze  # noqa: E402

FORMULAS = ("(1-x)^2 + 100*(y-x^2)^2", "(x^2+y-11)^2 + (x+y^2-7)^2", "sin(3*x)*cos(3*y) + 0.1*(x^2+y^2)")


def main(repeats: int = 7) -> None:
    for text in FORMULAS:
        e = parse(text)
        median, most = median_max(timings(lambda e=e: analyze(e), repeats))
        print(f"{text:40s} median {1e3 * median:6.1f} ms  max {1e3 * most:6.1f} ms")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))
