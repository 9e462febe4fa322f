"""Weighted, L2-regularised logistic regression by Newton's method (the models have at most a
few hundred features, so each step solves one small linear system)."""

from __future__ import annotations

import numpy as np


def logistic(
    x: np.ndarray,
    y: np.ndarray,
    weights: np.ndarray | None = None,
    l2: float = 1.0,
    steps: int = 50,
    free: int = 0,
) -> np.ndarray:
    """Coefficients minimising the weighted log loss plus `l2`/2 times their squared norm
    (column `free`, the bias, is not penalised)."""
    n, d = x.shape
    sample = np.ones(n) if weights is None else weights
    sample = sample * (n / sample.sum())  # the penalty keeps its scale whatever the weights
    w = np.zeros(d)
    penalty = np.full(d, l2)
    penalty[free] = 0.0
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-np.clip(x @ w, -30, 30)))
        gradient = x.T @ (sample * (p - y)) + penalty * w
        curvature = (x * (sample * p * (1 - p))[:, None]).T @ x + np.diag(penalty + 1e-9)
        step = np.linalg.solve(curvature, gradient)
        w -= step
        if np.abs(step).max() < 1e-7:
            break
    return w


def log_loss(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    p = np.clip(1.0 / (1.0 + np.exp(-(x @ w))), 1e-9, 1 - 1e-9)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def conditional_logistic(
    groups: list[tuple[np.ndarray, np.ndarray]],
    weights: np.ndarray | None = None,
    l2: float = 1.0,
    steps: int = 100,
) -> np.ndarray:
    """Coefficients of a softmax over each group's rows (a question's candidate sentences)
    that puts the most weight on the group's positives: the weighted log of the chance that
    the softmax picks a positive, plus `l2`/2 times the squared norm. Groups without a
    positive tell nothing about which row answers and are left out. Newton steps on the
    softmax's curvature (never negative), halved until the loss falls."""
    sample = np.ones(len(groups)) if weights is None else np.asarray(weights, dtype=float)
    kept = [(x, y, s) for (x, y), s in zip(groups, sample, strict=True) if y.any() and len(y) > 1]
    total = sum(s for _, _, s in kept)
    kept = [(x, y, s * len(kept) / total) for x, y, s in kept]
    d = kept[0][0].shape[1]

    def loss(w: np.ndarray) -> float:
        value = 0.5 * l2 * float(w @ w)
        for x, y, s in kept:
            z = x @ w
            top = z.max()
            value -= s * (np.log(np.exp(z - top)[y > 0].sum()) - np.log(np.exp(z - top).sum()))
        return value

    w = np.zeros(d)
    current = loss(w)
    for _ in range(steps):
        gradient = l2 * w
        curvature = np.eye(d) * l2
        for x, y, s in kept:
            z = x @ w
            p = np.exp(z - z.max())
            p /= p.sum()
            q = p * y
            q /= q.sum()
            gradient += s * (x.T @ (p - q))
            mean = p @ x
            curvature += s * ((x * p[:, None]).T @ x - np.outer(mean, mean))
        step = np.linalg.solve(curvature + np.eye(d) * 1e-9, gradient)
        size = 1.0
        while size > 1e-4:
            trial = w - size * step
            value = loss(trial)
            if value <= current:
                break
            size /= 2
        else:
            break
        w, improved = trial, current - value
        current = value
        if improved < 1e-7 * max(1.0, abs(current)):
            break
    return w
