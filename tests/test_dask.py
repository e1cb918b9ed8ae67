"""Dask arrays on a distributed cluster: the same model as in memory.

Row chunks keep no scores, so a fit on them takes accelerated steps where
the same X in memory may take conjugate directions (see
``_plan.takes_conjugate_directions``): the two are compared at ``tol=1e-8``,
where both are at the minimum.

Skipped, naming the package, without dask or distributed (the ``dask`` extra).
"""

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

from sklearn.datasets import make_classification  # noqa: E402
from sklearn.exceptions import DataConversionWarning  # noqa: E402

from sklearn_gdlogreg import GradientDescentLogisticRegression  # noqa: E402


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        host="127.0.0.1",  # loopback only
        dashboard_address=None,
        processes=True,
    )
    with distributed.Client(cluster) as client:
        yield client
    cluster.close()


def data(n_classes, seed=0):
    X, y = make_classification(
        n_samples=600,
        n_features=6,
        n_informative=4,
        n_redundant=0,  # no collinear columns: a unique maximum likelihood
        n_classes=n_classes,
        random_state=seed,
    )
    X = X * [1, 10, 0.1, 1, 5, 1] + [0, 20, 0, 3, 0, 0]  # raw, uncentred
    weights = np.random.RandomState(seed).uniform(0.2, 3, size=len(y))
    return X, y, weights


def chunked(*arrays, rows=150):
    return [da.from_array(a, chunks=(rows, *a.shape[1:])) for a in arrays]


PENALTIES = [
    {"C": 1.0},
    {"C": np.inf},
    # L1 fits converge slowly on these raw features; strong penalties keep the
    # number of iterations (one cluster round trip each) small.
    {"C": 0.05, "l1_ratio": 1.0},
    {"C": 0.1, "l1_ratio": 0.5},
    {"C": 1.0, "class_weight": "balanced"},
]


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("params", PENALTIES)
def test_dask_fit_equals_in_memory_fit(client, n_classes, params):
    X, y, weights = data(n_classes)
    make = lambda: GradientDescentLogisticRegression(tol=1e-8, **params)  # noqa: E731
    memory = make().fit(X, y, sample_weight=weights)
    distributed_fit = make().fit(*chunked(X, y), sample_weight=chunked(weights)[0])
    scale = np.abs(memory.coef_).max()
    np.testing.assert_allclose(distributed_fit.coef_, memory.coef_, atol=1e-6 * scale)
    np.testing.assert_allclose(
        distributed_fit.intercept_, memory.intercept_, atol=1e-6 * scale
    )
    np.testing.assert_array_equal(distributed_fit.classes_, memory.classes_)
    # Both stopped at a gradient of at most tol: the same objective, to
    # rounding (the iteration counts may differ by the rounding of the sums).
    assert abs(distributed_fit.loss_curve_[-1] - memory.loss_curve_[-1]) <= 1e-12


def test_dask_fits_are_bitwise_reproducible(client):
    """Three fits of the same data give the same bits, whichever worker holds
    which chunk and wherever distributed put its bytes."""
    X, y, weights = data(3)
    dX, dy, dw = (a.persist() for a in chunked(X, y, weights, rows=50))
    fits = [
        GradientDescentLogisticRegression(tol=1e-8).fit(dX, dy, sample_weight=dw)
        for _ in range(3)
    ]
    for fit in fits[1:]:
        np.testing.assert_array_equal(fit.coef_, fits[0].coef_)
        np.testing.assert_array_equal(fit.intercept_, fits[0].intercept_)
        assert fit.n_iter_ == fits[0].n_iter_


