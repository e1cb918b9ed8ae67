"""Wall time of a fit against the peers, measured in one run.

Fits, alternating over repeats, ``GradientDescentLogisticRegression()`` with
default settings, ``LogisticRegression()`` (lbfgs),
``SGDClassifier(loss="log_loss")`` and a plain notebook-style loop (constant
step, full gradient, fixed iterations) on standardised ``make_classification``
data, and prints wall time, iterations, the final objective (the same
formula, ``LogisticRegression``'s divided by ``C * n``, for every model) and
the time divided by lbfgs's. Also prints one plain ``X @ v`` (the memory
bandwidth floor of a pass) and our time per iteration divided by it.

Run: ``python benchmarks/bench_fit.py`` (``--sizes 300000 1000000`` for the
full grid, ``--repeats 3``).
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import scipy.sparse as sp
from scipy.special import expit
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.preprocessing import StandardScaler

from sklearn_gdlogreg import GradientDescentLogisticRegression


def objective(model, X, y, C=1.0) -> float:
    """LogisticRegression's objective divided by C * n (binary, L2)."""
    z = np.asarray(X @ model.coef_.ravel().astype(np.float64)) + float(
        model.intercept_[0]
    )
    loss = np.mean(np.logaddexp(0, z) - y * z)
    return float(
        loss + 0.5 / (C * len(y)) * np.sum(model.coef_.astype(np.float64) ** 2)
    )


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


def models():
    return {
        "ours (defaults)": lambda: GradientDescentLogisticRegression(),
        "LogisticRegression": lambda: LogisticRegression(),
        "SGDClassifier": lambda: SGDClassifier(loss="log_loss"),
        "notebook loop": lambda: NotebookLoop(),
    }


def time_matvec(X, repeats=5) -> float:
    v = np.ones(X.shape[1], dtype=X.dtype)
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        X @ v
        best = min(best, time.perf_counter() - start)
    return best


def run(X, y, repeats: int, label: str) -> None:
    matvec = time_matvec(X)
    times: dict[str, list[float]] = {name: [] for name in models()}
    fitted = {}
    for _ in range(repeats):
        for name, make in models().items():  # alternate, so noise hits all alike
            model = make()
            start = time.perf_counter()
            model.fit(X, y)
            times[name].append(time.perf_counter() - start)
            fitted[name] = model
    print(f"\n{label}: one X @ v takes {matvec * 1e3:.1f} ms")
    print(
        f"  {'model':<20} {'time (s)':>9} {'iters':>6} {'objective':>14} {'/ lbfgs':>8}"
    )
    reference = min(times["LogisticRegression"])
    for name, model in fitted.items():
        best = min(times[name])
        n_iter = int(np.ravel(model.n_iter_)[0])
        print(
            f"  {name:<20} {best:9.3f} {n_iter:6d} {objective(model, X, y):14.10f} "
            f"{best / reference:8.2f}"
        )
    ours = fitted["ours (defaults)"]
    per_iter = min(times["ours (defaults)"]) / max(ours.n_iter_, 1)
    print(f"  ours: time per iteration / one X @ v = {per_iter / matvec:.2f}")


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
        y = y.astype(np.float64)
        for dtype in (np.float64, np.float32):
            run(
                X.astype(dtype),
                y,
                args.repeats,
                f"dense {n_samples} x {args.n_features} {dtype.__name__}",
            )
        X_sparse = sp.random(
            n_samples, 10 * args.n_features, density=0.01, format="csr", random_state=0
        )
        w = np.random.RandomState(0).normal(size=X_sparse.shape[1])
        y_sparse = (
            X_sparse @ w + 0.5 * np.random.RandomState(1).normal(size=n_samples) > 0
        )
        run(
            X_sparse,
            y_sparse.astype(np.float64),
            args.repeats,
            f"sparse CSR {n_samples} x {X_sparse.shape[1]}, 1% non-zero",
        )


if __name__ == "__main__":
    main()
