"""Dask: wall time to the same objective as dask-ml, on one cluster, in one run.

Starts a ``distributed.LocalCluster`` (or uses ``--scheduler ADDRESS``),
makes standardised ``make_classification`` data as a dask array in row
chunks (200k x 50 in 50k-row chunks by default), persists it on the workers,
and fits, alternating over repeats:

- ``GradientDescentLogisticRegression`` with default settings;
- dask-ml's ``LogisticRegression(solver="lbfgs")`` and
  ``LogisticRegression(solver="gradient_descent")``.

All fits are (in effect) unpenalised: ``C=np.inf`` for ours, ``C=1e12`` for
dask-ml (dask-glm has no "none" penalty), so every solver minimises the same
function, the mean log-loss. The
script prints the best wall time, that objective (computed the same way for
all), its gap to the lowest, and our time divided by dask-ml's best.

Needs ``pip install "sklearn-gdlogreg[dask]" dask-ml``.
Run: ``python benchmarks/bench_dask.py [--sizes 200000 1000000] [--repeats 2]``
"""

from __future__ import annotations

import argparse
import time
import warnings

import dask.array as da
import numpy as np
from distributed import Client, LocalCluster
from sklearn.datasets import make_classification
from sklearn.preprocessing import StandardScaler

from sklearn_gdlogreg import GradientDescentLogisticRegression


def mean_log_loss(coef, intercept, X, y) -> float:
    z = X @ np.asarray(coef, dtype=np.float64).ravel() + float(np.ravel(intercept)[0])
    return float(da.mean(da.logaddexp(0, z) - y * z).compute())


def models():
    from dask_ml.linear_model import LogisticRegression as DaskMLLogisticRegression

    return {
        "ours (defaults, C=inf)": lambda: GradientDescentLogisticRegression(C=np.inf),
        "dask-ml lbfgs": lambda: DaskMLLogisticRegression(solver="lbfgs", C=1e12),
        "dask-ml gradient_descent": lambda: DaskMLLogisticRegression(
            solver="gradient_descent", C=1e12
        ),
    }


def run(client, n_samples, n_features, chunk_rows, repeats) -> None:
    X, y = make_classification(
        n_samples=n_samples,
        n_features=n_features,
        n_informative=n_features // 5,
        n_redundant=0,
        random_state=0,
    )
    X = StandardScaler().fit_transform(X)
    dX = da.from_array(X, chunks=(chunk_rows, n_features)).persist()
    dy = da.from_array(y, chunks=chunk_rows).persist()
    del X, y
    times: dict[str, list[float]] = {name: [] for name in models()}
    fitted = {}
    for _ in range(repeats):
        for name, make in models().items():
            model = make()
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model.fit(dX, dy)
            times[name].append(time.perf_counter() - start)
            fitted[name] = model
    values = {
        name: mean_log_loss(model.coef_, model.intercept_, dX, dy)
        for name, model in fitted.items()
    }
    lowest = min(values.values())
    print(
        f"\n{n_samples} x {n_features}, chunks of {chunk_rows} rows, "
        f"{len(client.scheduler_info()['workers'])} workers"
    )
    print(f"  {'model':<26} {'time (s)':>9} {'objective':>14} {'gap':>9}")
    for name in fitted:
        gap = (values[name] - lowest) / lowest
        print(f"  {name:<26} {min(times[name]):9.2f} {values[name]:14.10f} {gap:9.1e}")
    best_dask_ml = min(
        min(t) for name, t in times.items() if name.startswith("dask-ml")
    )
    ours = min(times["ours (defaults, C=inf)"])
    print(f"  ours / dask-ml's best = {ours / best_dask_ml:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[200_000])
    parser.add_argument("--n-features", type=int, default=50)
    parser.add_argument("--chunk-rows", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--scheduler", default=None, help="address of a cluster")
    args = parser.parse_args()
    if args.scheduler:
        client = Client(args.scheduler)
    else:
        cluster = LocalCluster(
            n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None
        )
        client = Client(cluster)
    with client:
        for n_samples in args.sizes:
            run(client, n_samples, args.n_features, args.chunk_rows, args.repeats)


if __name__ == "__main__":
    main()
