"""Dask arrays on a distributed cluster: the same model as in memory."""

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

from sklearn.datasets import make_classification  # noqa: E402

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
    assert abs(distributed_fit.n_iter_ - memory.n_iter_) <= max(2, memory.n_iter_ // 20)


def test_unknown_chunk_sizes_and_lazy_predictions(client):
    X, y, _ = data(3)
    dX, dy = chunked(X, y)
    keep = dX[:, 0] > -np.inf  # keeps every row, but forgets the chunk sizes
    dX, dy = dX[keep], dy[keep]
    assert np.isnan(dX.chunks[0][0])
    clf = GradientDescentLogisticRegression().fit(dX, dy)
    reference = GradientDescentLogisticRegression().fit(X, y)
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


def test_each_iteration_is_one_compute_on_the_cluster(client, monkeypatch):
    import dask

    X, y, _ = data(2)
    dX, dy = chunked(X, y)
    calls = []
    compute = dask.compute

    def counting(*args, **kwargs):
        calls.append(len(args))
        return compute(*args, **kwargs)

    monkeypatch.setattr(dask, "compute", counting)
    with distributed.get_task_stream(client) as tasks:
        # Constant steps, no momentum: exactly one evaluation per iteration.
        clf = GradientDescentLogisticRegression(
            solver="gd", learning_rate=1.0, max_iter=25, tol=0
        )
        with pytest.warns(UserWarning):  # ConvergenceWarning: tol=0
            clf.fit(dX, dy)
    # Classes and checks, class totals, the moments, the starting point,
    # then one compute per iteration.
    assert len(calls) == 4 + clf.n_iter_
    assert len(tasks.data) > 0  # the work ran on the cluster's workers


def test_bad_dask_input_gives_clear_errors(client):
    X, y, _ = data(2)
    bad = X.copy()
    bad[5, 2] = np.nan
    with pytest.raises(ValueError, match="NaN or infinity"):
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
    scaled = GradientDescentLogisticRegression().fit(dX, dy, sample_weight=3.0)
    same = GradientDescentLogisticRegression(C=3.0).fit(X, y)
    np.testing.assert_allclose(scaled.coef_, same.coef_, rtol=1e-6, atol=1e-9)


def test_dask_dataframe_and_series(client):
    dd = pytest.importorskip("dask.dataframe")
    pd = pytest.importorskip("pandas")
    X, y, _ = data(2)
    frame = dd.from_pandas(pd.DataFrame(X), npartitions=3)
    labels = dd.from_pandas(pd.Series(y), npartitions=3)
    clf = GradientDescentLogisticRegression().fit(frame, labels)
    reference = GradientDescentLogisticRegression().fit(X, y)
    np.testing.assert_allclose(clf.coef_, reference.coef_, rtol=1e-6, atol=1e-9)
    proba = clf.predict_proba(frame)
    assert isinstance(proba, da.Array)
    np.testing.assert_allclose(proba.compute(), reference.predict_proba(X), atol=1e-7)
