"""Cross-validation over C: ours against LogisticRegressionCV, in one run.

On standardised ``make_classification`` data (20k x 50 by default) and
standardised breast cancer, with the same 5 stratified folds and the same 10
values of C (1e-4 to 1e4), fits alternately, best of ``--repeats``:

- ``GradientDescentLogisticRegressionCV`` (warm-started paths);
- ``LogisticRegressionCV`` (lbfgs, ``scoring="neg_log_loss"``);
- ``GridSearchCV`` over our estimator's C (cold starts).

Prints the wall times, the chosen C, the most iterations one fit along the
paths took (ours and lbfgs's) and our time over LogisticRegressionCV's.

Run: ``python benchmarks/bench_cv.py [--repeats 3]``; ``--markdown`` also
writes ``benchmarks/results_cv.md`` (``--output PATH`` elsewhere): what was
measured, the machine, the commit and the table.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import _results  # benchmarks/_results.py, beside this script
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


def most_iterations(search) -> str:
    """The most iterations one fit of the search took ("-" if not kept)."""
    n_iter = getattr(search, "n_iter_", None)
    return "-" if n_iter is None else str(int(np.max(n_iter)))


def run(name, X, y, repeats) -> dict:
    X = StandardScaler().fit_transform(X)
    folds = list(StratifiedKFold(5, shuffle=True, random_state=0).split(X, y))
    Cs = np.logspace(-4, 4, 10)
    times: dict[str, list[float]] = {key: [] for key in searches(folds, Cs)}
    chosen, iterations = {}, {}
    for _ in range(repeats):
        for key, make in searches(folds, Cs).items():
            search = make()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                start = time.perf_counter()
                search.fit(X, y)
                times[key].append(time.perf_counter() - start)
            chosen[key] = chosen_C(search)
            iterations[key] = most_iterations(search)
    print(f"\n{name}: {X.shape[0]} x {X.shape[1]}, 10 Cs x 5 folds, best of {repeats}")
    print(f"  {'search':<22} {'time (s)':>9} {'chosen C':>10} {'most iters':>10}")
    for key in times:
        print(
            f"  {key:<22} {min(times[key]):9.3f} {chosen[key]:10.4g}"
            f" {iterations[key]:>10}"
        )
    ratio = min(times["ours (CV paths)"]) / min(times["LogisticRegressionCV"])
    print(f"  ours / LogisticRegressionCV = {ratio:.2f}")
    return {
        "data": f"{name} ({X.shape[0]} x {X.shape[1]})",
        "times": {key: min(value) for key, value in times.items()},
        "chosen": chosen,
        "iterations": iterations,
        "ratio": ratio,
    }


def results_file(rows, repeats, started) -> list[str]:
    """The sections of the results file: what was measured, the machine,
    the table."""
    keys = list(rows[0]["times"])
    header = ["data"]
    header += [f"{key}: time" for key in keys]
    header += [f"{key}: C" for key in keys]
    header += ["most iterations: ours / lbfgs", "ours / LogisticRegressionCV"]
    cells = [
        [row["data"]]
        + [f"{row['times'][key]:.3f} s" for key in keys]
        + [f"{row['chosen'][key]:.4g}" for key in keys]
        + [
            f"{row['iterations']['ours (CV paths)']}"
            f" / {row['iterations']['LogisticRegressionCV']}",
            f"{row['ratio']:.2f}",
        ]
        for row in rows
    ]
    return [
        "Written by `python benchmarks/bench_cv.py --markdown`; run it again"
        " rather than edit this file.",
        "## What was measured\n\n" + _results.docstring_text(__doc__),
        f"This run: best of {repeats}.",
        "## Machine\n\n" + "\n".join(_results.machine_facts(started)),
        "## Times\n\n" + _results.markdown_table(header, cells),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-samples", type=int, default=20_000)
    parser.add_argument("--n-features", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--markdown", action="store_true", help="also write the results file"
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=_results.DEFAULT_DIRECTORY / "results_cv.md",
        help="the results file --markdown writes (default: benchmarks/results_cv.md)",
    )
    args = parser.parse_args()
    started = _results.now()
    X, y = make_classification(
        n_samples=args.n_samples, n_features=args.n_features, random_state=0
    )
    rows = [
        run("make_classification", X, y, args.repeats),
        run("breast cancer", *load_breast_cancer(return_X_y=True), args.repeats),
    ]
    if args.markdown:
        sections = results_file(rows, args.repeats, started)
        title = "Benchmark results: cross-validation over C"
        _results.write(args.output, title, sections)


if __name__ == "__main__":
    main()
