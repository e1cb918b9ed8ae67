"""The data backend: blocked passes and moments, against plain numpy."""

import threading
from functools import partial

import numpy as np
import pytest
import scipy.sparse as sp
from threadpoolctl import threadpool_info, threadpool_limits

import sklearn_gdlogreg._backends._blocks as row_blocks
import sklearn_gdlogreg._backends._moments as _moments
from conftest import one_hot
from sklearn_gdlogreg._backends import backend_for, counted_passes
from sklearn_gdlogreg._loss import class_curvature_weights


def squared_pointwise(Z, y, weights):
    """A stand-in for the logistic loss: w/2 (z - y)^2 per row, residual w (z - y).

    Points with 1-D ``W`` come all at once, one row of ``Z`` each (see
    ``Pointwise``): one loss per row.
    """
    if y.ndim == 1 and Z.ndim == 2:
        R = Z - y
        return 0.5 * (R**2) @ weights, weights * R
    w = weights.reshape(-1, *([1] * (Z.ndim - 1)))
    R = Z - y.reshape(Z.shape)
    loss = 0.5 * float(np.sum(w * R**2))
    return loss, w * R


def sparse_data(rng, dtype=np.float64):
    X = rng.normal(size=(57, 6)).astype(dtype)
    X[rng.uniform(size=X.shape) < 0.6] = 0
    return X


