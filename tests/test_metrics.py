"""The step metrics: each a metric and its inverse, the Hessians they are, on
samples of the rows and in float32 units."""

import dataclasses
import itertools

import numpy as np
import pytest
import scipy.sparse as sp

from conftest import coef_shape, make_objective, one_hot
from sklearn_gdlogreg._backends import backend_for
from sklearn_gdlogreg._class_metrics import (
    ClassBlockMetric,
    ClassCoupledMetric,
    ClassCurvatureMetric,
)
from sklearn_gdlogreg._low_rank import SPIKE, LowRankMetric, sketched_spikes
from sklearn_gdlogreg._metrics import Geometry, metric_rows
from sklearn_gdlogreg._objective import LogisticObjective
from sklearn_gdlogreg._plan import make_plan, metric_stride
from sklearn_gdlogreg._row_metrics import (
    ExclusiveGroups,
    _cholesky_with_jitter,
    _inverse_or_none,
    _inverses_or_none,
)


@pytest.mark.parametrize("decorrelate", [False, True])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_geometry_is_a_metric_and_its_inverse(rng, fit_intercept, decorrelate):
    # direction = P g and inner(u, v) = <u, P^-1 v>: so inner(P g, v) = <g, v>
    # for every v that changes the predictions (multinomial: P leaves out the
    # same change to every class's coefficients, so v sums to zero over them).
    obj = make_objective(rng, 3, fit_intercept=fit_intercept)
    geometry = Geometry.for_objective(
        obj, np.float64, metric="full" if decorrelate else "diagonal"
    )
    assert geometry.rows.full == decorrelate
    g, v = rng.normal(size=(2, *coef_shape(obj)))
    v -= v.mean(axis=1, keepdims=True)
    direction = geometry.direction(g)
    np.testing.assert_allclose(geometry.inner(direction, v), np.vdot(g, v), rtol=1e-10)
    np.testing.assert_allclose(direction[: obj.n_features].sum(axis=1), 0, atol=1e-12)
    assert geometry.inner(v, v) > 0


@pytest.mark.parametrize(
    ("off_diagonal", "jitter"), [(0.5, 1e-10), (1 + 1e-9, 1e-8), (2.0, None)]
)
def test_cholesky_takes_the_smallest_jitter_that_factors(off_diagonal, jitter):
    # Eigenvalues 1 +- off_diagonal: positive definite, -1e-9 (1e-10 is not
    # enough, 1e-8 is) and -1 (no jitter up to 1e-2 is).
    matrix = np.array([[1.0, off_diagonal], [off_diagonal, 1.0]])
    jittered, factor = _cholesky_with_jitter(matrix)
    if jitter is None:
        assert jittered is None and factor is None
        return
    np.testing.assert_allclose(jittered, matrix + jitter * np.eye(2), rtol=1e-15)
    assert factor[0, 1] == 0  # lower triangular
    np.testing.assert_allclose(factor @ factor.T, jittered, rtol=1e-12)


@pytest.mark.parametrize("n_outputs", [1, 3])
@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_metric_of_one_hot_features_keeps_each_features_covariance(rng, n_outputs, fmt):
    # The metric of W is the weighted covariance of X's columns within each
    # one-hot feature (zero between features), plus l2 / curvature.
    X = one_hot(rng, n_samples=80).asformat(fmt)
    obj = make_objective(rng, n_outputs, l2=0.02, X=X)
    plan = make_plan(obj, "auto", "nesterov")
    assert plan.metric == "groups"
    geometry = Geometry.for_objective(obj, np.float64, "groups", groups=plan.groups)
    assert isinstance(geometry.rows, ExclusiveGroups)
    dense = X.toarray()
    mean = obj.weights @ dense
    covariance = (dense - mean).T @ (obj.weights[:, None] * (dense - mean))
    feature = np.repeat([0, 1, 2], [3, 5, 2])
    metric = np.where(feature[:, None] == feature[None, :], covariance, 0)
    metric += obj.l2 / geometry.curvature * np.eye(10)
    u, v = rng.normal(size=(2, *coef_shape(obj)))
    centred = (u[-1] + mean @ u[:-1]) @ (v[-1] + mean @ v[:-1])
    np.testing.assert_allclose(
        geometry.inner(u, v), np.vdot(u[:-1], metric @ v[:-1]) + centred, rtol=1e-10
    )
    v -= v.mean(axis=1, keepdims=True)  # a change of the predictions
    np.testing.assert_allclose(
        geometry.inner(geometry.direction(u), v), np.vdot(u, v), rtol=1e-8
    )
    # The diagonal metric, and no groups, where the steps are constant.
    plan = make_plan(obj, 0.1, "nesterov")
    assert plan.metric == "diagonal"
    assert not isinstance(
        Geometry.for_objective(obj, np.float64, plan.metric).rows, ExclusiveGroups
    )


