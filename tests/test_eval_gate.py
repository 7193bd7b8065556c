"""The eval gate (eval/gate.py): it reads the figures `python -m bot eval` prints and fails a
set whose figure is below its floor, or that has no floor at all."""

from __future__ import annotations

import importlib.util
import sys
import tomllib
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("eval_gate", PROJECT / "eval" / "gate.py")
assert _spec and _spec.loader
gate = importlib.util.module_from_spec(_spec)
sys.modules["eval_gate"] = gate
_spec.loader.exec_module(gate)

REPORT = """questions: 160 (160 in scope, 0 out of scope), threshold 34
top-1 (best answer right):       0.81

lesson shown first fits (right story, lesson-labelled): 0.90 n=130
  short             n= 25  lesson-first=0.88

top1=0.81 top3=0.84 oos_reject=n/a lang=1.00 n=160
"""


def test_the_figures_of_a_report_are_read() -> None:
    # A set with no out-of-scope question prints "n/a" for their rejection: not a figure.
    assert gate.figures(REPORT) == {"top1": 0.81, "lesson_first": 0.90}
    both = REPORT.replace("oos_reject=n/a", "oos_reject=0.95")
    assert gate.figures(both) == {"top1": 0.81, "oos_reject": 0.95, "lesson_first": 0.90}
    assert "lesson_first" not in gate.figures(REPORT.replace("lesson shown first", "x"))


def test_a_figure_below_its_floor_fails_and_one_at_it_passes() -> None:
    measured = gate.figures(REPORT)
    assert gate.check("dev.yaml", {"top1": 0.81, "lesson_first": 0.9}, measured) == []
    [problem] = gate.check("dev.yaml", {"top1": 0.85}, measured)
    assert problem == "dev.yaml: top1 0.81 is below its floor 0.85"
    assert gate.check("dev.yaml", {"top1": 0.8}, {}) == ["dev.yaml: the eval report shows no top1"]


def test_every_set_in_eval_has_a_floor() -> None:
    floors = tomllib.loads(gate.FLOORS.read_text(encoding="utf-8"))
    sets = {p.name for p in gate.EVAL_DIR.glob("*.yaml")}
    assert sets == set(floors)
    assert all(set(f) <= set(gate.FIGURES) and f for f in floors.values())
