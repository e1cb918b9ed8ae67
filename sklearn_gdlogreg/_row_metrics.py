"""The metrics of W's rows that a step metric (``_metrics.Geometry``)
applies around its centring: the diagonal of the Hessian bound
(:class:`DiagonalMetric`), the whole bound (:class:`FullMetric`), the
covariance within groups of one-hot columns (:class:`ExclusiveGroups`;
the fourth kind, ``_low_rank.LowRankMetric``, has its own module), and the
linear algebra they and the class metrics (``_class_metrics``) share:
Cholesky factors with the least jitter that makes a matrix positive
definite, and the inverses made from them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import ClassVar, Protocol, cast

import numpy as np

# The metrics' linear algebra is numpy's: scipy's LAPACK and BLAS come in a
# second OpenBLAS (scipy's wheels bundle their own), whose threads, left
# spinning after a call, take the cores from numpy's BLAS threads and slow
# the fit's products with X for a long while after (the CHANGELOG has the
# figures).


_JITTERS = (1e-10, 1e-8, 1e-6, 1e-4, 1e-2)


def _cholesky_with_jitter(matrix: np.ndarray):
    """``matrix + jitter * I`` and its lower Cholesky factor, with the smallest
    jitter (from 1e-10, times 100 up to 1e-2) that makes it positive definite.

    ``matrix`` has a unit diagonal, so the jitter bounds its condition
    number; exactly collinear columns make it singular. (None, None) if it
    fails.
    """
    for jitter in _JITTERS:
        jittered = matrix.copy()
        jittered.flat[:: matrix.shape[0] + 1] += jitter
        # numpy's LAPACK, not scipy's (see the note above).
        try:
            factor = np.linalg.cholesky(jittered)
        except np.linalg.LinAlgError:  # not positive definite
            continue
        if np.isfinite(factor).all():
            return jittered, factor
    return None, None


def _scaled_inverse(cholesky: np.ndarray, std: np.ndarray) -> np.ndarray:
    """``(diag(std) C diag(std))^-1`` from the lower Cholesky factor of the
    unit-diagonal ``C``: made once per metric, so that each step is one
    product (a solve's call costs more, on small data, than a pass over X)."""
    # numpy's inverse, not scipy's triangular one (see the note above
    # _cholesky_with_jitter): it ignores the triangle, at a cost small next
    # to the covariance's.
    lower_inverse = np.linalg.inv(cholesky)
    inverse = lower_inverse.T @ lower_inverse
    inverse /= std[:, None]
    inverse /= std[None, :]
    return inverse


def _inverse_or_none(matrix: np.ndarray) -> np.ndarray | None:
    """The inverse of a symmetric positive definite ``matrix`` (with the
    jitter of ``_cholesky_with_jitter``), or None."""
    std = np.sqrt(np.diag(matrix))
    if not ((std > 0).all() and np.isfinite(matrix).all()):
        return None
    _, cholesky = _cholesky_with_jitter(matrix / std[:, None] / std[None, :])
    return None if cholesky is None else _scaled_inverse(cholesky, std)


def _inverses_or_none(matrices: np.ndarray) -> np.ndarray | None:
    """:func:`_inverse_or_none` of each of a stack of matrices (shape ``(K,
    m, m)``), None where one has none: in one call of each of numpy's
    batched factorisations (K calls cost more than the small matrices'
    arithmetic), each matrix alone where one needs more than the first
    jitter."""
    std = np.sqrt(np.diagonal(matrices, axis1=1, axis2=2))
    if not ((std > 0).all() and np.isfinite(matrices).all()):
        return None
    # Each stack freed once used: K blocks can be large next to the steps'
    # arrays (see _plan.MAX_CLASS_BLOCK_ENTRIES).
    jittered = matrices / std[:, :, None]
    jittered /= std[:, None, :]
    m = matrices.shape[1]
    jittered[:, np.arange(m), np.arange(m)] += _JITTERS[0]
    try:
        factors = np.linalg.cholesky(jittered)
    except np.linalg.LinAlgError:  # one is not positive definite
        factors = None
    del jittered
    if factors is None or not np.isfinite(factors).all():
        del factors
        inverses = [_inverse_or_none(matrix) for matrix in matrices]
        if any(inverse is None for inverse in inverses):
            return None
        return np.stack(cast(list, inverses))
    lower_inverses = np.linalg.inv(factors)
    del factors
    inverses = np.matmul(lower_inverses.transpose(0, 2, 1), lower_inverses)
    del lower_inverses
    inverses /= std[:, :, None]
    inverses /= std[:, None, :]
    return inverses


class RowMetric(Protocol):
    """A metric of W's rows, the same in every class's column: what a
    ``Geometry`` steps in once its centring is applied around it. Four
    kinds: :class:`DiagonalMetric`, :class:`FullMetric`,
    :class:`ExclusiveGroups` and :class:`LowRankMetric`."""

    # Whether the metric holds the features' whole covariance (the plan
    # measures it again as the fit converges only then).
    full: ClassVar[bool]

    def solve(self, v: np.ndarray) -> np.ndarray:
        """``metric^-1 v`` for the rows of ``W``."""
        ...

    def apply(self, v: np.ndarray) -> np.ndarray:
        """``metric v`` for the rows of ``W``."""
        ...


@dataclass(frozen=True)
class DiagonalMetric:
    """The diagonal of the Hessian bound: each row of W in its own units."""

    full: ClassVar[bool] = False

    scale: np.ndarray  # (n_features, 1), float64

    def solve(self, v: np.ndarray) -> np.ndarray:
        return v / self.scale

    def apply(self, v: np.ndarray) -> np.ndarray:
        return v * self.scale


@dataclass(frozen=True)
class FullMetric:
    """The whole Hessian bound ``std * correlation * std`` (Bohning's
    bound, 1992): a step safe in every direction at once, however
    correlated the features."""

    full: ClassVar[bool] = True

    # The Cholesky factor of the bound in standardised units (a unit
    # diagonal), float64: the bound itself is not kept (see apply).
    cholesky: np.ndarray
    # (n_features, 1): the square root of the metric's own diagonal. Where
    # the covariance was measured on a sample of X's rows (see metric_rows)
    # it differs a little from ``Geometry.scale``, which is exact and
    # measures the optimality. The metric keeps its own: the sample's exact
    # collinearities are X's, and rescaling the sample to X's variances
    # would tilt them.
    std: np.ndarray

    @cached_property
    def _inverse(self) -> np.ndarray:
        """The inverse on the rows of W, made once so that each step is one
        product (a solve's call costs more, on small data, than a pass
        over X).

        The centring is applied around it (``Geometry._centred_grad_W``, and
        the intercept's ``c = b + mean @ W``), never folded into it: folded,
        the intercept's entries hold ``mean^T metric mean``, and a column of
        mean ``m`` and spread 1 loses ``m^2`` times the rounding to
        cancellation there (all of it from ``m = 1e8`` on).
        """
        return _scaled_inverse(self.cholesky, self.std[:, 0])

    def solve(self, v: np.ndarray) -> np.ndarray:
        return self._inverse @ v

    def apply(self, v: np.ndarray) -> np.ndarray:
        # Through the Cholesky factor, the one (n, n) matrix kept besides
        # the inverse (the conjugate loop's line lengths are its only use).
        return self.std * (self.cholesky @ (self.cholesky.T @ (self.std * v)))


# Below this, the curvature that a group of exclusive columns leaves to the
# direction raising all of them at once (see ExclusiveGroups) is taken as
# this: it is the penalty's alone, and rounding must not make it negative.
_SMALLEST_GROUP_CURVATURE = 1e-8


@dataclass(frozen=True)
class ExclusiveGroups:
    """The covariance of groups of columns that no row has two entries of.

    In such a group (the indicators of a one-hot encoded feature) the
    products of two columns vanish, so its covariance is exactly
    ``diag(E[x^2]) - m m^T``: a diagonal less a rank one, solved by Sherman
    and Morrison's formula in a few operations per column. Where the group
    covers every row its indicators sum to one, the intercept's column, and
    once centred the direction that raises all of them at once has no
    curvature but the penalty's: a diagonal metric, blind to it, takes
    many steps along it. The metric of ``Geometry`` keeps these blocks and
    drops only the products between groups; its diagonal stays
    ``Geometry.scale``.
    """

    full: ClassVar[bool] = False

    starts: np.ndarray  # the first column of each group; the groups cover all
    lengths: np.ndarray
    coupling: np.ndarray  # (n_features, 1): the columns' means
    diagonal: np.ndarray  # (n_features, 1): scale + coupling^2
    denominators: np.ndarray  # (n_groups, 1): 1 - sum(coupling^2 / diagonal)

    @classmethod
    def of(cls, bounds: list[int], mean: np.ndarray, scale: np.ndarray):
        """The groups between ``bounds`` (see
        ``SparseBackend.exclusive_column_groups``)."""
        starts = np.asarray(bounds[:-1])
        lengths = np.diff(bounds)
        # A group of one column is the diagonal metric: no coupling. Written
        # as ``E[x^2] - m^2`` it would lose a column with a large constant
        # part (stored on every row, such as dense data in a sparse matrix)
        # to cancellation.
        coupling = np.where(np.repeat(lengths, lengths) > 1, mean, 0.0)[:, None]
        diagonal = scale + coupling**2
        explained = np.add.reduceat(coupling**2 / diagonal, starts, axis=0)
        denominators = np.maximum(1 - explained, _SMALLEST_GROUP_CURVATURE)
        return cls(starts, lengths, coupling, diagonal, denominators)

    def _per_column(self, per_group: np.ndarray) -> np.ndarray:
        return np.repeat(per_group, self.lengths, axis=0)

    def solve(self, v: np.ndarray) -> np.ndarray:
        """``metric^-1 v`` for the rows of ``W``."""
        solved = v / self.diagonal
        sums = np.add.reduceat(self.coupling * solved, self.starts, axis=0)
        return solved + self.coupling / self.diagonal * self._per_column(
            sums / self.denominators
        )

    def apply(self, v: np.ndarray) -> np.ndarray:
        """``metric v`` for the rows of ``W``."""
        sums = np.add.reduceat(self.coupling * v, self.starts, axis=0)
        return self.diagonal * v - self.coupling * self._per_column(sums)
