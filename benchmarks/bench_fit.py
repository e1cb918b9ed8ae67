"""Wall time, objective and memory of a fit against the peers, in one run.

Fits, alternating over repeats, ``GradientDescentLogisticRegression()`` with
default settings, ``LogisticRegression()`` (lbfgs),
``SGDClassifier(loss="log_loss")`` and a plain notebook-style loop (constant
step, full gradient, 100 iterations) on standardised ``make_classification``
data (float64 and float32) and on sparse CSR data, and prints for each:

- the best wall time and the iterations;
- the final objective, the same formula for every model
  (``LogisticRegression``'s divided by ``C * n``), and its gap to lbfgs's,
  relative;
- the time divided by lbfgs's;
- the peak memory ``fit`` allocates (``tracemalloc``), as a % of X's size.

For our estimator it also prints the cost of one loss-and-gradient pass and
of one iteration (the fit's time beyond a ``max_iter=1`` fit, per further
iteration) divided by one plain ``X @ v`` (the memory-bandwidth floor), and
the float32 speed-up.

Run: ``python benchmarks/bench_fit.py`` (300k rows), or
``python benchmarks/bench_fit.py --sizes 300000 1000000 --repeats 3``.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
import warnings

import numpy as np
import scipy.sparse as sp
from scipy.special import expit
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.preprocessing import StandardScaler

from sklearn_gdlogreg import GradientDescentLogisticRegression
from sklearn_gdlogreg._reference import reference_objective

OURS, LBFGS = "ours (defaults)", "LogisticRegression"


def objective(model, X, y, C=1.0) -> float:
    """LogisticRegression's objective divided by C * n (binary, L2), in float64."""
    return reference_objective(model, X, y, C=C)


class NotebookLoop:
    """The notebook's loop, correct gradient: constant step, fixed iterations."""

    def __init__(self, learning_rate=1.0, n_iter=100):
        self.learning_rate, self.n_iter_ = learning_rate, n_iter

    def fit(self, X, y):
        w, b = np.zeros(X.shape[1], dtype=X.dtype), 0.0
        y = y.astype(X.dtype)  # a float64 y would upcast (copy) float32 X each pass
        for _ in range(self.n_iter_):
            residual = (expit(X @ w + b) - y) / len(y)
            w -= self.learning_rate * (X.T @ residual + w / len(y))
            b -= self.learning_rate * residual.sum()
        self.coef_, self.intercept_ = w[None], np.array([b])
        return self


MODELS = {
    OURS: GradientDescentLogisticRegression,
    LBFGS: LogisticRegression,
    "SGDClassifier": lambda: SGDClassifier(loss="log_loss"),
    "notebook loop": NotebookLoop,
}


def best_time(function, repeats: int) -> float:
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


def nbytes(X) -> int:
    if sp.issparse(X):
        return X.data.nbytes + X.indices.nbytes + X.indptr.nbytes
    return X.nbytes


def peak_fit_memory(make, X, y) -> int:
    """Peak bytes allocated while fitting (numpy reports to tracemalloc)."""
    tracemalloc.start()
    start = tracemalloc.get_traced_memory()[0]
    make().fit(X, y)
    peak = tracemalloc.get_traced_memory()[1] - start
    tracemalloc.stop()
    return peak


def run(X, y, repeats: int, label: str) -> dict[str, float]:
    v = np.ones(X.shape[1], dtype=X.dtype)
    matvec = best_time(lambda: X @ v, 5)
    times: dict[str, list[float]] = {name: [] for name in MODELS}
    fitted = {}
    for _ in range(repeats):
        for name, make in MODELS.items():  # alternate, so noise hits all alike
            model = make()
            start = time.perf_counter()
            model.fit(X, y)
            times[name].append(time.perf_counter() - start)
            fitted[name] = model
    one_iteration = best_time(
        lambda: GradientDescentLogisticRegression(max_iter=1).fit(X, y), repeats
    )
    reference = objective(fitted[LBFGS], X, y)
    print(
        f"\n{label}: X is {nbytes(X) / 2**20:.0f} MiB, one X @ v takes "
        f"{matvec * 1e3:.1f} ms"
    )
    print(
        f"  {'model':<19} {'time (s)':>8} {'iters':>6} {'objective':>13} "
        f"{'gap':>9} {'/ lbfgs':>8} {'peak mem':>9}"
    )
    for name, model in fitted.items():
        best = min(times[name])
        value = objective(model, X, y)
        memory = peak_fit_memory(MODELS[name], X, y)
        print(
            f"  {name:<19} {best:8.3f} {int(np.ravel(model.n_iter_)[0]):6d} "
            f"{value:13.9f} {(value - reference) / reference:9.1e} "
            f"{best / min(times[LBFGS]):8.2f} {100 * memory / nbytes(X):8.1f}%"
        )
    ours = fitted[OURS]
    objective_function = _objective_of(ours, X, y)
    coef = np.zeros((X.shape[1] + 1, 1), dtype=X.dtype)
    one_pass = best_time(lambda: objective_function.value_and_grad(coef), 5)
    per_iteration = (min(times[OURS]) - one_iteration) / max(ours.n_iter_ - 1, 1)
    print(
        f"  ours: one loss-and-gradient pass / one X @ v = {one_pass / matvec:.2f}; "
        f"one iteration / one X @ v = {per_iteration / matvec:.2f}"
    )
    return {"ours": min(times[OURS])}


def _objective_of(model, X, y):
    """Our objective on (X, y), as the estimator builds it, to time one pass."""
    from sklearn_gdlogreg._backends import backend_for
    from sklearn_gdlogreg._objective import LogisticObjective

    codes = (y == model.classes_[1]).astype(np.uint8)
    return LogisticObjective(
        backend=backend_for(X),
        y=codes,
        weights=np.full(X.shape[0], 1 / X.shape[0], dtype=X.dtype),
        n_outputs=1,
        fit_intercept=True,
        l2=1 / X.shape[0],
        l1=0.0,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[300_000])
    parser.add_argument("--n-features", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    warnings.simplefilter("ignore", ConvergenceWarning)
    for n_samples in args.sizes:
        X, y = make_classification(
            n_samples=n_samples,
            n_features=args.n_features,
            n_informative=args.n_features // 5,
            random_state=0,
        )
        X = StandardScaler().fit_transform(X)
        label = f"dense {n_samples} x {args.n_features}"
        f64 = run(X, y, args.repeats, f"{label} float64")
        f32 = run(X.astype(np.float32), y, args.repeats, f"{label} float32")
        print(f"\nfloat32 speed-up of ours: {f64['ours'] / f32['ours']:.2f}x")
        del X
        X_sparse = sp.random(
            n_samples, 10 * args.n_features, density=0.01, format="csr", random_state=0
        )
        w = np.random.RandomState(0).normal(size=X_sparse.shape[1])
        noise = 0.5 * np.random.RandomState(1).normal(size=n_samples)
        y_sparse = (X_sparse @ w + noise > 0).astype(int)
        run(
            X_sparse,
            y_sparse,
            args.repeats,
            f"sparse CSR {n_samples} x {X_sparse.shape[1]}, 1% non-zero",
        )


if __name__ == "__main__":
    main()