def test_prox_soft_thresholds_and_keeps_centred_intercept(rng):
    obj = make_objective(rng, 1, l2=0.0, l1=0.05)
    geometry = Geometry.for_objective(obj, np.float64)
    coef = rng.normal(scale=0.1, size=coef_shape(obj))
    out = geometry.prox(coef, step=1.0)
    d = obj.n_features
    threshold = 0.05 / geometry.scale
    expected = np.sign(coef[:d]) * np.maximum(np.abs(coef[:d]) - threshold, 0)
    np.testing.assert_allclose(out[:d], expected)
    # The centred intercept b + mean @ W is unchanged by the prox.
    np.testing.assert_allclose(
        out[d] + geometry.mean @ out[:d], coef[d] + geometry.mean @ coef[:d]
    )


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_metric_at_the_curvature_is_the_hessian_there(rng, fit_intercept):
    # t * <u, metric v> = u^T H v, H the Hessian of the binary objective at coef.
    obj = make_objective(rng, 1, fit_intercept=fit_intercept, l2=0.05)
    coef = rng.normal(size=coef_shape(obj))
    geometry = Geometry.at_curvature(obj, np.float64, coef)
    W, b = obj.split(coef)
    p = 1 / (1 + np.exp(-(obj.backend.X @ W[:, 0] + b[0])))
    X1 = np.hstack([obj.backend.X, np.ones((obj.backend.X.shape[0], 1))])[
        :, : coef.shape[0]
    ]
    H = X1.T @ ((obj.weights * p * (1 - p))[:, None] * X1)
    H[: obj.n_features, : obj.n_features] += obj.l2 * np.eye(obj.n_features)
    u, v = rng.normal(size=(2, *coef.shape))
    got = geometry.curvature * geometry.inner(u, v)
    np.testing.assert_allclose(got, u[:, 0] @ H @ v[:, 0], rtol=1e-7)
    # A Newton step: the direction of the gradient in this metric, times 1 / t.
    g = rng.normal(size=coef.shape)
    np.testing.assert_allclose(
        geometry.direction(g) / geometry.curvature,
        np.linalg.solve(H, g[:, 0])[:, None],
        rtol=1e-6,
    )


def test_metric_at_a_point_of_certain_predictions_is_none(rng):
    # Every sample predicted with certainty: no curvature at all, no metric
    # (and no division by the zero total weight on the way).
    X = np.repeat([[-1e3], [1e3]], 5, axis=0) + rng.uniform(size=(10, 1))
    y = (X[:, 0] > 0).astype(int)
    obj = LogisticObjective(
        backend=backend_for(X),
        y=y,
        weights=np.full(10, 0.1),
        n_outputs=1,
        fit_intercept=True,
        l2=0.1,
        l1=0.0,
    )
    assert Geometry.at_curvature(obj, np.float64, np.array([[100.0], [0.0]])) is None