def test_unknown_chunk_sizes_and_lazy_predictions(client):
    X, y, _ = data(3)
    dX, dy = chunked(X, y)
    keep = dX[:, 0] > -np.inf  # keeps every row, but forgets the chunk sizes
    dX, dy = dX[keep], dy[keep]
    assert np.isnan(dX.chunks[0][0])
    clf = GradientDescentLogisticRegression(tol=1e-8).fit(dX, dy)
    reference = GradientDescentLogisticRegression(tol=1e-8).fit(X, y)
    np.testing.assert_allclose(clf.coef_, reference.coef_, rtol=1e-6, atol=1e-9)
    for method in (
        "decision_function",
        "predict_proba",
        "predict_log_proba",
        "predict",
    ):
        lazy = getattr(clf, method)(dX)
        assert isinstance(lazy, da.Array), method
        expected = getattr(clf, method)(X)
        got = lazy.compute()
        if method == "predict":
            np.testing.assert_array_equal(got, expected)
        else:
            np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_each_pass_is_one_task_per_worker_on_the_cluster(client):
    X, y, _ = data(2)
    dX, dy = chunked(X, y, rows=75)  # 8 chunks on 2 workers
    with distributed.get_task_stream(client) as stream:
        # Constant steps, no momentum: exactly one evaluation per iteration.
        clf = GradientDescentLogisticRegression(
            solver="gd", learning_rate=1.0, max_iter=25, tol=0
        )
        with pytest.warns(UserWarning):  # ConvergenceWarning: tol=0
            clf.fit(dX, dy)
    tasks = [t for t in stream.data if "_each_chunk" in str(t["key"])]
    assert {t["worker"] for t in tasks} <= set(client.scheduler_info()["workers"])
    # One task per worker a pass (a task per chunk would make 8): a few
    # setup passes (rows, checks, encoding, moments, starting point), then
    # one an iteration.
    assert 2 * clf.n_iter_ <= len(tasks) <= 2 * (clf.n_iter_ + 6)


def test_bad_dask_input_gives_clear_errors(client):
    X, y, _ = data(2)
    bad = X.copy()
    bad[5, 2] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        GradientDescentLogisticRegression().fit(*chunked(bad, y))
    with pytest.raises(ValueError, match="one class"):
        GradientDescentLogisticRegression().fit(*chunked(X, np.zeros_like(y)))
    dX, dy = chunked(X, y)
    with pytest.raises(ValueError, match="negative"):
        GradientDescentLogisticRegression().fit(dX, dy, sample_weight=-np.ones(len(y)))
    clf = GradientDescentLogisticRegression().fit(dX, dy)
    with pytest.raises(ValueError, match="features"):
        clf.predict(dX[:, :3])
    with pytest.raises(ValueError, match="all zero"):
        GradientDescentLogisticRegression().fit(dX, dy, sample_weight=0.0)
    # A scalar weight of 3 for every sample: the objective of C=3.
    scaled = GradientDescentLogisticRegression(tol=1e-8).fit(dX, dy, sample_weight=3.0)
    same = GradientDescentLogisticRegression(C=3.0, tol=1e-8).fit(X, y)
    np.testing.assert_allclose(scaled.coef_, same.coef_, rtol=1e-6, atol=1e-9)


def test_dask_dataframe_and_series(client):
    dd = pytest.importorskip("dask.dataframe")
    pd = pytest.importorskip("pandas")
    X, y, _ = data(2)
    columns = [f"f{j}" for j in range(X.shape[1])]
    frame = dd.from_pandas(pd.DataFrame(X, columns=columns), npartitions=3)
    labels = dd.from_pandas(pd.Series(y), npartitions=3)
    clf = GradientDescentLogisticRegression(tol=1e-8).fit(frame, labels)
    reference = GradientDescentLogisticRegression(tol=1e-8).fit(
        pd.DataFrame(X, columns=columns), y
    )
    np.testing.assert_array_equal(clf.feature_names_in_, reference.feature_names_in_)
    np.testing.assert_allclose(clf.coef_, reference.coef_, rtol=1e-6, atol=1e-9)
    proba = clf.predict_proba(frame)
    assert isinstance(proba, da.Array)
    expected = reference.predict_proba(pd.DataFrame(X, columns=columns))
    np.testing.assert_allclose(proba.compute(), expected, atol=1e-7)
    # Columns reordered or renamed: an error, as in memory, not a wrong answer.
    with pytest.raises(ValueError, match="feature names"):
        clf.predict(frame[columns[::-1]])
    with pytest.raises(ValueError, match="feature names"):
        clf.predict(frame.rename(columns={"f0": "g0"}))
    # A refit on an array forgets the names.
    clf.fit(*chunked(X, y))
    assert not hasattr(clf, "feature_names_in_")


