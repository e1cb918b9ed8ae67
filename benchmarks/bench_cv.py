"""Cross-validation over C: ours against LogisticRegressionCV, in one run.

On standardised ``make_classification`` data (20k x 50 by default) and
standardised breast cancer, with the same 5 stratified folds and the same 10
values of C (1e-4 to 1e4), fits alternately, best of ``--repeats``:

- ``GradientDescentLogisticRegressionCV`` (warm-started paths);
- ``LogisticRegressionCV`` (lbfgs, ``scoring="neg_log_loss"``);
- ``GridSearchCV`` over our estimator's C (cold starts).

Prints the wall times, the chosen C and our time over LogisticRegressionCV's.
Run: ``python benchmarks/bench_cv.py [--repeats 3]``
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from sklearn.datasets import load_breast_cancer, make_classification
from sklearn.linear_model import LogisticRegressionCV
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.preprocessing import StandardScaler

from sklearn_gdlogreg import (
    GradientDescentLogisticRegression,
    GradientDescentLogisticRegressionCV,
)


def searches(folds, Cs):
    return {
        "ours (CV paths)": lambda: GradientDescentLogisticRegressionCV(Cs=Cs, cv=folds),
        "LogisticRegressionCV": lambda: LogisticRegressionCV(
            Cs=Cs,
            cv=folds,
            scoring="neg_log_loss",
            l1_ratios=(0.0,),
            use_legacy_attributes=False,
        ),
        "GridSearchCV(ours)": lambda: GridSearchCV(
            GradientDescentLogisticRegression(),
            {"C": list(Cs)},
            cv=folds,
            scoring="neg_log_loss",
        ),
    }


def chosen_C(search) -> float:
    return (
        float(search.best_params_["C"])
        if hasattr(search, "best_params_")
        else search.C_
    )


def run(name, X, y, repeats) -> None:
    X = StandardScaler().fit_transform(X)
    folds = list(StratifiedKFold(5, shuffle=True, random_state=0).split(X, y))
    Cs = np.logspace(-4, 4, 10)
    times: dict[str, list[float]] = {key: [] for key in searches(folds, Cs)}
    chosen = {}
    for _ in range(repeats):
        for key, make in searches(folds, Cs).items():
            search = make()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                start = time.perf_counter()
                search.fit(X, y)
                times[key].append(time.perf_counter() - start)
            chosen[key] = chosen_C(search)
    print(f"\n{name}: {X.shape[0]} x {X.shape[1]}, 10 Cs x 5 folds, best of {repeats}")
    print(f"  {'search':<22} {'time (s)':>9} {'chosen C':>10}")
    for key in times:
        print(f"  {key:<22} {min(times[key]):9.3f} {chosen[key]:10.4g}")
    ratio = min(times["ours (CV paths)"]) / min(times["LogisticRegressionCV"])
    print(f"  ours / LogisticRegressionCV = {ratio:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-samples", type=int, default=20_000)
    parser.add_argument("--n-features", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    X, y = make_classification(
        n_samples=args.n_samples, n_features=args.n_features, random_state=0
    )
    run("make_classification", X, y, args.repeats)
    run("breast cancer", *load_breast_cancer(return_X_y=True), args.repeats)


if __name__ == "__main__":
    main()