def test_full_metric_of_a_tall_X_comes_from_evenly_spaced_rows(rng):
    obj = tall_objective(rng, 1)
    stride = metric_stride(obj.backend, obj.n_coefficients)
    sample, weights = metric_rows(obj, stride)
    X = sample.X
    assert stride == 40_000 // 8192  # at least MIN_METRIC_ROWS rows
    assert np.shares_memory(X, obj.backend.X) and X.shape[0] == len(
        range(0, 40_000, stride)
    )
    np.testing.assert_array_equal(X[1], obj.backend.X[stride])
    np.testing.assert_array_equal(weights[1], obj.weights[stride])
    for small in (
        obj.backend.X[:1279],
        sp.csr_matrix(obj.backend.X),
    ):  # every row: stride 1
        assert metric_stride(backend_for(small), obj.n_coefficients) == 1
    # The optimality's units stay exact; the steps' metric is the sample's
    # covariance (plus the penalty), with its own diagonal.
    full = Geometry.for_objective(obj, np.float64, metric="full", stride=stride)
    diagonal = Geometry.for_objective(obj, np.float64)
    np.testing.assert_array_equal(full.scale, diagonal.scale)
    centred = X - weights @ X / weights.sum()
    covariance = centred.T @ (weights[:, None] * centred) / weights.sum()
    covariance += obj.l2 / obj.curvature * np.eye(obj.n_features)
    matrix = full.rows.apply(np.eye(obj.n_features))
    np.testing.assert_allclose(matrix, covariance, rtol=1e-6, atol=1e-9)
    g, v = rng.normal(size=(2, *coef_shape(obj)))
    np.testing.assert_allclose(full.inner(full.direction(g), v), np.vdot(g, v))


@pytest.mark.parametrize("n_outputs", [1, 3])
def test_metric_of_a_tall_X_from_a_sample_is_close_to_the_hessian(rng, n_outputs):
    # The Hessian at a point (binary: Geometry.at_curvature; multinomial: the
    # classes coupled), measured on a sample of the rows and scaled by the
    # stride: within 10% of the Hessian of all the rows, in 50 random
    # directions the loss sees. Without the scaling it is stride times off.
    obj = tall_objective(rng, n_outputs)
    stride = metric_stride(obj.backend, obj.n_coefficients)
    assert stride > 1
    coef = rng.normal(size=coef_shape(obj)) * 0.3
    if n_outputs == 1:
        metric = Geometry.at_curvature(obj, np.float64, coef, stride=stride)
        curvature = metric.curvature
    else:
        metric = ClassCoupledMetric.at(
            obj, coef, obj.weights @ obj.backend.X, stride=stride
        )
        curvature = 1.0
    H = finite_difference_hessian(obj, coef)
    ratios = []
    for _ in range(50):
        u = rng.normal(size=coef.shape)
        u -= u.mean(axis=1, keepdims=True) if n_outputs > 1 else 0
        ratios.append(curvature * metric.inner(u, u) / (u.ravel() @ H @ u.ravel()))
    assert 0.9 < min(ratios) and max(ratios) < 1.1


def finite_difference_hessian(obj, coef, h=1e-5):
    """The Hessian of the smooth objective, by central differences of its
    gradient, over the entries of ``coef`` in C order."""
    columns = []
    for i in range(coef.size):
        step = np.zeros(coef.size)
        step[i] = h
        step = step.reshape(coef.shape)
        plus = obj.value_and_grad(coef + step)[1]
        minus = obj.value_and_grad(coef - step)[1]
        columns.append(((plus - minus) / (2 * h)).ravel())
    return np.array(columns).T


