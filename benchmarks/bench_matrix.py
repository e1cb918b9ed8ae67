"""Ours against ``LogisticRegression()`` (lbfgs) on a matrix of shapes, in one run.

For each shape it fits, alternating over repeats,
``GradientDescentLogisticRegression()`` and ``LogisticRegression()`` at
default settings, then both at ``tol=1e-8``, and prints:

- ``default`` and ``tol=1e-8``: our best wall time divided by lbfgs's best;
- ``gap``: each fit's objective (the same formula for every model,
  ``LogisticRegression``'s divided by ``C * n``) relative to a tight reference
  (newton-cholesky at ``tol=1e-12`` on dense data and binary one-hot data,
  lbfgs at ``tol=1e-12`` on sparse text, one-hot data of many classes and the
  widest data; or the best of all fits
  where that reference stalls, as newton-cholesky does on raw data), for ours
  and for lbfgs;
- ``ok``: whether ours is no slower than lbfgs and its gap at most the larger
  of twice lbfgs's gap and 1e-6, at defaults and at ``tol=1e-8``;
- iterations of both, and the passes over X our fit made (reads of X: one per
  loss-and-gradient evaluation round, one per moments or Hessian pass).

Where our time is above lbfgs's, it also fits both with ``max_iter=1`` and
splits each time into the setup and first iteration and the cost of each
further iteration.

Run: ``python benchmarks/bench_matrix.py`` (all shapes, 3 repeats, all
threads, then 1 thread), ``--threads 1`` or ``--threads 2`` for one setting,
``--only digits text`` for the shapes whose name contains a word.
``--markdown`` prints Markdown tables and writes ``benchmarks/results.md``
(``--output PATH`` elsewhere): what was measured, the machine, the commit
and the tables; the README and the user guide link that file.
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import _results  # benchmarks/_results.py, beside this script
import numpy as np
import scipy.sparse as sp
from sklearn.datasets import (
    load_breast_cancer,
    load_digits,
    load_iris,
    load_wine,
    make_classification,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from sklearn_gdlogreg import GradientDescentLogisticRegression
from sklearn_gdlogreg._backends import counted_passes
from sklearn_gdlogreg._reference import reference_objective


@dataclass
class Case:
    name: str
    make: Callable[[], tuple]  # () -> (X, y)
    C: float = 1.0
    reference: str = "newton-cholesky"  # or "lbfgs" (at tol=1e-12)
    small: bool = False  # milliseconds per fit: more repeats


def _standardised(loader):
    def make():
        X, y = loader(return_X_y=True)
        return StandardScaler().fit_transform(X), y

    return make


def _dense(n, d, classes=2, seed=0, dtype=np.float64):
    def make():
        X, y = make_classification(
            n_samples=n,
            n_features=d,
            n_informative=max(2, d // 5),
            n_classes=classes,
            n_clusters_per_class=1,
            random_state=seed,
        )
        return StandardScaler().fit_transform(X).astype(dtype), y

    return make


def _raw(n=100_000, d=20):
    """Unscaled features: scales from 1e-3 to 1e3 and offsets up to 1e3."""

    def make():
        X, y = make_classification(n_samples=n, n_features=d, random_state=1)
        rng = np.random.RandomState(1)
        X = X * 10 ** rng.uniform(-3, 3, d) + 10 ** rng.uniform(0, 3, d)
        return X, y

    return make


def _correlated(n=100_000, d=100):
    """Standardised features sharing a few strong factors (correlations ~0.9)."""

    def make():
        rng = np.random.RandomState(2)
        factors = rng.normal(size=(n, 5))
        X = factors @ rng.normal(size=(5, d)) * 3 + rng.normal(size=(n, d))
        X = StandardScaler().fit_transform(X)
        w = rng.normal(size=d)
        y = (X @ w / np.sqrt(d) + rng.logistic(size=n) > 0).astype(int)
        return X, y

    return make


def _text(n=50_000, d=30_000, classes=2, words=80, fmt="csr"):
    """tf-idf-like rows: Zipf word frequencies, counts times idf, unit norm."""

    def make():
        rng = np.random.RandomState(3)
        lengths = rng.poisson(words, n) + 1
        popularity = 1 / (np.arange(d) + 10.0)
        indices = rng.choice(d, lengths.sum(), p=popularity / popularity.sum())
        indptr = np.concatenate([[0], np.cumsum(lengths)])
        X = sp.csr_matrix((np.ones(len(indices)), indices, indptr), shape=(n, d))
        X.sum_duplicates()
        df = np.bincount(X.indices, minlength=d)
        X.data *= np.log((1 + n) / (1 + df[X.indices])) + 1
        norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())
        X = sp.csr_matrix(sp.diags(1 / norms) @ X)
        W = rng.normal(size=(d, classes)) * 3
        scores = X @ W
        if classes == 2:
            y = (scores[:, 1] - scores[:, 0] + rng.logistic(size=n) > 0).astype(int)
        else:
            y = np.argmax(scores + rng.gumbel(size=scores.shape), axis=1)
        return X.asformat(fmt), y

    return make


def _one_hot(n=200_000, columns=20, levels=50, fmt="csr", classes=2):
    """``columns`` categorical columns of ``levels`` levels each (Zipf
    frequencies), one-hot; with more classes, their priors falling
    geometrically from the commonest to a hundred times rarer."""

    def make():
        rng = np.random.RandomState(4)
        popularity = 1 / (np.arange(levels) + 2.0)
        codes = rng.choice(levels, (n, columns), p=popularity / popularity.sum())
        indices = (codes + levels * np.arange(columns)).ravel()
        indptr = np.arange(0, n * columns + 1, columns)
        d = columns * levels
        X = sp.csr_matrix((np.ones(n * columns), indices, indptr), shape=(n, d))
        if classes == 2:
            effects = rng.normal(size=d) * 0.5
            y = (X @ effects + rng.logistic(size=n) > 0).astype(int)
        else:
            log_priors = np.log(0.01) * np.linspace(0, 1, classes)
            scores = X @ (rng.normal(size=(d, classes)) * 0.5) + log_priors
            y = np.argmax(scores + rng.gumbel(size=scores.shape), axis=1)
        return X.asformat(fmt), y

    return make


CASES = [
    Case("breast cancer (std)", _standardised(load_breast_cancer), small=True),
    Case("iris (std, 3 classes)", _standardised(load_iris), small=True),
    Case("wine (std, 3 classes)", _standardised(load_wine), small=True),
    Case("digits (std, 10 classes)", _standardised(load_digits), small=True),
    Case("dense 300k x 100", _dense(300_000, 100)),
    Case("dense 300k x 100 float32", _dense(300_000, 100, dtype=np.float32)),
    Case("raw unscaled 100k x 20", _raw()),
    Case("correlated 100k x 100, C=100", _correlated(), C=100.0),
    Case("correlated wide 10k x 800", _correlated(10_000, 800)),
    Case("dense 20 classes 100k x 50", _dense(100_000, 50, classes=20)),
    Case("dense wide 20k x 2000", _dense(20_000, 2000)),
    Case("dense wider 5k x 4000", _dense(5_000, 4000), reference="lbfgs"),
    Case("sparse text 50k x 30k", _text(), reference="lbfgs"),
    Case("sparse text 10 classes", _text(classes=10), reference="lbfgs"),
    Case("sparse one-hot 200k x 1000", _one_hot()),
    Case("sparse one-hot CSC", _one_hot(fmt="csc")),
    Case(
        "sparse one-hot 12 classes 30k x 288",
        _one_hot(30_000, columns=24, levels=12, classes=12),
        reference="lbfgs",
    ),
]


def _reference_fit(case, X, y):
    tight = dict(C=case.C, tol=1e-12, max_iter=10_000)
    model = LogisticRegression(solver=case.reference, **tight)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a stalled reference warns
        model.fit(X, y)
    return model


class PassCounter:
    """Counts our reads of X, as the backends count them
    (``_backends.counted_passes``): loss-and-gradient rounds, moments passes,
    curvature metrics and multinomial Hessians, and with kept scores (wide
    dense X) each product with X or its transpose."""

    def __init__(self):
        self.passes = 0

    def __enter__(self):
        self._counting = counted_passes()
        self._counted = self._counting.__enter__()
        return self

    def __exit__(self, *exc):
        self._counting.__exit__(*exc)
        self.passes = sum(self._counted.values())


def _timed_fits(models, X, y, repeats):
    """Best wall time of each model, fitted in turn, ``repeats`` rounds."""
    best = dict.fromkeys(models, np.inf)
    fitted = {}
    for _ in range(repeats):
        for name, make in models.items():
            model = make()
            start = time.perf_counter()
            model.fit(X, y)
            best[name] = min(best[name], time.perf_counter() - start)
            fitted[name] = model
    return best, fitted


def run_case(case: Case, repeats: int) -> dict:
    X, y = case.make()
    reference = reference_objective(_reference_fit(case, X, y), X, y, C=case.C)
    models = {
        "ours": lambda: GradientDescentLogisticRegression(C=case.C),
        "lbfgs": lambda: LogisticRegression(C=case.C),
        "ours tight": lambda: GradientDescentLogisticRegression(C=case.C, tol=1e-8),
        "lbfgs tight": lambda: LogisticRegression(C=case.C, tol=1e-8, max_iter=10_000),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        best, fitted = _timed_fits(models, X, y, 5 * repeats if case.small else repeats)
        with PassCounter() as counter:
            GradientDescentLogisticRegression(C=case.C).fit(X, y)
    row = {"name": case.name, "passes": counter.passes}
    values = {
        name: reference_objective(model, X, y, C=case.C)
        for name, model in fitted.items()
    }
    # The best value known: a reference solver can stall on ill-conditioned data.
    reference = min(reference, *values.values())
    for name, model in fitted.items():
        value = values[name]
        row[f"gap {name}"] = (value - reference) / abs(reference)
        row[f"iter {name}"] = int(np.max(model.n_iter_))
        row[f"time {name}"] = best[name]
    for setting, suffix in (("default", ""), ("tight", " tight")):
        ratio = best["ours" + suffix] / best["lbfgs" + suffix]
        gap, peer = row["gap ours" + suffix], row["gap lbfgs" + suffix]
        row[f"ratio {setting}"] = ratio
        row[f"ok {setting}"] = ratio <= 1.0 and gap <= max(2 * peer, 1e-6)
    if max(row["ratio default"], row["ratio tight"]) > 1.0:
        first = {
            "ours": lambda: GradientDescentLogisticRegression(C=case.C, max_iter=1),
            "lbfgs": lambda: LogisticRegression(C=case.C, max_iter=1),
        }
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            times, _ = _timed_fits(first, X, y, 5 * repeats if case.small else repeats)
        row["first ours"], row["first lbfgs"] = times["ours"], times["lbfgs"]
    return row


def _further(row: dict, name: str) -> str:
    """The time of each iteration after the first (from the fit's time, its
    iterations and the time of a fit with ``max_iter=1``), in ms."""
    iterations = row[f"iter {name}"]
    if iterations < 2:
        return "-"
    first = row["first " + name.split()[0]]
    return f"{1e3 * (row[f'time {name}'] - first) / (iterations - 1):.3g}"


def bounds(rows) -> list[str]:
    """For each setting where ours is slower than lbfgs or its gap is too
    large, what the run measured of it: the ratio of iterations, the ratio
    of the time per iteration, and the setup and first iteration (a fit with
    ``max_iter=1``) against each further iteration, both in ms."""
    lines = []
    for row in rows:
        for setting, suffix, label in (
            ("default", "", "default tol"),
            ("tight", " tight", "tol=1e-8"),
        ):
            ratio = row[f"ratio {setting}"]
            ours, lbfgs = row["iter ours" + suffix], row["iter lbfgs" + suffix]
            gap, peer = row["gap ours" + suffix], row["gap lbfgs" + suffix]
            if ratio > 1.0 and ours > 0 and lbfgs > 0:
                iterations = ours / lbfgs
                line = (
                    f"- {row['name']}, {label}: time {_ratio(ratio)} of lbfgs's ="
                    f" iterations {ours}/{lbfgs} ({iterations:.2f})"
                    f" x time per iteration {ratio / iterations:.2f}."
                    f" Setup and first iteration {1e3 * row['first ours']:.3g} ms"
                    f" (lbfgs {1e3 * row['first lbfgs']:.3g} ms), each further"
                    f" iteration {_further(row, 'ours' + suffix)} ms"
                    f" (lbfgs {_further(row, 'lbfgs' + suffix)} ms)"
                )
                if setting == "default":
                    line += (
                        f"; our fit read X {row['passes']} times"
                        f" ({row['passes'] / ours:.1f} an iteration)"
                    )
                lines.append(line + ".")
            if gap > max(2 * peer, 1e-6):
                lines.append(
                    f"- {row['name']}, {label}: our gap {gap:.1e} is above"
                    f" twice lbfgs's ({peer:.1e}) and above 1e-6."
                )
    return lines


def _yes(value: bool) -> str:
    return "yes" if value else "NO"


def _ratio(value: float) -> str:
    """A time ratio to two decimals, or to three where two would read 1.00
    (so that a row marked NO by a hair shows why)."""
    text = f"{value:.2f}"
    return f"{value:.3f}" if text == "1.00" and value != 1.0 else text


COLUMNS: tuple[tuple[str, Callable[[dict], str]], ...] = (
    ("shape", lambda r: r["name"]),
    ("default: ours/lbfgs", lambda r: _ratio(r["ratio default"])),
    ("gap ours", lambda r: f"{r['gap ours']:.1e}"),
    ("gap lbfgs", lambda r: f"{r['gap lbfgs']:.1e}"),
    ("ok", lambda r: _yes(r["ok default"])),
    ("tol=1e-8: ours/lbfgs", lambda r: _ratio(r["ratio tight"])),
    ("gap ours", lambda r: f"{r['gap ours tight']:.1e}"),
    ("gap lbfgs", lambda r: f"{r['gap lbfgs tight']:.1e}"),
    ("ok", lambda r: _yes(r["ok tight"])),
    ("iters ours/lbfgs", lambda r: f"{r['iter ours']}/{r['iter lbfgs']}"),
    ("at 1e-8", lambda r: f"{r['iter ours tight']}/{r['iter lbfgs tight']}"),
    ("passes", lambda r: str(r["passes"])),
    ("lbfgs", lambda r: f"{r['time lbfgs']:.3f} s"),
)


def print_table(rows, markdown: bool) -> None:
    cells = [[cell(row) for _, cell in COLUMNS] for row in rows]
    if markdown:
        print(_results.markdown_table([title for title, _ in COLUMNS], cells))
        return
    cells.insert(0, [title for title, _ in COLUMNS])
    widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS))]
    for line in cells:
        print(
            "  ".join(
                cell.rjust(width) for cell, width in zip(line, widths, strict=True)
            )
        )


def _setting(threads: int | None) -> str:
    if threads is None:
        return "With all threads"
    return f"With {threads} thread{'s' if threads > 1 else ''}"


def results_file(args, cases, started, runs) -> list[str]:
    """The sections of the results file: what was measured, the machine,
    and for each thread setting its table and what bounds its rows."""
    repeats = f"best of {args.repeats} ({5 * args.repeats} for the small data sets)"
    sections = [
        "Written by `python benchmarks/bench_matrix.py --markdown`; run it"
        " again rather than edit this file.",
        "## What was measured\n\n" + _results.docstring_text(__doc__),
        f"This run: {len(cases)} of the {len(CASES)} shapes, {repeats}.",
        "## Machine\n\n" + "\n".join(_results.machine_facts(started)),
    ]
    for threads, blas, rows in runs:
        text = f"## {_setting(threads)}\n\nThread pools: {blas}.\n\n"
        text += _results.markdown_table(
            [title for title, _ in COLUMNS],
            [[cell(row) for _, cell in COLUMNS] for row in rows],
        )
        lines = bounds(rows)
        if lines:
            text += "\n\nWhat bounds the rows marked NO, as this run measured it:\n\n"
            text += "\n".join(lines)
        sections.append(text)
    return sections


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, nargs="+", default=[None, 1])
    parser.add_argument("--only", nargs="+", default=None)
    parser.add_argument(
        "--markdown",
        action="store_true",
        help="print Markdown tables and write the results file",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=_results.DEFAULT_DIRECTORY / "results.md",
        help="the results file --markdown writes (default: benchmarks/results.md)",
    )
    args = parser.parse_args()
    cases = [
        case
        for case in CASES
        if args.only is None or any(word in case.name for word in args.only)
    ]
    started = _results.now()
    runs = []
    for threads in args.threads:
        with threadpool_limits(limits=threads):
            blas = _results.thread_pools()
            print(f"\n{_setting(threads)} ({blas})")
            rows = []
            for case in cases:
                rows.append(run_case(case, args.repeats))
                print(f"  done: {case.name}", flush=True)
            print_table(rows, args.markdown)
            for line in bounds(rows):
                print(line)
            runs.append((threads, blas, rows))
    if args.markdown:
        sections = results_file(args, cases, started, runs)
        _results.write(args.output, "Benchmark results: ours against lbfgs", sections)


if __name__ == "__main__":
    main()
