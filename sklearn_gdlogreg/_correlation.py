"""Whether a dense X's features are correlated as far as a sample of its
rows can tell (:func:`features_correlated`): the plan's reason to measure
the full (decorrelating) metric on a narrow dense X, rather than the
variances alone (``_plan.make_plan``).

The full metric's only gain over the diagonal one is the features'
correlation, and it costs a Gram matrix of X (``n d^2`` products where a
pass costs ``n d``): where the features are not correlated, the diagonal
metric takes as many steps, for a fraction of the cost.
"""

from __future__ import annotations

import numpy as np

from ._array_api import to_numpy
from ._objective import LogisticObjective

# The test reads about this many evenly spaced rows (up to twice as many):
# their Gram matrix costs SAMPLE_ROWS d^2 products, a small share of the
# full metric's n d^2 on all but the smallest X. So many rows tell a
# correlation that reshapes the metric (a sum of squared correlations over
# the pairs of about one per feature or more, see features_correlated) from
# none, far beyond the sampling noise.
SAMPLE_ROWS = 64
# A sum of squared correlations this many of its standard deviations above
# what independent features give (a one-sided test at about one in a
# thousand), or a correlation beyond what any pair of independent features
# shows but once in a thousand samples, tells correlated features.
SIGNIFICANT, RARE = 3.0, 1e-3


def features_correlated(objective: LogisticObjective) -> bool:
    """Whether the correlations of X's features on about ``SAMPLE_ROWS``
    evenly spaced rows (those of positive weight) are more than independent
    features would show: the sum of their squares over the pairs of
    features exceeds its mean under independence, ``pairs / (rows - 1)``,
    by ``SIGNIFICANT`` of its standard deviations there, about ``sqrt(2
    pairs) / (rows - 1)`` (Schott's test of independence, 2005), or the
    largest of them is beyond what any pair of independent features shows
    but ``RARE``ly (a few strongly correlated pairs among many features,
    which the sum dilutes). The rows are not weighted (whether features are
    correlated is X's property, and unweighted rows keep the test's null
    exact); with two rows or fewer no sample tells, and the features count
    as correlated (the full metric, as before).

    That sum is half the correlation matrix's ``sum (lambda - 1)^2``, its
    eigenvalues' spread about their mean, one: what the first full metric
    gains over the diagonal one. A correlation that changes the steps
    spreads them by about one per feature or more, which a sample of so
    many rows shows far beyond its noise. Features no sample can tell apart
    from independent ones take the diagonal metric. A feature constant in
    the sample (no spread beyond its mean's rounding) counts for none: a
    rare indicator column that the sample misses is not tested. The rows
    are copied from any array library's X to the host (small), so the same
    X takes the same metric in each.
    """
    X = objective.backend.X
    stride = max(1, X.shape[0] // SAMPLE_ROWS)
    weighed = to_numpy(objective.weights[::stride]) > 0
    # (Few numpy calls: on small data each costs more than its arithmetic.)
    sample = np.asarray(to_numpy(X[::stride, :]), dtype=np.float64)
    if not weighed.all():
        sample = sample[weighed]
    rows = sample.shape[0]
    if rows <= 2:
        return True
    with np.errstate(over="ignore", invalid="ignore"):
        mean = np.add.reduce(sample, axis=0) / rows
        centred = sample - mean
        products = centred.T @ centred
        spread = products.diagonal().copy()
        kept = spread > np.square(64 * np.finfo(np.float64).eps * mean)
    if not np.isfinite(spread).all():
        # (X's moments' read tells what is wrong with X: not finite, or
        # too large to square in float64)
        return True
    features = int(np.count_nonzero(kept))
    if features < 2:
        return False
    if features < kept.size:
        products, spread = products[np.ix_(kept, kept)], spread[kept]
    std = np.sqrt(spread)
    correlation = products / std
    correlation /= std[:, None]
    np.fill_diagonal(correlation, 0.0)
    pairs = features * (features - 1) / 2
    excess = float(np.vdot(correlation, correlation)) / 2 - pairs / (rows - 1)
    # Each independent pair's correlation is about normal, of variance
    # 1 / rows: the largest of the pairs' beyond this is rare (Bonferroni).
    beyond = np.sqrt(2 * np.log(2 * pairs / RARE) / rows)
    return bool(
        excess > SIGNIFICANT * np.sqrt(2 * pairs) / (rows - 1)
        or max(correlation.max(), -correlation.min()) > beyond
    )