def test_batched_inverses_are_each_matrixs_own(rng):
    """The inverses of a stack, in one batched call, are each matrix's
    ``_inverse_or_none``, also where one needs more jitter (each alone)
    or has none."""
    A = rng.normal(size=(4, 30, 6))
    matrices = np.einsum("kni,knj->kij", A, A)
    expected = np.stack([_inverse_or_none(matrix) for matrix in matrices])
    np.testing.assert_allclose(_inverses_or_none(matrices), expected, rtol=1e-10)
    matrices[1, :, 0] = matrices[1, :, 1]  # two equal columns: singular
    matrices[1, 0, :] = matrices[1, 1, :]
    expected = np.stack([_inverse_or_none(matrix) for matrix in matrices])
    np.testing.assert_allclose(_inverses_or_none(matrices), expected, rtol=1e-10)
    matrices[2, 3, 3] = 0.0
    assert _inverse_or_none(matrices[2]) is None
    assert _inverses_or_none(matrices) is None


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_class_coupled_metric_is_the_multinomial_hessian(rng, fit_intercept):
    # <u, H v> and H^-1 g for the finite-difference Hessian, in the directions
    # the softmax sees (each row's classes summing to zero: the gradient's).
    obj = make_objective(rng, 3, fit_intercept=fit_intercept, l2=0.05)
    coef = rng.normal(size=coef_shape(obj))
    metric = ClassCoupledMetric.at(obj, coef, obj.weights @ obj.backend.X)
    H = finite_difference_hessian(obj, coef)

    def seen(v):  # each row's mean over the classes removed
        return v - v.mean(axis=1, keepdims=True)

    u, v, g = (seen(rng.normal(size=coef.shape)) for _ in range(3))
    np.testing.assert_allclose(metric.inner(u, v), u.ravel() @ H @ v.ravel(), rtol=1e-6)
    direction = metric.direction(g)
    np.testing.assert_allclose((H @ direction.ravel()).reshape(g.shape), g, atol=1e-6)
    size = np.abs(direction).max()
    np.testing.assert_allclose(direction.sum(axis=1), 0, atol=1e-10 * size)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("units", ["float64", "float32"])
