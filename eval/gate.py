"""The eval gate: every labelled set in eval/ must score at least its floor (eval/floors.toml).

Why a gate beside the unit tests: whether real questions find their story measures the
content (the stories' triggers, the word tables, the threshold), not whether the code does
what it says. Unit tests assert behaviour on small made-up bases; this gate runs the same
`python -m bot eval FILE` a content author runs, on every set, and fails CI (exit 1) when a
figure falls below its floor, naming the set and the figure. Run it with `make eval`.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

EVAL_DIR = Path(__file__).resolve().parent
PROJECT = EVAL_DIR.parent
FLOORS = EVAL_DIR / "floors.toml"
FIGURES = ("top1", "oos_reject", "lesson_first")
# The report's summary line ("top1=0.91 top3=0.95 oos_reject=n/a lang=1.00 n=160"): a rate
# with no items is "n/a", which counts as not shown.
_SUMMARY = re.compile(r"^top1=.*$", re.M)
_PAIR = re.compile(r"(?P<name>top1|oos_reject)=(?P<value>[\d.]+)(?=\s|$)")
_LESSON = re.compile(r"^lesson shown first fits \([^)]*\): (?P<lesson_first>[\d.]+) ", re.M)


def figures(report: str) -> dict[str, float]:
    """The figures of one `eval` report: its summary line, and the lesson line when present."""
    found: dict[str, float] = {}
    summary = _SUMMARY.search(report)
    if summary:
        for pair in _PAIR.finditer(summary.group(0)):
            found[pair["name"]] = float(pair["value"])
    lesson = _LESSON.search(report)
    if lesson:
        found["lesson_first"] = float(lesson["lesson_first"])
    return found


def check(name: str, floors: dict[str, float], measured: dict[str, float]) -> list[str]:
    """What falls short in one set: a figure below its floor, or one the report lacks."""
    problems = []
    for figure, floor in floors.items():
        if figure not in FIGURES:
            problems.append(f"{name}: unknown figure {figure!r} in {FLOORS.name}")
        elif figure not in measured:
            problems.append(f"{name}: the eval report shows no {figure}")
        elif measured[figure] < floor:
            problems.append(
                f"{name}: {figure} {measured[figure]:.2f} is below its floor {floor:.2f}"
            )
    return problems


def run(set_path: Path) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "eval", str(set_path)],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"{set_path.name}: eval exited {result.returncode}: {result.stderr}")
    return result.stdout


def main() -> int:
    floors: dict[str, dict[str, float]] = tomllib.loads(FLOORS.read_text(encoding="utf-8"))
    sets = sorted(p.name for p in EVAL_DIR.glob("*.yaml"))
    problems = [f"{name}: no floor in {FLOORS.name}" for name in sets if name not in floors]
    problems += [
        f"{name}: in {FLOORS.name} but not in eval/" for name in floors if name not in sets
    ]
    for name in sets:
        if name not in floors:
            continue
        try:
            measured = figures(run(EVAL_DIR / name))
        except RuntimeError as exc:
            problems.append(str(exc))
            continue
        shown = " ".join(
            f"{f}={measured[f]:.2f}>={floors[name][f]:.2f}" for f in floors[name] if f in measured
        )
        print(f"{name}: {shown}")
        problems += check(name, floors[name], measured)
    for problem in problems:
        print(f"FAIL {problem}")
    print(f"eval gate: {len(sets)} sets, {len(problems)} below their floor or missing")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
