"""The low-rank correction of the diagonal metric on a wide dense X: the
few directions in which the Hessian bound curves far more than in the rest
(features that share strong common factors), found by a randomised
Nyström sketch on a sample of X's rows (:func:`sketched_spikes`), and the
metric that corrects the variances along them (:class:`LowRankMetric`).
``_metrics.Geometry.with_spikes`` puts them into a geometry; the plan says
where (``_plan.make_plan``: ``metric="low_rank"``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import ClassVar

import numpy as np

from ._objective import LogisticObjective


@dataclass(frozen=True)
class LowRankMetric:
    """The diagonal of the Hessian bound, corrected along the few directions
    in which the bound curves far more than in the rest (the features'
    common factors): in standardised units ``I + U (curvatures - 1) U^T``,
    ``U`` orthonormal, ``curvatures`` relative to the rest's. A wide X's
    strongly correlated features make a few such directions, along which
    steps in the diagonal metric overshoot while they crawl in all others;
    this metric is the diagonal one elsewhere (see :func:`sketched_spikes`)."""

    full: ClassVar[bool] = False

    scale: np.ndarray  # (n_features, 1), float64: the diagonal metric's
    basis: np.ndarray  # (n_features, r), orthonormal, standardised units
    curvatures: np.ndarray  # (r,), each above 1

    @cached_property
    def _std(self) -> np.ndarray:
        return np.sqrt(self.scale)

    def _times(self, v: np.ndarray, factors: np.ndarray) -> np.ndarray:
        """``(I + U (factors - 1) U^T) v`` for standardised rows ``v``."""
        return v + self.basis @ ((factors - 1)[:, None] * (self.basis.T @ v))

    def solve(self, v: np.ndarray) -> np.ndarray:
        return self._times(v / self._std, 1 / self.curvatures) / self._std

    def apply(self, v: np.ndarray) -> np.ndarray:
        return self._times(v * self._std, self.curvatures) * self._std


# A sketch of the Hessian bound (see sketched_spikes) looks for at most
# SKETCH_DIRECTIONS directions, on about its square of rows of X, evenly
# spaced: common factors are few, and they stand far above the sampling
# noise of so many rows (the sketch costs two products of that sample with
# as many columns).
SKETCH_DIRECTIONS = 16
# It holds about SKETCH_ARRAYS arrays of (n_features, SKETCH_DIRECTIONS):
# taken where they are at most a tenth of X.
SKETCH_ARRAYS = 4
# A direction corrects the diagonal metric only where the bound curves at
# least SPIKE times more along it than in the rest: twice the spread that a
# sample of 256 rows alone gives the top curvatures of independent features
# (widest where there are about as many features: Marchenko and Pastur's
# law), far below common factors'. The rest's curvature is
# taken as at least SMALLEST_REST (in standardised units, where the
# diagonal is one: the full metric's least jitter, see
# _row_metrics._cholesky_with_jitter), so that no ratio grows from
# rounding alone.
SPIKE, SMALLEST_REST = 4.0, 1e-10


def _sample_runs(X: np.ndarray, k: int) -> list[slice]:
    """About ``k^2`` evenly spaced rows of ``X`` (all of them where it has
    no more), as views that BLAS takes without a copy: every m-th row of a
    C-ordered X, in one product; ``k`` runs of ``k`` rows of another (every
    m-th row of an F-ordered X is no BLAS layout)."""
    n = X.shape[0]
    if n <= k * k:
        return [slice(0, n)]
    if X.flags.c_contiguous:
        return [slice(0, n, n // (k * k))]
    return [slice(start, start + k) for start in np.linspace(0, n - k, k).astype(int)]


def sketched_spikes(
    objective: LogisticObjective, mean: np.ndarray | None, scale: np.ndarray
) -> tuple[np.ndarray, np.ndarray] | None:
    """The directions in which the Hessian bound in standardised units,
    ``S^-1/2 (cov + l2 / c) S^-1/2`` (``S`` the diagonal ``scale``, of
    ``Geometry``), curves at least ``SPIKE`` times more than in the rest,
    and those curvatures over the rest's: ``(U, curvatures)`` of
    :class:`LowRankMetric`, or None where there are none (or where its
    arrays would not be small next to X: ``SKETCH_ARRAYS``).

    A randomised Nyström approximation of the bound (Frangella, Tropp and
    Udell, 2023) from ``SKETCH_DIRECTIONS`` random directions, on evenly
    spaced rows of a numpy X (views, no copy: :func:`_sample_runs`): the covariance of
    a sample estimates X's, and a metric shapes the steps without moving the
    minimum. The rest's curvature is the sketch's smallest eigenvalue (their
    preconditioner's). Seeded: the same metric on every run.
    """
    backend = objective.backend
    d = backend.shape[1]
    k = min(SKETCH_DIRECTIONS, d)
    if 10 * SKETCH_ARRAYS * d * k * 8 > backend.nbytes:
        return None
    runs = _sample_runs(backend.X, k)
    weights = [np.asarray(objective.weights[run], dtype=np.float64) for run in runs]
    total = sum(float(w.sum()) for w in weights)
    if not total > 0:
        return None
    std = np.sqrt(scale[:, 0])
    omega = np.random.default_rng(0).standard_normal((d, k))
    scaled = omega / std[:, None]  # the directions in X's units
    sketch = scaled.astype(backend.X.dtype)
    centre = None if mean is None else mean @ scaled
    # The weighted, centred covariance times the directions, as (k, d): each
    # run's product added whole (C-ordered), the centring's part once.
    product = np.zeros((k, d))
    summed = np.zeros(k)
    for run, w in zip(runs, weights, strict=True):
        X = backend.X[run]
        Z = (X @ sketch).astype(np.float64)
        if centre is not None:
            Z -= centre
        Z *= (w / total)[:, None]
        product += Z.T.astype(X.dtype) @ X
        summed += Z.sum(axis=0)
    Y = product.T + (objective.l2_diagonal() / objective.curvature)[:, None] * scaled
    del product, scaled, sketch
    if mean is not None:
        Y -= np.outer(mean, summed)
    Y /= std[:, None]
    # Nystrom's stable form: a small shift, a Cholesky factor, the Gram
    # matrix's eigenvectors for the singular vectors.
    shift = np.sqrt(d) * np.finfo(np.float64).eps * np.linalg.norm(Y)
    Y += shift * omega
    core = omega.T @ Y
    del omega
    try:
        lower = np.linalg.cholesky((core + core.T) / 2)
    except np.linalg.LinAlgError:
        return None
    # Y lower^-T, through the (k, k) inverse (numpy's: see the note above
    # _row_metrics._cholesky_with_jitter).
    B = Y @ np.linalg.inv(lower).T
    del Y
    squares, V = np.linalg.eigh(B.T @ B)
    squares, V = squares[::-1], V[:, ::-1]
    curvatures = np.maximum(squares - shift, 0.0)
    rest = max(curvatures[-1], SMALLEST_REST)
    spikes = curvatures > SPIKE * rest
    if not spikes.any():
        return None
    # Orthonormal to rounding (the metric and its inverse are exact pairs).
    U = np.linalg.qr(B @ (V[:, spikes] / np.sqrt(squares[spikes])))[0]
    return U, curvatures[spikes] / rest