def test_class_block_metric_keeps_each_classs_hessian_block(rng, fit_intercept, units):
    obj = make_objective(rng, 4, fit_intercept=fit_intercept, l2=0.05)
    coef = rng.normal(size=coef_shape(obj))
    mean = obj.weights @ obj.backend.X
    # With the features' scales, its products run in float32 in those units
    # (as in a fit): float32's rounding, no more.
    scale = (
        Geometry.for_objective(obj, np.float64).scale if units == "float32" else None
    )
    rtol = 1e-10 if scale is None else 1e-5
    metric = ClassBlockMetric.at(obj, coef, mean, scale)
    # Block k: sum_i s_i p_ik (1 - p_ik) u_i u_i^T + l2 on W, by the formula
    # (and the finite-difference Hessian's own blocks without an intercept).
    W, b = obj.split(coef)
    Z = obj.backend.X @ W + b
    P = np.exp(Z - Z.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    U = obj.backend.X - mean if fit_intercept else obj.backend.X
    if fit_intercept:
        U = np.hstack([U, np.ones((U.shape[0], 1))])
    m = U.shape[1]
    penalty = np.diag(np.where(np.arange(m) < obj.n_features, obj.l2, 0.0))
    for k in range(4):
        curvature = obj.weights * P[:, k] * (1 - P[:, k])
        expected = U.T @ (curvature[:, None] * U) + penalty
        size = np.abs(expected).max()
        np.testing.assert_allclose(
            metric.blocks[k], expected, rtol=rtol, atol=rtol * 1e-1 * size
        )
    if not fit_intercept:
        H = finite_difference_hessian(obj, coef)  # C order: feature, then class
        for k in range(4):
            np.testing.assert_allclose(
                metric.blocks[k], H[k::4, k::4], rtol=1e-5, atol=1e-8
            )
    # Its steps are gradient steps in the metric inner() measures, among the
    # changes of the predictions (each row summing to zero over the classes,
    # as the gradient's do from a start that does), and they make only such
    # changes.
    g, v = rng.normal(size=(2, *coef.shape))
    g -= g.mean(axis=1, keepdims=True)
    v -= v.mean(axis=1, keepdims=True)
    direction = metric.direction(g)
    np.testing.assert_allclose(metric.inner(direction, v), np.vdot(g, v), rtol=1e-8)
    np.testing.assert_allclose(direction.sum(axis=1), 0, atol=1e-12)
    assert metric.inner(v, v) > 0


@pytest.mark.parametrize("metric", ["diagonal", "groups", "diagonal of tf-idf"])
def test_class_curvature_metric_is_each_classs_block_of_the_hessian(rng, metric):
    """Class k's metric is the diagonal (or the one-hot groups' blocks) of
    the Hessian's block k, ``U^T diag(s p_k (1 - p_k)) U + l2`` with ``U``
    X centred on that class's own weighted mean; its steps are each
    class's Newton step in its metric, less the same change to every
    class (of W and of the intercepts), and ``inner`` is the sum of the
    classes' metrics."""
    if metric == "diagonal of tf-idf":  # columns whose means differ by class
        X = sp.random(300, 12, density=0.4, random_state=rng, format="csr")
        X.data = 1 + 3 * X.data
        metric = "diagonal"
    else:
        X = one_hot(rng, levels=(3, 5, 2), n_samples=300)
    obj = make_objective(rng, 4, X=X, l2=0.01)
    coef = rng.normal(size=coef_shape(obj))
    coef[-1] = [0.0, 1.0, -2.0, 3.0]  # classes of different priors
    groups = obj.backend.exclusive_column_groups() if metric == "groups" else ()
    assert metric == "diagonal" or groups
    class_metric = ClassCurvatureMetric.at(obj, np.float64, coef, metric, groups)
    dense = X.toarray()
    W, b = obj.split(coef)
    Z = dense @ W + b
    P = np.exp(Z - Z.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    d = obj.n_features
    for k, geometry in enumerate(class_metric.classes):
        h = obj.weights * P[:, k] * (1 - P[:, k])
        U = dense - h @ dense / h.sum()
        block = U.T @ (h[:, None] * U) + obj.l2 * np.eye(d)
        if metric == "diagonal":
            block = np.diag(np.diag(block))
        else:  # the groups' blocks, nothing between groups
            inside = np.zeros((d, d), dtype=bool)
            for start, stop in itertools.pairwise(groups):
                inside[start:stop, start:stop] = True
            block = np.where(inside, block, 0.0)
        applied = geometry.curvature * geometry.rows.apply(np.eye(d))
        np.testing.assert_allclose(applied, block, rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(
            class_metric.hessian_diagonal[:, k], np.diag(block), rtol=1e-10
        )
    g, v = rng.normal(size=(2, *coef.shape))
    g -= g.mean(axis=1, keepdims=True)  # as the gradient's rows do
    direction = class_metric.direction(g)
    newton = np.hstack(
        [
            geometry.direction(g[:, k : k + 1]) / geometry.curvature
            for k, geometry in enumerate(class_metric.classes)
        ]
    )
    # The part taken out changes every class's scores alike (the loss
    # does not see it), and the direction keeps none of it.
    np.testing.assert_allclose(direction.sum(axis=1), 0, atol=1e-12)
    removed = newton - direction
    removed_scores = dense @ removed[:d] + removed[d]
    np.testing.assert_allclose(
        removed_scores, removed_scores[:, :1] + 0 * removed_scores, atol=1e-12
    )
    # So the direction's slope is the Newton steps': <g, N> = <g, M^-1 g>.
    np.testing.assert_allclose(np.vdot(g, direction), np.vdot(g, newton))
    # inner is the classes' metrics: the inverse of the Newton steps.
    np.testing.assert_allclose(class_metric.inner(newton, v), np.vdot(g, v))
    assert class_metric.inner(v, v) > 0


@pytest.mark.parametrize("factor", [1e-42, 1e-25, 1e25, 1e40])
def test_class_block_metric_in_float32_units_is_the_same_at_any_scale(rng, factor):
    # Its float32 products are taken in the features' own units: X scaled by
    # 1e25 (past float32's range, squared) or 1e-25 (below it) gives the
    # same blocks, in the scaled units, as X itself.
    obj = make_objective(rng, 4, l2=0.05)
    scaled = dataclasses.replace(
        obj, backend=backend_for(obj.backend.X * factor), l2=obj.l2 * factor**2
    )
    coef = rng.normal(size=coef_shape(obj))
    coef_scaled = coef.copy()
    coef_scaled[:-1] /= factor
    blocks = []
    for o, c in ((obj, coef), (scaled, coef_scaled)):
        geometry = Geometry.for_objective(o, np.float64)
        metric = ClassBlockMetric.at(o, c, geometry.mean, geometry.scale)
        assert metric is not None and np.isfinite(metric.blocks).all()
        blocks.append(metric.blocks)
    units = np.append(np.full(obj.n_features, factor), 1.0)
    np.testing.assert_allclose(
        blocks[1] / units[:, None] / units[None, :], blocks[0], rtol=1e-5, atol=1e-9
    )


def test_class_block_metric_of_a_tall_X_comes_from_a_sample(rng):
    # Each block within 10% of the same block over all the rows, in random
    # directions: the sample's sums are scaled by the stride.
    obj = tall_objective(rng, 3)
    coef = rng.normal(size=coef_shape(obj)) * 0.3
    mean = obj.weights @ obj.backend.X
    stride = metric_stride(obj.backend, obj.n_features + 1)
    assert stride > 1
    sampled = ClassBlockMetric.at(obj, coef, mean, stride=stride).blocks
    exact = ClassBlockMetric.at(obj, coef, mean).blocks
    u = rng.normal(size=(50, exact.shape[1]))
    for k in range(3):
        ratios = np.einsum("ni,ij,nj->n", u, sampled[k], u) / np.einsum(
            "ni,ij,nj->n", u, exact[k], u
        )
        assert 0.9 < ratios.min() and ratios.max() < 1.1


def tall_objective(rng, n_outputs):
    """40 000 rows, badly scaled, with one column a combination of two others."""
    X = rng.normal(size=(40_000, 3)) * [1, 10, 0.1] + [0, 5, 0]
    X = np.column_stack([X, X[:, 0] + 0.1 * X[:, 1]])
    return make_objective(rng, n_outputs, X=X, l2=1e-4)


def factor_objective(
    rng, n_outputs, n_samples=2000, n_features=40, factors=2, **params
):
    """Features that share a few strong common factors (correlations about
    0.9), on different scales and offsets: the Hessian bound in
    standardised units curves far more along ``factors`` directions."""
    common = rng.normal(size=(n_samples, factors)) @ rng.normal(
        size=(factors, n_features)
    )
    X = 3 * common + rng.normal(size=(n_samples, n_features))
    X = X * rng.uniform(0.1, 10, n_features) + rng.uniform(-5, 5, n_features)
    return make_objective(rng, n_outputs, X=X, **params)


def standardised_bound(obj, geometry):
    """The Hessian bound in the geometry's standardised units, exactly."""
    X = obj.backend.X
    mean = geometry.mean if geometry.mean is not None else np.zeros(X.shape[1])
    centred = X - mean
    covariance = centred.T @ (centred * obj.weights[:, None])
    bound = covariance + np.diag(obj.l2_diagonal() / obj.curvature)
    std = np.sqrt(geometry.scale[:, 0])
    return bound / std[:, None] / std[None, :]


@pytest.mark.parametrize("n_outputs", [1, 3])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_low_rank_metric_is_a_metric_and_its_inverse(rng, n_outputs, fit_intercept):
    obj = factor_objective(rng, n_outputs, fit_intercept=fit_intercept)
    geometry = Geometry.for_objective(obj, np.float64, metric="low_rank")
    assert isinstance(geometry.rows, LowRankMetric)
    v = rng.normal(size=(obj.n_features, n_outputs))
    np.testing.assert_allclose(
        geometry.rows.solve(geometry.rows.apply(v)), v, rtol=1e-10
    )
    # As test_geometry_is_a_metric_and_its_inverse: inner(P g, v) = <g, v>.
    g, v = rng.normal(size=(2, *coef_shape(obj)))
    if n_outputs > 1:
        v -= v.mean(axis=1, keepdims=True)
    direction = geometry.direction(g)
    np.testing.assert_allclose(geometry.inner(direction, v), np.vdot(g, v), rtol=1e-10)
    assert geometry.inner(v, v) > 0


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_sketch_finds_the_common_factors(rng, fit_intercept):
    # The directions the sketch keeps (the factors', and those of the rest
    # that curve SPIKE times more than the sketch's least) span the bound's
    # top eigenvectors, and the factors' curvatures stand to each other as
    # the bound's top eigenvalues do. Without an intercept the columns'
    # means are not centred away: their direction is one more.
    obj = factor_objective(rng, 1, factors=2, fit_intercept=fit_intercept)
    spikes = 2 if fit_intercept else 3
    diagonal = Geometry.for_objective(obj, np.float64)
    basis, curvatures = sketched_spikes(obj, diagonal.mean, diagonal.scale)
    assert basis.shape[1] >= spikes and np.all(curvatures > SPIKE)
    eigenvalues, vectors = np.linalg.eigh(standardised_bound(obj, diagonal))
    cosines = np.linalg.svd(vectors[:, -spikes:].T @ basis, compute_uv=False)
    assert cosines.min() > 0.99
    np.testing.assert_allclose(
        curvatures[1] / curvatures[0], eigenvalues[-2] / eigenvalues[-1], rtol=0.25
    )
    assert curvatures[spikes - 1] > 2 * curvatures[spikes:].max(initial=SPIKE)


def test_sketch_of_uncorrelated_features_keeps_the_diagonal(rng):
    # Independent features: no direction curves SPIKE times more than the
    # rest (the sample's own spread of curvatures stays below that), so
    # the geometry keeps the diagonal metric and its steps.
    obj = make_objective(rng, 1, X=rng.normal(size=(2000, 300)) * 3 + 1)
    diagonal = Geometry.for_objective(obj, np.float64)
    assert sketched_spikes(obj, diagonal.mean, diagonal.scale) is None
    geometry = Geometry.for_objective(obj, np.float64, metric="low_rank")
    assert not isinstance(geometry.rows, LowRankMetric)
    np.testing.assert_array_equal(geometry.rows.scale, diagonal.rows.scale)


@pytest.mark.parametrize(
    "layout", ["float32", "F-ordered", "penalty factors", "zero weights", "no penalty"]
)
def test_sketch_finds_the_common_factors_of_any_numpy_X(rng, layout):
    # The sample is runs of rows (BLAS takes them from an F-ordered X too),
    # summed in X's precision, weighted (rows of weight zero count for
    # nothing), with each feature's penalty; without any penalty and with
    # exactly collinear columns, the rest's curvature has a floor, so no
    # ratio grows from rounding.
    n, d, factors = 3000, 60, 2
    common = rng.normal(size=(n, factors)) @ rng.normal(size=(factors, d))
    X = 3 * common + rng.normal(size=(n, d))
    params = {}
    if layout == "float32":
        X = X.astype(np.float32)
    elif layout == "F-ordered":
        X = np.asfortranarray(X)
    elif layout == "no penalty":
        X[:, 1] = X[:, 0]  # exactly collinear
        params["l2"] = 0.0
    obj = make_objective(rng, 1, X=X, **params)
    if layout == "penalty factors":
        obj = dataclasses.replace(obj, penalty_factor=rng.uniform(0, 3, d))
    elif layout == "zero weights":
        weights = obj.weights.copy()
        weights[rng.rand(n) < 0.5] = 0
        obj = dataclasses.replace(obj, weights=weights / weights.sum())
    diagonal = Geometry.for_objective(obj, np.float64)
    basis, curvatures = sketched_spikes(obj, diagonal.mean, diagonal.scale)
    assert np.all(np.isfinite(curvatures)) and curvatures.max() < 1e12
    _, vectors = np.linalg.eigh(standardised_bound(obj, diagonal))
    cosines = np.linalg.svd(vectors[:, -factors:].T @ basis, compute_uv=False)
    assert cosines.min() > 0.95
