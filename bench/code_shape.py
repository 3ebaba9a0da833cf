"""The code's shape: function lengths (median, p90, max) and radon's cyclomatic complexity.

`python -m bench.code_shape` prints the figures; `--check` also fails (exit 1) when a function is over the
limits of issue 12 — complexity over MAX_COMPLEXITY, length over MAX_LINES, median over MAX_MEDIAN, p90 over
MAX_P90 — unless it is listed in KNOWN (none today). `make lint` and `make test` run the check.
"""

import ast
import statistics
import sys
from pathlib import Path

from radon.complexity import cc_visit

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("app.py", "cli.py", "api", "config", "console", "models", "ops", "schedules", "workflow")
MAX_COMPLEXITY = 10
MAX_LINES = 40
MAX_MEDIAN = 8
MAX_P90 = 25
# "path::function": why it may stay over a limit for now. Empty: every function is within them.
KNOWN: dict[str, str] = {}


def files() -> list[Path]:
    found = []
    for name in SOURCES:
        path = ROOT / name
        found += [path] if path.is_file() else sorted(path.rglob("*.py"))
    return found


def lengths(path: Path) -> dict[str, int]:
    """{qualified name: lines from `def` to its last line} of every function and method of a file."""
    found: dict[str, int] = {}

    def walk(node, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                found[prefix + child.name] = child.end_lineno - child.lineno + 1
                walk(child, f"{prefix}{child.name}.")
            elif isinstance(child, ast.ClassDef):
                walk(child, f"{prefix}{child.name}.")

    walk(ast.parse(path.read_text()), "")
    return found


def complexities(path: Path) -> dict[str, int]:
    """{qualified name: radon's cyclomatic complexity} of every function and method of a file."""
    found = {}
    for block in cc_visit(path.read_text()):
        for method in getattr(block, "methods", []):
            found[f"{block.name}.{method.name}"] = method.complexity
        if not hasattr(block, "methods"):
            found[block.fullname] = block.complexity
    return found


def measure() -> tuple[dict[str, int], dict[str, int]]:
    sizes, branches = {}, {}
    for path in files():
        name = path.relative_to(ROOT).as_posix()
        sizes |= {f"{name}::{function}": n for function, n in lengths(path).items()}
        branches |= {f"{name}::{function}": n for function, n in complexities(path).items()}
    return sizes, branches


def percentile(values: list[int], fraction: float) -> int:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def problems(sizes: dict[str, int], branches: dict[str, int]) -> list[str]:
    """What is over a limit, KNOWN exceptions left out."""
    found = [f"{name}: complexity {n} > {MAX_COMPLEXITY}" for name, n in sorted(branches.items())
             if n > MAX_COMPLEXITY and name not in KNOWN]
    found += [f"{name}: {n} lines > {MAX_LINES}" for name, n in sorted(sizes.items())
              if n > MAX_LINES and name not in KNOWN]
    values = list(sizes.values())
    if statistics.median(values) > MAX_MEDIAN:
        found.append(f"median function length {statistics.median(values)} > {MAX_MEDIAN}")
    if percentile(values, 0.9) > MAX_P90:
        found.append(f"p90 function length {percentile(values, 0.9)} > {MAX_P90}")
    return found


def report(sizes: dict[str, int], branches: dict[str, int]) -> str:
    values, cc = list(sizes.values()), list(branches.values())
    longest = max(sizes, key=sizes.get)
    tangled = max(branches, key=branches.get)
    return (f"{len(values)} functions in {len(files())} files: lines median {statistics.median(values)}, "
            f"p90 {percentile(values, 0.9)}, max {sizes[longest]} ({longest}); complexity median "
            f"{statistics.median(cc)}, p90 {percentile(cc, 0.9)}, max {branches[tangled]} ({tangled}); "
            f"over {MAX_COMPLEXITY}: {sum(n > MAX_COMPLEXITY for n in cc)}, known exceptions: {len(KNOWN)}")


def main(argv: list[str]) -> int:
    sizes, branches = measure()
    print(report(sizes, branches))
    if "--check" not in argv:
        return 0
    found = problems(sizes, branches)
    for line in found:
        print(f"  {line}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