def test_dask_labels_are_validated(client):
    X, y, _ = data(2)
    with_nan = y.astype(float)
    with_nan[3] = np.nan
    with pytest.raises(ValueError, match="Input y contains NaN"):
        GradientDescentLogisticRegression().fit(*chunked(X, with_nan))
    continuous = np.random.RandomState(0).uniform(size=len(y))
    with pytest.raises(ValueError, match="Unknown label type: continuous"):
        GradientDescentLogisticRegression().fit(*chunked(X, continuous))
    column = chunked(y[:, None])[0]
    with pytest.warns(DataConversionWarning, match="column-vector y"):
        clf = GradientDescentLogisticRegression(tol=1e-8).fit(chunked(X)[0], column)
    reference = GradientDescentLogisticRegression(tol=1e-8).fit(X, y)
    np.testing.assert_allclose(clf.coef_, reference.coef_, rtol=1e-6, atol=1e-9)


def test_dask_predict_checks_values_and_features(client):
    X, y, _ = data(2)
    clf = GradientDescentLogisticRegression().fit(*chunked(X, y))
    bad = X.copy()
    bad[7, 1] = np.nan
    for method in ("predict", "predict_proba", "decision_function"):
        lazy = getattr(clf, method)(chunked(bad)[0])
        with pytest.raises(ValueError, match="Input X contains NaN"):
            lazy.compute()
    with pytest.raises(ValueError, match="features"):
        clf.predict(chunked(X[:, :4])[0])


def test_empty_dask_input_is_a_clear_error(client):
    X, y, _ = data(2)
    with pytest.raises(ValueError, match=r"0 feature\(s\)"):
        GradientDescentLogisticRegression().fit(*chunked(X[:, :0], y))
    dX, dy = chunked(X, y)
    keep = dX[:, 0] > np.inf  # no row, with unknown chunk sizes
    with pytest.raises(ValueError, match=r"0 sample\(s\)"):
        GradientDescentLogisticRegression().fit(dX[keep], dy[keep])


def test_dask_weights_are_checked_like_in_memory(client):
    X, y, weights = data(3)
    dX, dy = chunked(X, y)
    for class_weight in ({0: np.nan}, {0: np.inf}, {1: -1.0}):
        with pytest.raises(ValueError, match="class_weight must be finite"):
            GradientDescentLogisticRegression(class_weight=class_weight).fit(dX, dy)
    bad = weights.copy()
    bad[2] = np.inf
    with pytest.raises(ValueError, match="sample_weight contains infinity"):
        GradientDescentLogisticRegression().fit(dX, dy, chunked(bad)[0])
    # Weights near float64's maximum: no overflow, the unpenalised model.
    huge = GradientDescentLogisticRegression(tol=1e-8).fit(
        dX, dy, sample_weight=chunked(np.full(len(y), 1e308))[0]
    )
    unpenalised = GradientDescentLogisticRegression(C=np.inf, tol=1e-8).fit(X, y)
    np.testing.assert_allclose(huge.coef_, unpenalised.coef_, rtol=1e-4, atol=1e-6)


def unknown_sizes(array):
    """``array`` with every row kept, but chunk sizes that dask forgets."""
    return array[da.ones(array.shape[0], chunks=array.chunks[0], dtype=bool)]


@pytest.fixture(params=["cluster", "local"])
def scheduler(request):
    """The module's cluster, or dask's local scheduler (the fit's chunks
    computed in this process, as without a distributed Client): chosen as a
    user chooses it, even where the module's Client is the default."""
    request.getfixturevalue("client")
    if request.param == "cluster":
        yield
        return
    dask = pytest.importorskip("dask")
    with dask.config.set(scheduler="synchronous"):
        yield


def unaligned(X, y, weights):
    """X, y and sample_weight chunked differently, by case: the rows match
    only in total (X's chunks: 150 rows)."""
    dX, dw = chunked(X, weights)
    by_sizes = ((100, 200, 150, 150),)
    return {
        # The same number of chunks, of other sizes, all sizes unknown.
        "unknown sizes": (
            unknown_sizes(dX),
            unknown_sizes(da.from_array(y, chunks=by_sizes)),
            unknown_sizes(da.from_array(weights, chunks=((50, 250, 150, 150),))),
        ),
        "unknown, other numbers of chunks": (
            unknown_sizes(dX),
            unknown_sizes(da.from_array(y, chunks=100)),
            unknown_sizes(da.from_array(weights, chunks=600)),
        ),
        "X known, y unknown": (
            dX,
            unknown_sizes(da.from_array(y, chunks=by_sizes)),
            dw,
        ),
        "numpy y and weights, X unknown": (unknown_sizes(dX), y, weights),
        "all known": (dX, da.from_array(y, chunks=by_sizes), dw),
    }


