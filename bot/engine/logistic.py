"""Logistic regression in plain Python, shared by the models the matcher reads.

Why its own module: the confidence model (bot/engine/confidence.py) and the order of a
story's lessons (bot/engine/lesson_weights.py) are both a handful of named weights fitted on
labelled questions; one fitting routine keeps them fitted the same way. A few features and a
few thousand samples need no numeric library.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


class FitError(ValueError):
    """The labelled samples cannot fit a model (no positive or no negative sample at all)."""


def sigmoid(z: float) -> float:
    """The logistic function, clamped so a far-off score never overflows `math.exp`."""
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


def fit_logistic(
    rows: Sequence[Sequence[float]],
    labels: Sequence[bool],
    l2: float = 1.0,
    *,
    no_positive: str = "no sample is positive",
    no_negative: str = "no sample is negative",
) -> list[float]:
    """Weights by Newton's method, L2-regularised (not the bias): one per feature, then the
    bias. `no_positive` / `no_negative`: the error a caller's user reads when all samples
    have one label (the bias would run off to infinity)."""
    ys = [1.0 if ok else 0.0 for ok in labels]
    if not any(ys):
        raise FitError(no_positive)
    if all(ys):
        raise FitError(no_negative)
    xs = [(*row, 1.0) for row in rows]
    k = len(xs[0])
    w = [0.0] * k
    for _ in range(50):
        grad = [l2 * w[j] if j < k - 1 else 0.0 for j in range(k)]
        hess = [[(l2 if i == j and i < k - 1 else 0.0) for j in range(k)] for i in range(k)]
        for x, y in zip(xs, ys, strict=True):
            p = sigmoid(sum(wj * xj for wj, xj in zip(w, x, strict=True)))
            s = p * (1.0 - p)
            for i in range(k):
                grad[i] += (p - y) * x[i]
                row = hess[i]
                for j in range(i, k):
                    row[j] += s * x[i] * x[j]
        for i in range(k):
            for j in range(i):
                hess[i][j] = hess[j][i]
        step = solve(hess, grad)
        w = [wj - sj for wj, sj in zip(w, step, strict=True)]
        if max(abs(s) for s in step) < 1e-8:
            break
    return w


def solve(matrix: list[list[float]], vector: list[float]) -> list[float]:
    """Gaussian elimination with partial pivoting (a symmetric positive-definite system)."""
    n = len(vector)
    a = [[*row, v] for row, v in zip(matrix, vector, strict=True)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(a[r][col]))
        if not abs(a[pivot][col]) > 1e-12:
            raise FitError("the questions' evidence does not determine the weights")
        a[col], a[pivot] = a[pivot], a[col]
        for r in range(col + 1, n):
            factor = a[r][col] / a[col][col]
            for c in range(col, n + 1):
                a[r][c] -= factor * a[col][c]
    x = [0.0] * n
    for r in range(n - 1, -1, -1):
        x[r] = (a[r][n] - sum(a[r][c] * x[c] for c in range(r + 1, n))) / a[r][r]
    return x
