"""The CV estimator's grid: the Cs and l1_ratios checked, and the grid
point chosen from the folds' scores (the best mean score, or the
one-standard-error rule)."""

from __future__ import annotations

from numbers import Integral
from typing import Any

import numpy as np


def mean_and_standard_error(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The folds' mean score of each grid point, and its standard error.

    ``scores`` has the folds first. The standard error is the folds' standard
    deviation with ``ddof=1`` over the square root of their number: glmnet's
    ``cvsd`` with folds of equal weight. One fold has none (NaN).
    """
    n_folds = scores.shape[0]
    mean = scores.mean(axis=0)
    if n_folds < 2:
        return mean, np.full_like(mean, np.nan)
    return mean, scores.std(axis=0, ddof=1) / np.sqrt(n_folds)


def chosen_grid_point(
    mean_scores: np.ndarray,
    standard_errors: np.ndarray,
    Cs: np.ndarray,
    selection: str,
) -> tuple[int, int]:
    """The indices ``(l1_ratio, C)`` of the chosen grid point.

    ``"best"``: the highest mean score. ``"1se"``: on the path of the best
    point's l1_ratio, the smallest C whose mean score is at least the best
    minus the best point's standard error (glmnet's ``lambda.1se``). ``Cs``
    may come in any order: the smallest is taken by value.
    """
    best_l1, best_C = np.unravel_index(np.argmax(mean_scores), mean_scores.shape)
    if selection == "best":
        return int(best_l1), int(best_C)
    best = mean_scores[best_l1, best_C]
    within = mean_scores[best_l1] >= best - standard_errors[best_l1, best_C]
    within[best_C] = True  # also where a score or its error is NaN
    candidates = np.flatnonzero(within)
    return int(best_l1), int(candidates[np.argmin(Cs[candidates])])


def grid_of_Cs(Cs: Any) -> np.ndarray:
    """The grid of C: an int's log scale, or the given positive numbers."""
    if isinstance(Cs, Integral):
        return np.logspace(-4, 4, Cs)
    grid = _one_or_more_numbers(
        Cs, "Cs must be an int or a 1-d array-like of positive numbers"
    )
    if not (grid > 0).all():  # NaN included; np.inf is C=np.inf, no penalty
        raise ValueError(f"Cs must hold positive numbers; got {grid}.")
    return grid


def grid_of_l1_ratios(l1_ratios: Any) -> np.ndarray:
    """The grid of l1_ratio: one or more numbers in [0, 1]."""
    grid = _one_or_more_numbers(
        l1_ratios, "l1_ratios must be a 1-d array-like of numbers in [0, 1]"
    )
    if not ((grid >= 0) & (grid <= 1)).all():  # NaN included
        raise ValueError(f"l1_ratios must be in [0, 1], got {grid}.")
    return grid


def _one_or_more_numbers(values: Any, rule: str) -> np.ndarray:
    """``values`` as a 1-d float array of one or more entries, or a
    ValueError that starts with ``rule`` and says what came instead."""
    try:
        grid = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{rule}; got {values!r}.") from error
    if grid.ndim != 1 or grid.size == 0:
        raise ValueError(
            f"{rule}, with one or more; got an array of shape {grid.shape}."
        )
    return grid