@pytest.mark.parametrize(
    "case",
    [
        "unknown sizes",
        "unknown, other numbers of chunks",
        "X known, y unknown",
        "numpy y and weights, X unknown",
        "all known",
    ],
)
def test_y_and_weights_chunked_unlike_X_are_aligned(scheduler, case):
    """Only the totals of rows must match, as in memory: y and sample_weight
    are aligned to X's row chunks, known or not."""
    X, y, weights = data(3)
    reference = GradientDescentLogisticRegression(tol=1e-8).fit(
        X, y, sample_weight=weights
    )
    dX, dy, dw = unaligned(X, y, weights)[case]
    clf = GradientDescentLogisticRegression(tol=1e-8).fit(dX, dy, sample_weight=dw)
    scale = np.abs(reference.coef_).max()
    np.testing.assert_allclose(clf.coef_, reference.coef_, atol=1e-6 * scale)
    np.testing.assert_allclose(clf.intercept_, reference.intercept_, atol=1e-6 * scale)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_a_chunk_a_mask_empties_adds_nothing(scheduler, n_classes):
    """A row chunk with no rows left (a mask's) is a block of no rows in
    each pass: the model of the rows kept, as in memory."""
    X, y, _ = data(n_classes)
    dX, dy = chunked(X, y)
    keep = np.ones(X.shape[0], dtype=bool)
    keep[150:300] = False  # the second chunk of 150 rows, all of it
    dkeep = da.from_array(keep, chunks=dX.chunks[0])
    clf = GradientDescentLogisticRegression(tol=1e-8).fit(dX[dkeep], dy[dkeep])
    reference = GradientDescentLogisticRegression(tol=1e-8).fit(X[keep], y[keep])
    scale = np.abs(reference.coef_).max()
    np.testing.assert_allclose(clf.coef_, reference.coef_, atol=1e-6 * scale)
    np.testing.assert_allclose(clf.intercept_, reference.intercept_, atol=1e-6 * scale)


@pytest.mark.parametrize("known", [True, False])
def test_other_numbers_of_rows_are_a_clear_error(scheduler, known):
    X, y, weights = data(2)
    dX, dy = chunked(X, y)
    short_y = da.from_array(y[:-10], chunks=((100, 190, 150, 150),))
    short_w = da.from_array(weights[:-5], chunks=100)
    if not known:
        dX, dy, short_y, short_w = map(unknown_sizes, (dX, dy, short_y, short_w))
    with pytest.raises(ValueError, match="y has 590 entries but X has 600 rows"):
        GradientDescentLogisticRegression().fit(dX, short_y)
    with pytest.raises(ValueError, match="y has 590 entries but X has 600 rows"):
        GradientDescentLogisticRegression().fit(dX, y[:-10])
    with pytest.raises(
        ValueError, match="sample_weight has 595 entries but X has 600 rows"
    ):
        GradientDescentLogisticRegression().fit(dX, dy, sample_weight=short_w)


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("known", [True, False])
def test_offsets_give_the_in_memory_model(scheduler, n_classes, known):
    """Offsets, one column per class for more than two, persisted with the
    chunks (on the cluster's workers), known chunk sizes or not."""
    X, y, weights = data(n_classes)
    shape = (len(y),) if n_classes == 2 else (len(y), n_classes)
    offset = np.random.default_rng(0).normal(size=shape)
    reference = GradientDescentLogisticRegression(tol=1e-8).fit(
        X, y, sample_weight=weights, offset=offset
    )
    dX, dy, dw, doff = chunked(X, y, weights, offset)
    if not known:
        dX, dy, dw, doff = map(unknown_sizes, (dX, dy, dw, doff))
    clf = GradientDescentLogisticRegression(tol=1e-8)
    clf.fit(dX, dy, sample_weight=dw, offset=doff)
    scale = np.abs(reference.coef_).max()
    np.testing.assert_allclose(clf.coef_, reference.coef_, atol=1e-6 * scale)
    proba = clf.predict_proba(chunked(X)[0], offset=chunked(offset)[0]).compute()
    np.testing.assert_allclose(
        proba, reference.predict_proba(X, offset=offset), atol=1e-7
    )
