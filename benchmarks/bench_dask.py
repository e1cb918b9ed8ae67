"""Dask: wall time to the same objective as dask-ml, on one cluster, in one run.

Starts a ``distributed.LocalCluster`` (or uses ``--scheduler ADDRESS``),
makes standardised ``make_classification`` data as a dask array in 16 row
chunks (400k x 50, then 1M x 100, by default), persists it on the workers,
and fits, alternating over repeats:

- ``GradientDescentLogisticRegression`` with default settings;
- dask-ml's ``LogisticRegression`` with its solvers ``newton``, ``lbfgs``
  and ``gradient_descent``.

All fits are (in effect) unpenalised: ``C=np.inf`` for ours, ``C=1e12`` for
dask-ml (dask-glm has no "none" penalty), so every solver minimises the same
function, the mean log-loss. The
script prints the best wall time, that objective (computed the same way for
all), its gap to the lowest, and our time divided by dask-ml's best. For our
fit it also prints its rounds of tasks (one task per worker each: the passes
over X, and the setup's rounds) and, per round, the wall time against the
pure compute (the longest worker's task time, from the task stream): the
rest is the overhead of the scheduler round trip.

Needs ``pip install "sklearn-gdlogreg[dask]" dask-ml``.
Run: ``python benchmarks/bench_dask.py [--shapes 400000x50 1000000x100]
[--chunks 16] [--repeats 3]``
"""

from __future__ import annotations

import argparse
import time
import warnings

import dask.array as da
import numpy as np
from distributed import Client, LocalCluster, get_task_stream, wait
from sklearn.datasets import make_classification
from sklearn.preprocessing import StandardScaler

from sklearn_gdlogreg import GradientDescentLogisticRegression
from sklearn_gdlogreg._reference import reference_objective


def models():
    from dask_ml.linear_model import LogisticRegression as DaskMLLogisticRegression

    return {
        "ours (defaults, C=inf)": lambda: GradientDescentLogisticRegression(C=np.inf),
        "dask-ml newton": lambda: DaskMLLogisticRegression(solver="newton", C=1e12),
        "dask-ml lbfgs": lambda: DaskMLLogisticRegression(solver="lbfgs", C=1e12),
        "dask-ml gradient_descent": lambda: DaskMLLogisticRegression(
            solver="gradient_descent", C=1e12
        ),
    }


def round_costs(stream: list[dict], n_workers: int) -> tuple[int, float]:
    """The rounds of our fit in a task stream, and their mean pure compute:
    a round is one task per worker, and lasts as long as its longest task."""
    tasks = [t for t in stream if "_each_chunk" in str(t["key"])]
    durations = sorted(
        (t["startstops"][-1]["start"], t["startstops"][-1]["stop"]) for t in tasks
    )
    rounds = [durations[i : i + n_workers] for i in range(0, len(tasks), n_workers)]
    compute = [max(stop - start for start, stop in r) for r in rounds]
    return len(rounds), float(np.mean(compute))


def run(client, n_samples, n_features, n_chunks, repeats) -> None:
    X, y = make_classification(
        n_samples=n_samples,
        n_features=n_features,
        n_informative=n_features // 5,
        n_redundant=0,
        random_state=0,
    )
    X = StandardScaler().fit_transform(X)
    chunk_rows = -(-n_samples // n_chunks)
    dX = da.from_array(X, chunks=(chunk_rows, n_features)).persist()
    dy = da.from_array(y, chunks=chunk_rows).persist()
    wait([dX, dy])
    del X, y
    n_workers = len(client.scheduler_info()["workers"])
    times: dict[str, list[float]] = {name: [] for name in models()}
    fitted, costs = {}, []
    for _ in range(repeats):
        for name, make in models().items():
            model = make()
            with warnings.catch_warnings(), get_task_stream(client) as stream:
                warnings.simplefilter("ignore")
                start = time.perf_counter()
                model.fit(dX, dy)
                times[name].append(time.perf_counter() - start)
            if name.startswith("ours"):
                costs.append((times[name][-1], *round_costs(stream.data, n_workers)))
            fitted[name] = model
    values = {
        # The mean log-loss (C=np.inf), the same formula for every model.
        name: reference_objective(model, dX, dy, C=np.inf)
        for name, model in fitted.items()
    }
    lowest = min(values.values())
    print(
        f"\n{n_samples} x {n_features}, {n_chunks} chunks of {chunk_rows} rows, "
        f"{n_workers} workers, best of {repeats}"
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
    wall, rounds, compute = min(costs)
    ours_model = fitted["ours (defaults, C=inf)"]
    print(
        f"  ours: {ours_model.n_iter_} iterations, {rounds} rounds of tasks; per "
        f"round {1e3 * wall / rounds:.0f} ms of wall time, of which "
        f"{1e3 * compute:.0f} ms compute and {1e3 * (wall / rounds - compute):.0f} "
        "ms overhead (the persist of the setup included)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--shapes", nargs="+", default=["400000x50", "1000000x100"], help="NxD"
    )
    parser.add_argument("--chunks", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
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
        for shape in args.shapes:
            n_samples, n_features = map(int, shape.lower().split("x"))
            run(client, n_samples, n_features, args.chunks, args.repeats)


if __name__ == "__main__":
    main()