@pytest.mark.parametrize(
    "container", [np.asarray, sp.csr_matrix, sp.csr_array, sp.csc_matrix]
)
@pytest.mark.parametrize("n_outputs", [None, 3])  # None: 1-D W and Z
def test_blocked_pass_at_several_points_equals_numpy(rng, container, n_outputs):
    X = sparse_data(rng)
    shape = (X.shape[1],) if n_outputs is None else (X.shape[1], n_outputs)
    y = rng.normal(size=(X.shape[0], *shape[1:]))
    points = [
        (rng.normal(size=shape), rng.normal(size=shape[1:] or (1,))) for _ in range(2)
    ]
    weights = rng.uniform(size=X.shape[0])
    a_few_rows = 5 * 8 * X.shape[1]
    backend = backend_for(container(X), a_few_rows)
    got = backend.linear_pass(y, weights, points, squared_pointwise)
    w = weights.reshape(-1, *([1] * (y.ndim - 1)))
    for (W, b), (loss, grad_W, grad_b) in zip(points, got, strict=True):
        R = X @ W + b - y
        np.testing.assert_allclose(loss, 0.5 * np.sum(w * R**2), rtol=1e-12)
        np.testing.assert_allclose(grad_W, X.T @ (w * R), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(
            grad_b, np.atleast_1d((w * R).sum(axis=0)), rtol=1e-12
        )


def test_sparse_row_blocks_are_views_of_the_data(rng):
    X = sp.csr_matrix(sparse_data(rng))
    blocks = list(row_blocks._row_blocks(X, block_bytes=4 * 200))  # about 8 rows
    assert len(blocks) > 3
    for rows, block, transpose in blocks:
        assert block.nnz > 0
        assert np.shares_memory(block.data, X.data)
        assert np.shares_memory(transpose.indices, X.indices)
        np.testing.assert_array_equal(block.toarray(), X[rows].toarray())
        np.testing.assert_array_equal(transpose.toarray(), X[rows].T.toarray())


def weighted_reference(X, weights):
    mean = weights @ X
    centred = X - mean
    return mean, centred.T @ (centred * weights[:, None])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("covariance", [False, True])
@pytest.mark.parametrize("blocks", ["many", "one", "one in slices"])
def test_moments_match_numpy_over_many_blocks(
    rng, monkeypatch, dtype, covariance, blocks
):
    # Means far from zero and scales far apart: the merge must not cancel.
    X = (
        rng.normal(size=(301, 5)) * [1, 1e3, 1e-3, 1, 5] + [0, 300, -7, 1e4, 0]
    ).astype(dtype)
    weights = rng.uniform(size=301)
    weights[:40] = 0  # whole blocks of zero weight are skipped
    weights /= weights.sum()
    # "one": the default blocks, of which this X fills one; "in slices": its
    # sums of squares taken a few rows at a time (the fewest a slice takes).
    block_bytes = 7 * 8 * X.shape[1] if blocks == "many" else None
    if blocks == "one in slices":
        monkeypatch.setattr(_moments, "_SQUARES_BYTES", 0)
    mean, spread, _ = backend_for(X, block_bytes).column_moments(weights, covariance)
    ref_mean, ref_cov = weighted_reference(X.astype(np.float64), weights)
    rtol = 1e-10 if dtype == np.float64 else 1e-4
    np.testing.assert_allclose(mean, ref_mean, rtol=rtol)
    expected = ref_cov if covariance else np.diag(ref_cov)
    scale = (
        np.sqrt(np.outer(np.diag(ref_cov), np.diag(ref_cov)))
        if covariance
        else expected
    )
    np.testing.assert_array_less(np.abs(spread - expected), rtol * scale + 1e-300)
    if not covariance:
        sparse_mean, sparse_var, _ = backend_for(sp.csr_matrix(X)).column_moments(
            weights
        )
        np.testing.assert_allclose(sparse_mean, ref_mean, rtol=rtol)
        np.testing.assert_allclose(sparse_var, expected, rtol=1e-4)


def test_covariance_is_the_gram_matrix_less_the_means_with_lost_columns_centred(
    rng, monkeypatch
):
    # A float64 block's covariance is its weighted Gram matrix less the
    # mean's part (no centred copy of the block), where the columns of a
    # large constant part, whose digits that cancels, are made again from
    # those columns centred: to the rounding of the centred formula either
    # way, with a mean and spread far off without the correction.
    def no_centred_copy(*args):
        raise AssertionError("the block was centred whole")

    monkeypatch.setattr(_moments, "_centred_moments", no_centred_copy)
    X = rng.normal(size=(301, 4)) * [1, 3, 0.5, 2] + [0, 50, -20, 1]
    weights = rng.uniform(size=301)
    weights /= weights.sum()
    for shift in (0.0, 1e6, 1e8):
        X[:, 2] += shift
        X[:, 3] += shift / 10
        mean, spread, _ = backend_for(X).column_moments(weights, covariance=True)
        ref_mean, ref_cov = weighted_reference(X, weights)
        np.testing.assert_allclose(mean, ref_mean, rtol=1e-12)
        scale = np.sqrt(np.outer(np.diag(ref_cov), np.diag(ref_cov)))
        np.testing.assert_array_less(np.abs(spread - ref_cov), 1e-11 * scale)
        naive = (X * weights[:, None]).T @ X - np.outer(ref_mean, ref_mean)
        lost = np.abs(naive - ref_cov) > 1e-11 * scale
        assert bool(lost.any()) is (shift > 0)  # the shifted columns need it


@pytest.mark.parametrize("container", [np.asarray, sp.csr_matrix, sp.csc_matrix])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("covariance", [False, True])
@pytest.mark.parametrize("blocks", ["many", "one", "one in slices"])
@pytest.mark.parametrize("n_outputs", [None, 3])  # None: a vector R
def test_moments_with_products_are_the_moments_and_X_transposed_R(
    rng, monkeypatch, container, dtype, covariance, blocks, n_outputs
):
    # The first moments' read of a dense X makes the start's X^T R too (the
    # gradient at a start whose scores read nothing of X): the moments are
    # those of column_moments, bit for bit, and X^T R is numpy's, over
    # blocks of no weight (whose R is zero), in threads, in slices and with
    # a large constant part in a column (centred apart). A sparse X's comes
    # in a read of its own (moments_products: the solver asks none).
    if covariance and container is not np.asarray:
        pytest.skip("the covariance needs a dense X")
    X = rng.normal(size=(301, 5)) * [1, 1e3, 1e-3, 1, 5] + [0, 300, -7, 1e4, 0]
    X[rng.uniform(size=X.shape) < 0.3] = 0
    X = container(X.astype(dtype))
    weights = rng.uniform(size=301)
    weights[:40] = 0
    weights /= weights.sum()
    shape = (301,) if n_outputs is None else (301, n_outputs)
    R = rng.normal(size=shape) * (weights if n_outputs is None else weights[:, None])
    block_bytes = 7 * 8 * X.shape[1] if blocks == "many" else None
    if blocks == "one in slices":
        monkeypatch.setattr(_moments, "_SQUARES_BYTES", 0)
    backend = backend_for(X, block_bytes)
    assert backend.moments_products is not sp.issparse(X)
    if sp.issparse(X):
        with pytest.raises(TypeError, match="a read of its own"):
            backend.column_moments_and_products(weights, R, covariance)
        return
    (mean, spread, weight), products = backend.column_moments_and_products(
        weights, R.astype(dtype), covariance
    )
    expected = backend.column_moments(weights, covariance)
    np.testing.assert_array_equal(mean, expected[0])
    np.testing.assert_array_equal(spread, expected[1])
    assert weight == expected[2]
    reference = X.astype(np.float64).T @ R.astype(dtype).astype(np.float64)
    assert products.dtype == np.float64 and products.shape == reference.shape
    # X's precision: each product rounds as a numpy product in it would.
    eps = float(np.finfo(dtype).eps)
    bound = 4 * 301 * eps * (np.abs(X).T @ np.abs(R)).astype(np.float64)
    np.testing.assert_array_less(np.abs(products - reference), bound + 1e-300)


@pytest.mark.parametrize("kind", ["csr", "csc"])
@pytest.mark.parametrize("blocks", ["many", "one"])
def test_class_moments_are_each_classs_own_moments(rng, kind, blocks):
    """``class_column_moments``: each class's curvature weights' moments,
    from one read of X, are those ``column_moments`` gives under that
    class's weights alone, also for a column with a large constant part
    (stored on every row: it must keep its spread in every class) and a
    class with almost no weight, over one block or many (in threads)."""
    X = rng.normal(size=(2001, 5)) * [1, 1e3, 1e-3, 1, 5]
    X[rng.uniform(size=X.shape) < 0.6] = 0.0
    X[:, 3] = 1e5 + rng.normal(size=X.shape[0])
    X = {"csr": sp.csr_matrix, "csc": sp.csc_matrix}[kind](X)
    weights = rng.uniform(size=X.shape[0])
    weights /= weights.sum()
    W = rng.normal(size=(5, 3)) * [[1], [1e-3], [1e3], [0], [1]]
    b = np.array([0.0, 1.0, -30.0])  # the third class almost never predicted
    block_bytes = 64 * 5 * 8 if blocks == "many" else None
    backend = backend_for(X, block_bytes)
    with counted_passes() as passes:
        moments = backend.class_column_moments(
            weights, partial(class_curvature_weights, W, b), 3
        )
    # Two reads: the column of a large constant part is summed again.
    assert passes == {"class_moments": 2} and len(moments) == 3
    for k, (mean, variance, total) in enumerate(moments):

        def class_k(X_b, w_b, k=k):
            return class_curvature_weights(W, b, X_b, w_b)[:, k].copy()

        expected = backend_for(X, block_bytes).column_moments(weights, reweight=class_k)
        np.testing.assert_allclose(mean, expected[0], rtol=1e-10)
        np.testing.assert_allclose(variance, expected[1], rtol=1e-8)
        np.testing.assert_allclose(total, expected[2], rtol=1e-10)
        # And by the formula, centred in float64 (the large constant part's
        # column with it: its spread is the noise's, not rounding's).
        dense = X.toarray()
        Z = dense @ W + b
        P = np.exp(Z - Z.max(axis=1, keepdims=True))
        P /= P.sum(axis=1, keepdims=True)
        h = weights * P[:, k] * (1 - P[:, k])
        ref_mean, ref_cov = weighted_reference(dense, h / h.sum())
        np.testing.assert_allclose(total, h.sum(), rtol=1e-10)
        np.testing.assert_allclose(mean, ref_mean, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(variance, np.diag(ref_cov), rtol=1e-6)


@pytest.mark.parametrize(
    ("dtype", "magnitude"), [(np.float64, 1e150), (np.float32, 1e20)]
)
def test_moments_of_huge_features_do_not_overflow(rng, monkeypatch, dtype, magnitude):
    # float32 squares of 1e20 overflow; the moments fall back to float64,
    # in each slice of the sums of squares (a few rows each here).
    monkeypatch.setattr(_moments, "_SQUARES_BYTES", 0)
    X = (rng.normal(size=(50, 2)) * magnitude).astype(dtype)
    weights = np.full(50, 1 / 50)
    with np.errstate(all="raise"):
        for covariance in (False, True):
            _, spread, _ = backend_for(X).column_moments(weights, covariance)
            variance = np.diag(spread) if covariance else spread
            np.testing.assert_allclose(
                variance, X.astype(np.float64).var(axis=0), rtol=1e-5
            )


def softmax_of(W, b):
    """The class probabilities of a block of rows, dense or sparse."""

    def probabilities(X_b):
        Z = np.asarray(X_b @ W) + b
        P = np.exp(Z - Z.max(axis=1, keepdims=True))
        return P / P.sum(axis=1, keepdims=True)

    return probabilities


def information_from_the_formula(X, weights, P, n_outputs, fit_intercept, center, R):
    """``sum_i w_i V_i kron u_i u_i^T`` and ``sum_i w_i r_i r_i^T kron u_i
    u_i^T``, row by row: ``V_i = diag(p_i) - p_i p_i^T`` for K outputs,
    ``p_i0 p_i1`` for one; ``u_i = [x_i - center, 1]`` or ``x_i - center``."""
    U = X.toarray() if sp.issparse(X) else np.array(X, dtype=np.float64)
    if center is not None:
        U = U - center
    if fit_intercept:
        U = np.hstack([U, np.ones((U.shape[0], 1))])
    if n_outputs == 1:
        V = (P[:, 0] * P[:, 1])[:, None, None]
    else:
        V = P[:, :, None] * np.eye(n_outputs) - P[:, :, None] * P[:, None, :]
    size = n_outputs * U.shape[1]

    def summed(C):
        summed = np.einsum("i,ikl,ij,im->kjlm", weights, C, U, U, optimize=True)
        return summed.reshape(size, size)

    return summed(V), summed(R[:, :, None] * R[:, None, :])


@pytest.mark.parametrize("kind", ["dense", "csr", "csc"])
@pytest.mark.parametrize("n_outputs", [1, 3, 6])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("centred", [False, True])
def test_information_matrix_is_the_formula(
    rng, kind, n_outputs, fit_intercept, centred
):
    # Binary (the sigmoid's one output of two classes) and multinomial, with
    # the scores' outer products, on X's own columns or centred ones. Six
    # classes: more than the columns of [X, 1], whose diagonal blocks then
    # come from one product with the rows' outer products (_diagonal_blocks).
    if centred and kind != "dense":
        pytest.skip("a center needs a dense X")
    n, d = 300, 4
    X = sp.random(n, d, density=0.5, format="csr", random_state=rng)
    X.data = X.data * 3 - 1
    X = X.toarray() if kind == "dense" else X.asformat(kind)
    weights = rng.uniform(0.5, 2, size=n)
    n_classes = 2 if n_outputs == 1 else n_outputs
    P = softmax_of(rng.normal(size=(d, n_classes)), rng.normal(size=n_classes))(X)
    y = rng.randint(n_classes, size=n)
    R = P - np.eye(n_classes)[y]
    R = R[:, 1:] if n_outputs == 1 else R
    center = weights @ X / weights.sum() if centred else None
    with counted_passes() as passes:
        information, scores = backend_for(X).information_matrix(
            weights,
            P,
            n_outputs,
            fit_intercept=fit_intercept,
            center=center,
            residuals=R,
        )
    assert passes == {"information_matrix": 1}  # one read of X for both
    expected = information_from_the_formula(
        X, weights, P, n_outputs, fit_intercept, center, R
    )
    for got, want in zip((information, scores), expected, strict=True):
        assert got.shape == (n_outputs * (d + fit_intercept),) * 2
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12 * abs(want).max())
    only, none = backend_for(X).information_matrix(
        weights, P, n_outputs, fit_intercept=fit_intercept, center=center
    )
    assert none is None
    np.testing.assert_array_equal(only, information)


def test_information_matrix_of_sparse_x_takes_no_center(rng):
    X = sp.random(20, 3, density=0.5, format="csr", random_state=rng)
    P = np.full((20, 2), 0.5)
    with pytest.raises(ValueError, match="dense X"):
        backend_for(X).information_matrix(
            np.ones(20), P, 1, fit_intercept=True, center=np.ones(3)
        )


@pytest.mark.parametrize("kind", ["dense", "csr"])
@pytest.mark.parametrize("centred", [True, False])
def test_information_matrix_over_threads_and_blocks(rng, kind, centred):
    # Dense: several blocks per thread; sparse: several blocks of rows. The
    # probabilities as a function of each block, as the step metric gives them.
    if centred and kind != "dense":
        pytest.skip("a center needs a dense X")
    n, d, K = 60_000, 5, 3
    if kind == "dense":
        X = rng.normal(size=(n, d)) * [1, 3, 0.5, 10, 1] + [0, 5, 0, -2, 1]
    else:  # 4 MiB of sparse rows a block: these are 3 blocks
        n = 300_000
        X = sp.random(n, d, density=0.6, format="csr", random_state=rng)
    weights = rng.uniform(size=n) / n
    probabilities = softmax_of(rng.normal(size=(d, K)), rng.normal(size=K))
    center = np.asarray(weights @ X) / weights.sum() if centred else None
    P = probabilities(X)

    def run():
        information, scores = backend_for(X).information_matrix(
            weights, probabilities, K, fit_intercept=centred, center=center
        )
        assert scores is None
        return information

    expected, _ = information_from_the_formula(
        X, weights, P, K, centred, center, np.zeros((n, K))
    )
    threaded = run()
    with threadpool_limits(limits=1):
        single = run()
    np.testing.assert_allclose(threaded, expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(single, threaded, rtol=1e-12, atol=1e-15)


def test_threaded_pass_matches_one_thread_and_is_reproducible(rng):
    # Small blocks: many groups of blocks, one per thread where BLAS allows.
    X = rng.normal(size=(3000, 7))
    y = rng.normal(size=3000)
    weights = rng.uniform(size=3000)
    points = [(rng.normal(size=7), rng.normal(size=1)) for _ in range(2)]
    before = threadpool_info()

    def run():
        backend = backend_for(X, block_bytes=800)
        return backend.linear_pass(y, weights, points, squared_pointwise)

    threaded, again = run(), run()
    with threadpool_limits(limits=1):  # the user's limit: one thread, one group
        single = run()
    assert threadpool_info() == before  # BLAS limits restored after each pass
    for a, b, c in zip(threaded, again, single, strict=True):
        for x, y_, z in zip(a, b, c, strict=True):
            np.testing.assert_array_equal(x, y_)  # same threads: same sums
            np.testing.assert_allclose(x, z, rtol=1e-12)


def test_passes_use_threads_and_the_threads_see_the_callers_error_state(rng):
    X = rng.normal(size=(3000, 7))
    used = []

    def overflowing(blocks):
        used.append(threading.get_ident())
        for _, X_b, _ in blocks:
            np.exp(X_b * 1e3)  # overflows: silent under the caller's errstate
        return 0

    with np.errstate(over="ignore"):
        groups = row_blocks._host_threads.map_groups(X, 800, overflowing)
    blas_threads = max(
        info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"
    )
    # One group per thread BLAS may use (3000 rows of 56 bytes: 210 blocks).
    assert len(groups) == len(used) == blas_threads
    if blas_threads > 1:
        assert threading.get_ident() not in used


@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_exclusive_column_groups_are_the_one_hot_features(rng, fmt):
    X = one_hot(rng).asformat(fmt)
    before = X.copy()
    assert backend_for(X).exclusive_column_groups() == [0, 3, 8, 10]
    for name in ("data", "indices", "indptr"):
        np.testing.assert_array_equal(getattr(X, name), getattr(before, name))


@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_exclusive_column_groups_are_none_in_other_structures(rng, fmt):
    X = one_hot(rng).tolil()
    assert backend_for(X.toarray()).exclusive_column_groups() == []  # dense
    assert (
        backend_for(X[:, 1:].asformat(fmt)).exclusive_column_groups() == []
    )  # drop="first"
    two = X.copy()  # a row with two entries in its first group, none in another
    two[0, 0] = two[0, 1] = 1
    two[0, 3:8] = 0
    assert two.asformat(fmt).nnz == X.nnz
    assert backend_for(two.asformat(fmt)).exclusive_column_groups() == []
    random = sp.random(60, 10, density=0.3, format=fmt, random_state=rng)
    assert backend_for(random).exclusive_column_groups() == []


def test_exclusive_column_groups_need_sorted_indices(rng):
    X = one_hot(rng).tocsr()
    X.indices = X.indices.reshape(-1, 3)[:, ::-1].ravel().copy()  # reversed rows
    X.has_sorted_indices = False
    assert backend_for(X).exclusive_column_groups() == []


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("block_bytes", [None, 200])
def test_a_dense_product_of_several_columns_is_numpys_in_rows(
    rng, dtype, order, block_bytes
):
    """A dense X's product with several columns (made block by block of
    rows, W's columns on the left) is numpy's ``X @ W``: its values, its
    dtype, its shape, C-ordered and new (the scores are added to in
    place), in one block or in many (``block_bytes`` of 200: three rows)."""
    X = np.asarray(rng.normal(size=(50, 7)), dtype=dtype, order=order)
    coef = rng.normal(size=(8, 3)).astype(dtype)
    W = coef[:7]  # a view, as the objective's split gives
    backend = backend_for(X, block_bytes=block_bytes)
    Z = backend.product(W)
    expected = X @ W
    assert Z.dtype == expected.dtype and Z.shape == expected.shape
    assert Z.flags.c_contiguous and Z.flags.writeable
    assert not np.shares_memory(Z, X) and not np.shares_memory(Z, coef)
    np.testing.assert_allclose(Z, expected, rtol=1e-5 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("kind", ["dense", "csr", "csc"])
@pytest.mark.parametrize("n_outputs", [1, 3])
def test_products_for_kept_scores_equal_numpy(rng, kind, n_outputs):
    # The products of a solver that keeps its scores: X @ W and R @ X, one
    # read of X each, on every kind of X in memory; their bytes too.
    dense = rng.normal(size=(50, 7)) * (rng.uniform(size=(50, 7)) < 0.4)
    X = dense if kind == "dense" else getattr(sp, f"{kind}_matrix")(dense)
    backend = backend_for(X)
    shape = (7,) if n_outputs == 1 else (7, n_outputs)
    W, R = rng.normal(size=shape), rng.normal(size=(n_outputs, 50)).squeeze()
    with counted_passes() as passes:
        np.testing.assert_allclose(backend.product(W), dense @ W, rtol=1e-12)
        np.testing.assert_allclose(backend.transposed_product(R), R @ dense, rtol=1e-12)
    assert passes == {"product": 1, "transposed_product": 1}
    stored = (
        X.nbytes
        if kind == "dense"
        else (X.data.nbytes + X.indices.nbytes + X.indptr.nbytes)
    )
    assert backend.nbytes == stored
