"""Time to a relative objective gap: ours against the anchors, as benchopt
compares solvers.

Each solver is fitted on a ladder of its own tolerances (``tol`` from 1e-2
to 1e-10; glum's ``gradient_tol``), each fit timed (best of ``--repeat``,
or of up to ten where they take under 0.3 s in all), and the objective of
each solution evaluated with one formula, ``LogisticRegression``'s (the sum
of the sample log-losses plus ``||W||^2 / (2 C)``, the intercept
unpenalised), divided by ``C * n``
(``sklearn_gdlogreg._reference.reference_objective``). The minimum ``f*`` is
the best value known: the lowest of every fit and of a tight reference
(``LogisticRegression`` lbfgs at ``tol=1e-12``, and newton-cholesky too
where the parameters are few; one that runs past ``--timeout`` is dropped).
A fit's gap is ``(f - f*) / |f*|``; a solver's time to the gap (``--gap``,
default 1e-6) is the fastest of its fits that reached it, ``never`` where
none did. A ladder stops early once a fit is ten times below the gap and
agrees with the fit before (a tighter tolerance only costs more time), once
a fit takes longer than ``--timeout`` seconds (the fits run one at a time in
a child process, which is stopped there) or its fits three times that in
all, or once the objective no longer moves (a solver of another objective,
or one that stalls).

Solvers: ours (``GradientDescentLogisticRegression``), ``LogisticRegression``
with lbfgs, newton-cholesky (where the Hessian of ``(d + 1)`` times the
classes parameters is small), saga and liblinear (binary only), and where
installed (``pip install sklearn-gdlogreg[bench]``) scikit-learn-intelex's
``LogisticRegression``, snapml's ``LogisticRegression`` (binary only: more
classes are one-vs-rest) and glum's ``GeneralizedLinearRegressor``
(``family="binomial"``, ``alpha=1 / (C n)``, binary only). liblinear and
snapml penalise the intercept as a coefficient: their objective differs
from ours, the table labels them, and their gap is still measured on ours.

Shapes: a fixed list (breast cancer standardised, tall narrow, wide,
15 classes, sparse tf-idf text binary and 10 classes at C = 1, 10 and 100,
one-hot data at C = 100), or with ``--draw N`` N shapes drawn at random from
families (dense with correlated or unscaled columns, tf-idf text and one-hot
data; sizes, density, classes, class imbalance and C log-uniform in
0.01..100), each draw's parameters printed. Each row gives each solver's
time to the gap in ms, ours divided by the fastest other solver's and by
lbfgs's; the last line gives the worst of ours / fastest other.

Run: ``python benchmarks/bench_anchors.py`` (the fixed list, all threads),
``--threads 1`` or ``--threads all 1``, ``--draw 20 --seed 0`` for drawn
shapes, ``--only text`` for the fixed shapes whose name contains a word,
``--quick`` for tiny sizes (a smoke test), ``--markdown FILE`` to write the
results there as well (with ``--append``, after the runs already there).
Where ``OPENBLAS_CORETYPE`` or ``OPENBLAS_L2_SIZE`` are set (they slow a
current numpy), it runs itself again without them, but
for ``--keep-openblas-env``.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import logging
import multiprocessing
import os
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import _results  # benchmarks/_results.py, beside this script
import numpy as np
import scipy.sparse as sp
from sklearn.datasets import load_breast_cancer
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_info, threadpool_limits

from sklearn_gdlogreg import GradientDescentLogisticRegression
from sklearn_gdlogreg._reference import reference_objective

TOLS = tuple(10.0**-k for k in range(2, 11))
MAX_ITER = 10_000
# Fits shorter than a timer's noise are repeated: best of --repeat, or of as
# many as run in SHORT_FITS seconds, up to SHORT_REPEAT.
SHORT_FITS, SHORT_REPEAT = 0.3, 10
# A solver's untimed warm-up (a fit of 500 rows) may take this long.
WARM_UP_TIMEOUT = 120.0
# A ladder ends once its fits have taken this many times --timeout in all: a
# solver that needs longer is far behind the fastest.
LADDER_TIMEOUTS = 3
NEWTON_MAX_PARAMS = 2_000  # newton-cholesky's dense Hessian: (d + 1) * classes
OPENBLAS_OVERRIDES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
PENALISED_INTERCEPT = "objective differs: penalised intercept"


# --- Data ------------------------------------------------------------------


def _labels(scores, rng, imbalance=1.0):
    """Class codes drawn from softmax(scores) with class priors from 1 down to
    ``imbalance`` (the rarest class's prior over the commonest's); the first
    rows take each class once, so that none is missing."""
    classes = scores.shape[1]
    priors = imbalance ** np.linspace(0, 1, classes)
    noisy = scores + np.log(priors / priors.sum()) + rng.gumbel(size=scores.shape)
    y = np.argmax(noisy, axis=1)
    y[:classes] = np.arange(classes)
    return y


def dense(rng, n, d, classes=2, correlated=False, unscaled=False, imbalance=1.0):
    """Gaussian features (with ``correlated``, sharing five strong factors),
    labels from a linear model; ``unscaled``: column scales from 1e-3 to 1e3
    and offsets up to 1e3, applied after the labels are drawn."""
    if correlated:
        factors = rng.normal(size=(n, 5))
        X = factors @ rng.normal(size=(5, d)) * 3 + rng.normal(size=(n, d))
        X = StandardScaler().fit_transform(X)
    else:
        X = rng.normal(size=(n, d))
    W = rng.normal(size=(d, classes)) * 2 / np.sqrt(d)
    y = _labels(X @ W, rng, imbalance)
    if unscaled:
        X = X * 10 ** rng.uniform(-3, 3, d) + 10 ** rng.uniform(0, 3, d)
    return X, y


def tfidf(rng, n, d, words, classes=2, imbalance=1.0):
    """tf-idf text: Zipf word counts, about ``words`` a row, through
    ``TfidfTransformer``; labels from a sparse weight vector (5% of words)."""
    lengths = rng.poisson(words, n) + 1
    popularity = 1 / (np.arange(d) + 10.0)
    indices = rng.choice(d, lengths.sum(), p=popularity / popularity.sum())
    indptr = np.concatenate([[0], np.cumsum(lengths)])
    counts = sp.csr_matrix((np.ones(len(indices)), indices, indptr), shape=(n, d))
    counts.sum_duplicates()
    X = TfidfTransformer().fit_transform(counts).tocsr()
    W = rng.normal(size=(d, classes)) * (rng.random((d, 1)) < 0.05) * 10
    return X, _labels(np.asarray(X @ W), rng, imbalance)


def one_hot(rng, n, columns, levels, classes=2, imbalance=1.0):
    """``columns`` categorical columns of ``levels`` levels (Zipf
    frequencies), one-hot encoded; labels from an effect for each level."""
    popularity = 1 / (np.arange(levels) + 2.0)
    codes = rng.choice(levels, (n, columns), p=popularity / popularity.sum())
    indices = (codes + levels * np.arange(columns)).ravel()
    indptr = np.arange(0, n * columns + 1, columns)
    d = columns * levels
    X = sp.csr_matrix((np.ones(n * columns), indices, indptr), shape=(n, d))
    effects = rng.normal(size=(d, classes)) * 0.5
    return X, _labels(np.asarray(X @ effects), rng, imbalance)


def breast_cancer(rng):
    X, y = load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(X), y


FAMILIES = {
    "dense": dense,
    "tfidf": tfidf,
    "one_hot": one_hot,
    "breast_cancer": breast_cancer,
}


@dataclass
class Shape:
    name: str
    family: str
    C: float = 1.0
    params: dict = field(default_factory=dict)
    quick: dict = field(default_factory=dict)  # what --quick changes
    seed: int = 0
    drawn: str = ""  # a drawn shape's parameters

    def data(self, quick: bool):
        params = {**self.params, **(self.quick if quick else {})}
        rng = np.random.default_rng(self.seed)
        return FAMILIES[self.family](rng, **params)


def _text_shape(classes, C):
    kind = "binary" if classes == 2 else f"{classes} classes"
    return Shape(
        f"tf-idf text {kind}, C={C:g}",
        "tfidf",
        C=C,
        params=dict(n=30_000, d=20_000, words=80, classes=classes),
        quick=dict(n=300, d=400, words=15),
        seed=3,
    )


SHAPES = [
    Shape("breast cancer (std)", "breast_cancer"),
    Shape(
        "tall narrow",
        "dense",
        params=dict(n=200_000, d=20),
        quick=dict(n=2_000),
        seed=1,
    ),
    Shape("wide", "dense", params=dict(n=2_000, d=5_000), quick=dict(n=100, d=300)),
    Shape(
        "15 classes",
        "dense",
        params=dict(n=50_000, d=50, classes=15),
        quick=dict(n=600, d=10),
        seed=2,
    ),
    *[_text_shape(classes, C) for classes in (2, 10) for C in (1.0, 10.0, 100.0)],
    Shape(
        "one-hot, C=100",
        "one_hot",
        C=100.0,
        params=dict(n=100_000, columns=20, levels=50),
        quick=dict(n=1_000, columns=5, levels=10),
        seed=4,
    ),
]


def _log_uniform(rng, low, high):
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))


def draw_shape(rng, index: int, quick: bool) -> Shape:
    """A shape drawn at random: a family, its sizes, classes, class
    imbalance and C (``drawn`` tells them all)."""
    family = rng.choice(["dense", "tfidf", "one_hot"])
    classes = 2 if rng.random() < 0.6 else int(rng.integers(3, 21))
    imbalance = 1.0 if rng.random() < 0.5 else _log_uniform(rng, 0.01, 0.5)
    C = _log_uniform(rng, 0.01, 100)
    scale = 0.02 if quick else 1.0
    n = max(100, int(_log_uniform(rng, 1_000, 100_000) * scale))
    if family == "dense":
        d = int(_log_uniform(rng, 2, 20 if quick else 1_000))
        n = min(n, 10_000_000 // d)  # at most 80 MB of float64
        params = dict(
            n=n,
            d=d,
            correlated=bool(rng.random() < 0.3),
            unscaled=bool(rng.random() < 0.3),
        )
        text = f"dense n={n} d={d}"
        text += " correlated" * params["correlated"] + " unscaled" * params["unscaled"]
    elif family == "tfidf":
        d = int(_log_uniform(rng, 200, 1_000 if quick else 50_000))
        words = int(_log_uniform(rng, 5, min(300, d / 4)))
        params = dict(n=n, d=d, words=words)
        text = f"tf-idf n={n} d={d} density={words / d:.2g}"
    else:
        columns = int(rng.integers(2, 8 if quick else 40))
        levels = int(_log_uniform(rng, 2, 20 if quick else 200))
        params = dict(n=n, columns=columns, levels=levels)
        text = f"one-hot n={n} {columns} columns x {levels} levels"
    text += f" classes={classes} imbalance={imbalance:.2g} C={C:.3g}"
    params.update(classes=classes, imbalance=imbalance)
    seed = int(rng.integers(2**31))
    return Shape(f"draw {index}", family, C=C, params=params, seed=seed, drawn=text)


# --- Solvers ---------------------------------------------------------------


@dataclass
class Problem:
    X: object
    y: np.ndarray  # class codes 0 .. classes - 1
    C: float
    classes: int


@dataclass
class Solver:
    name: str
    make: Callable[[Problem, float, int | None], object]  # (problem, tol, threads)
    module: str | None = None  # what it imports, None for scikit-learn
    distribution: str | None = None  # its name on PyPI
    label: str = ""  # how its objective differs from ours
    binary_only: str = ""  # why, where it fits two classes only
    applies: Callable[[Summary], str] = lambda summary: ""  # why not, or ""
    target: Callable[[np.ndarray], np.ndarray] = lambda y: y


def _sklearn(solver):
    def make(problem, tol, threads):
        return LogisticRegression(
            C=problem.C, solver=solver, tol=tol, max_iter=MAX_ITER
        )

    return make


def _ours(problem, tol, threads):
    return GradientDescentLogisticRegression(C=problem.C, tol=tol, max_iter=MAX_ITER)


def _sklearnex(problem, tol, threads):
    from sklearnex.linear_model import LogisticRegression as IntelLogisticRegression

    return IntelLogisticRegression(
        C=problem.C, tol=tol, max_iter=MAX_ITER, n_jobs=threads
    )


def _snapml(problem, tol, threads):
    from snapml import LogisticRegression as SnapLogisticRegression

    return SnapLogisticRegression(
        regularizer=1 / problem.C,
        tol=tol,
        max_iter=MAX_ITER,
        fit_intercept=True,
        n_jobs=threads or os.cpu_count(),
    )


def _glum(problem, tol, threads):
    from glum import GeneralizedLinearRegressor

    return GeneralizedLinearRegressor(
        family="binomial",
        alpha=1 / (problem.C * problem.X.shape[0]),
        l1_ratio=0,
        gradient_tol=tol,
        max_iter=MAX_ITER,
    )


def _newton_applies(summary):
    if summary.n_params > NEWTON_MAX_PARAMS:
        return f"over {NEWTON_MAX_PARAMS} parameters (dense Hessian)"
    return ""


SOLVERS = [
    Solver("ours", _ours),
    Solver("lbfgs", _sklearn("lbfgs")),
    Solver("newton-cholesky", _sklearn("newton-cholesky"), applies=_newton_applies),
    Solver("saga", _sklearn("saga")),
    Solver(
        "liblinear",
        _sklearn("liblinear"),
        label=PENALISED_INTERCEPT,
        binary_only="binary only",
    ),
    Solver(
        "sklearnex",
        _sklearnex,
        module="sklearnex.linear_model",
        distribution="scikit-learn-intelex",
    ),
    Solver(
        "snapml",
        _snapml,
        module="snapml",
        distribution="snapml",
        label=PENALISED_INTERCEPT,
        binary_only="binary only (more classes: one-vs-rest)",
    ),
    Solver(
        "glum",
        _glum,
        module="glum",
        distribution="glum",
        binary_only="binary only",
        # Its IRLS solver forms the dense Hessian: on wide data it does not
        # fit in memory (glum crashes on 20k sparse columns).
        applies=_newton_applies,
        target=lambda y: y.astype(np.float64),
    ),
]


def installed(solvers) -> tuple[list[Solver], list[str]]:
    """The solvers whose package imports, and a reason for each other one."""
    kept, reasons = [], []
    for solver in solvers:
        if solver.module is not None:
            try:
                importlib.import_module(solver.module)
            except Exception as error:  # ImportError, or a build that fails to load
                reasons.append(
                    f"skipped {solver.name}: {solver.distribution} does not import"
                    f" ({type(error).__name__}: {error}); pip install"
                    " sklearn-gdlogreg[bench]"
                )
                continue
        kept.append(solver)
    return kept, reasons


class FallbackLog(logging.Handler):
    """scikit-learn-intelex's log: whether a fit fell back to scikit-learn."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.fell_back = False

    def emit(self, record):
        if "fallback" in record.getMessage():
            self.fell_back = True


SKLEARNEX_LOG = FallbackLog()


def _watch_sklearnex() -> None:
    """Read scikit-learn-intelex's INFO messages, and print none of them
    (its own handler still prints its warnings)."""
    logger = logging.getLogger("sklearnex")
    for handler in logger.handlers:
        handler.setLevel(max(handler.level, logging.WARNING))
    logger.setLevel(logging.INFO)
    logger.addHandler(SKLEARNEX_LOG)
    logger.propagate = False


# --- Ladders ---------------------------------------------------------------


@dataclass
class Run:
    tol: float
    seconds: float
    objective: float


@dataclass
class Ladder:
    solver: Solver
    runs: list[Run] = field(default_factory=list)
    stopped: str = ""  # why the ladder ended before its tightest tolerance
    label: str = ""  # the solver's, or found while fitting (sklearnex)
    not_applied: str = ""
    spent: float = 0.0  # the seconds its fits took, repeats included

    def gaps(self, best: float) -> list[float]:
        return [(run.objective - best) / abs(best) for run in self.runs]

    def time_to(self, gap: float, best: float) -> float | None:
        times = [
            run.seconds
            for run, value in zip(self.runs, self.gaps(best), strict=True)
            if value <= gap
        ]
        return min(times) if times else None


def objective(estimator, problem: Problem) -> float:
    """``reference_objective`` of a fitted estimator's coefficients."""
    solution = SimpleNamespace(
        coef_=np.atleast_2d(np.asarray(estimator.coef_, dtype=np.float64)),
        intercept_=np.atleast_1d(np.asarray(estimator.intercept_, dtype=np.float64)),
        classes_=np.arange(problem.classes),
        C=problem.C,
    )
    return reference_objective(solution, problem.X, problem.y, C=problem.C)


def timed_fit(solver: Solver, problem: Problem, tol, threads):
    """One fit's wall time, and the fitted estimator."""
    y = solver.target(problem.y)
    estimator = solver.make(problem, tol, threads)
    start = time.perf_counter()
    estimator.fit(problem.X, y)
    return time.perf_counter() - start, estimator


# --- Fits in a worker process ----------------------------------------------


@dataclass
class Summary:
    """What the parent knows of a shape's data: its sizes."""

    n: int
    d: int
    sparse: bool
    classes: int

    @property
    def n_params(self) -> int:
        return (self.d + 1) * (1 if self.classes == 2 else self.classes)


def _serve(conn, shape: Shape, quick: bool, threads: int | None) -> None:
    """The worker: make the shape's data, then answer requests, each one
    fit (``("fit", solver, tol)``: its seconds, objective and whether
    scikit-learn-intelex fell back), one tight reference fit
    (``("reference", solver, None)``: its objective) or a solver's untimed
    first fit on 500 rows (``("warm", solver, None)``: a solver's first fit
    in a process is slow); ``None`` ends it. A request that raises is
    answered with a :class:`Failed`."""
    warnings.simplefilter("ignore")  # ConvergenceWarning, snapml's, glum's
    solvers = {solver.name: solver for solver in installed(SOLVERS)[0]}
    if "sklearnex" in solvers:
        _watch_sklearnex()
    with threadpool_limits(limits=threads):
        _numexpr_threads(threads)
        X, y = shape.data(quick)
        problem = Problem(X, y, shape.C, int(y.max()) + 1)
        conn.send(Summary(*X.shape, sp.issparse(X), problem.classes))
        # The first rows hold every class (``_labels``; breast cancer's both).
        rows = min(problem.X.shape[0], 500)
        start = Problem(X[:rows], y[:rows], shape.C, problem.classes)
        while (request := conn.recv()) is not None:
            kind, name, tol = request
            try:
                if kind == "reference":
                    answer = objective(reference_fit(problem, name), problem)
                elif kind == "warm":
                    answer = timed_fit(solvers[name], start, TOLS[0], threads)[0]
                else:
                    SKLEARNEX_LOG.fell_back = False
                    seconds, fitted = timed_fit(solvers[name], problem, tol, threads)
                    value = objective(fitted, problem)
                    answer = (seconds, value, SKLEARNEX_LOG.fell_back)
            except Exception as error:  # a solver that fails on this shape
                answer = Failed(f"{type(error).__name__}: {error}")
            conn.send(answer)


@dataclass
class Failed:
    """The answer to a request that raised, or whose child died."""

    reason: str


class Worker:
    """A shape's fits, run one at a time in a child process so that a fit
    past ``--timeout`` seconds is stopped rather than holding the whole run
    (lbfgs and saga can take minutes on unscaled columns). The child is
    spawned, not forked (an OpenMP runtime does not survive a fork), and
    makes the data itself from the shape's seed: no array crosses the pipe.
    A child that was stopped is started again for the next request, and
    each solver's first fit in a child is preceded by an untimed warm-up
    (not counted in ``--timeout``)."""

    def __init__(self, shape: Shape, quick: bool, threads: int | None):
        self.shape, self.quick, self.threads = shape, quick, threads
        self.process = None
        self.warm: set[str] = set()
        self.summary = self._start()

    def _start(self) -> Summary:
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.process = context.Process(
            target=_serve,
            args=(child, self.shape, self.quick, self.threads),
            daemon=True,
        )
        self.process.start()
        child.close()
        self.warm = set()
        try:
            return self.conn.recv()  # the data is made: requests are timed from here
        except EOFError:
            self.stop()
            raise RuntimeError(f"the child making {self.shape.name} died") from None

    def ask(self, request, timeout: float):
        """The answer to a request, None where it took over ``timeout``
        seconds (the child is then stopped), or a :class:`Failed`."""
        if self.process is None:
            self._start()
        kind, name, _ = request
        if kind == "fit" and name not in self.warm:
            warmed = self._answer(("warm", name, None), WARM_UP_TIMEOUT)
            if not isinstance(warmed, float):
                return warmed
            self.warm.add(name)
        return self._answer(request, timeout)

    def _answer(self, request, timeout: float):
        try:
            self.conn.send(request)
            if self.conn.poll(timeout):
                return self.conn.recv()
        except (EOFError, OSError) as error:  # the child died
            self.stop()
            return Failed(f"the child died ({type(error).__name__})")
        self.stop()
        return None

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.is_alive():
            self.process.kill()
        self.process.join()
        self.conn.close()
        self.process = None

    def close(self) -> None:
        if self.process is not None and self.process.is_alive():
            try:
                self.conn.send(None)
                self.process.join(timeout=10)
            except OSError:  # the child died meanwhile
                pass
        self.stop()


def climb(ladder: Ladder, worker: Worker, best: Callable[[], float], args) -> None:
    """Fit the ladder's remaining tolerances, loosest first, each the best
    of ``--repeat`` fits (more where they are short), until a fit is ten
    times below the gap and agrees with the one before, a fit fails or takes
    over ``--timeout`` seconds (it is stopped there), the ladder's fits have
    taken ``LADDER_TIMEOUTS`` times that, or the objective stops moving (two
    levels in a row)."""
    ladder.stopped = ""
    solver = ladder.solver
    for tol in TOLS[len(ladder.runs) :]:
        answers = []
        while len(answers) < args.repeat or (
            len(answers) < SHORT_REPEAT and sum(a[0] for a in answers) < SHORT_FITS
        ):
            answer = worker.ask(("fit", solver.name, tol), args.timeout)
            if isinstance(answer, Failed):
                ladder.stopped = f"failed: {answer.reason}"
                return
            if answer is None:
                break
            answers.append(answer)
        if answers:
            seconds = min(answer[0] for answer in answers)
            ladder.runs.append(Run(tol, seconds, answers[-1][1]))
            if solver.name == "sklearnex" and answers[-1][2]:
                ladder.label = "falls back to scikit-learn"
        if len(answers) < args.repeat:
            ladder.stopped = f"a fit took over {args.timeout:g} s (stopped)"
            return
        gaps = ladder.gaps(best())
        # Reached: below the gap, and settled (the last two fits agree), since
        # a fit that is itself the best known has a gap of 0 whatever its
        # error where no reference fit finished.
        settled = len(gaps) > 1 and abs(gaps[-1] - gaps[-2]) <= args.gap / 10
        if gaps[-1] <= args.gap / 10 and settled:
            ladder.stopped = "reached"
            return
        ladder.spent += sum(answer[0] for answer in answers)
        if ladder.spent > LADDER_TIMEOUTS * args.timeout:
            ladder.stopped = (
                f"its fits took over {LADDER_TIMEOUTS} x {args.timeout:g} s"
            )
            return
        moves = np.abs(np.diff(gaps[-3:]))
        if len(moves) == 2 and np.all(moves < args.gap / 1000):
            ladder.stopped = "stalled"
            return


def reference_fit(problem: Problem, solver: str) -> LogisticRegression:
    model = LogisticRegression(C=problem.C, solver=solver, tol=1e-12, max_iter=5_000)
    return model.fit(problem.X, problem.y)


def reference_minima(worker: Worker, args) -> list[float]:
    """Tight ``LogisticRegression`` fits' objectives (lbfgs, and
    newton-cholesky where the parameters are few: it can stall on unscaled
    data, and lbfgs on ill-conditioned data); one that takes over
    ``--timeout`` seconds is dropped (the best fit of the ladders stands)."""
    solvers = ["lbfgs"]
    if worker.summary.n_params <= NEWTON_MAX_PARAMS // 2:
        solvers.append("newton-cholesky")
    values = [
        worker.ask(("reference", solver, None), args.timeout) for solver in solvers
    ]
    return [value for value in values if isinstance(value, float)]


def run_shape(shape: Shape, solvers: list[Solver], args) -> dict:
    worker = Worker(shape, args.quick, args.threads)
    try:
        return _run_shape(worker, solvers, args)
    finally:
        worker.close()


def _run_shape(worker: Worker, solvers: list[Solver], args) -> dict:
    summary = worker.summary
    known = reference_minima(worker, args)
    ladders = []
    for solver in solvers:
        ladder = Ladder(solver, label=solver.label)
        if solver.binary_only and summary.classes > 2:
            ladder.not_applied = solver.binary_only
        else:
            ladder.not_applied = solver.applies(summary)
        ladders.append(ladder)

    def best():  # NaN where no fit finished: then no gap is reached
        values = known + [run.objective for ladder in ladders for run in ladder.runs]
        return min(values, default=np.nan)

    climbing = [ladder for ladder in ladders if not ladder.not_applied]
    while climbing:
        for ladder in climbing:
            climb(ladder, worker, best, args)
        # A ladder stopped as 'reached' against a minimum that a later solver
        # lowered climbs on.
        climbing = [
            ladder
            for ladder in climbing
            if ladder.stopped == "reached"
            and min(ladder.gaps(best())) > args.gap / 10
            and len(ladder.runs) < len(TOLS)
        ]
    f_star = best()
    sparse = " sparse" if summary.sparse else ""
    name = f"{worker.shape.name} [{summary.n} x {summary.d}{sparse}]"
    times = {ladder.solver.name: ladder.time_to(args.gap, f_star) for ladder in ladders}
    return {"name": name, "ladders": ladders, "times": times, "f*": f_star}


# --- Output ----------------------------------------------------------------


def _ms(seconds: float) -> str:
    ms = 1e3 * seconds
    return f"{ms:.0f}" if ms >= 100 else f"{ms:.3g}"


def ratios(row: dict) -> tuple[float | None, float | None]:
    """Ours over the fastest other solver, and over lbfgs (inf where ours
    never reached the gap, None where the other never did)."""
    times = row["times"]
    ours = times["ours"]
    others = [t for name, t in times.items() if name != "ours" and t is not None]

    def ratio(other):
        if other is None:
            return None
        return np.inf if ours is None else ours / other

    return ratio(min(others) if others else None), ratio(times.get("lbfgs"))


def _ratio(value: float | None) -> str:
    if value is None:
        return "-"
    return "ours never" if np.isinf(value) else f"{value:.2f}"


def table(rows, solvers, gap) -> tuple[list[str], list[list[str]], list[str]]:
    """The header, the cells and the legend of the labels ([a], [b], ...)."""
    marks: dict[str, str] = {}

    def mark(text):
        marks.setdefault(text, "abcdefghijklmnopqrstuvwxyz"[len(marks)])
        return f" [{marks[text]}]"

    header = ["shape", *(f"{s.name} (ms)" for s in solvers)]
    header += ["ours / fastest other", "ours / lbfgs"]
    cells = []
    for row in rows:
        line = [row["name"]]
        for ladder in row["ladders"]:
            seconds = row["times"][ladder.solver.name]
            if ladder.not_applied:
                line.append("n/a" + mark(ladder.not_applied))
                continue
            text = "never" if seconds is None else _ms(seconds)
            line.append(text + (mark(ladder.label) if ladder.label else ""))
        line += [_ratio(value) for value in ratios(row)]
        cells.append(line)
    legend = [f"[{letter}] {text}" for text, letter in marks.items()]
    legend.append(f"never: no fit of the ladder reached a relative gap of {gap:g}.")
    return header, cells, legend


def print_table(header, cells) -> None:
    lines = [header, *cells]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for line in lines:
        print(
            "  ".join(
                cell.ljust(width) if i == 0 else cell.rjust(width)
                for i, (cell, width) in enumerate(zip(line, widths, strict=True))
            )
        )


def worst(rows) -> str:
    """The worst ours / fastest other over the rows, and its shape."""
    scored = [(ratios(row)[0], row["name"]) for row in rows]
    scored = [(value, name) for value, name in scored if value is not None]
    if not scored:
        return "Worst ours / fastest other: no other solver reached the gap."
    value, name = max(scored)
    return f"Worst ours / fastest other: {_ratio(value)} ({name})."


def ladder_line(ladder: Ladder, f_star: float, gap: float) -> str:
    """What one solver's ladder did on a shape: its fits, the tolerance
    that reached the gap fastest, the best gap, why it stopped."""
    if ladder.not_applied:
        return f"    {ladder.solver.name}: n/a, {ladder.not_applied}"
    if not ladder.runs:
        return f"    {ladder.solver.name}: no fit finished, stopped: {ladder.stopped}"
    gaps = ladder.gaps(f_star)
    pairs = zip(ladder.runs, gaps, strict=True)
    reached = [(run.seconds, run.tol) for run, value in pairs if value <= gap]
    text = f"    {ladder.solver.name}: {len(ladder.runs)} fits"
    if reached:
        seconds, tol = min(reached)
        text += f", gap reached at tol={tol:g} in {_ms(seconds)} ms"
    text += f", best gap {max(min(gaps), 0):.1e}"
    if ladder.stopped:
        text += f", stopped: {ladder.stopped}"
    if ladder.label:
        text += f" ({ladder.label})"
    return text


def blas_kernels() -> str:
    """OpenBLAS's kernel (its 'architecture'), as threadpoolctl reports it."""
    kernels = [
        f"{info.get('internal_api')} {info.get('architecture')}"
        for info in threadpool_info()
        if info.get("architecture")
    ]
    return ", ".join(dict.fromkeys(kernels)) or "no BLAS kernel reported"


def anchor_versions(solvers) -> str:
    names = [s.distribution for s in solvers if s.distribution]
    found = ", ".join(f"{n} {importlib.metadata.version(n)}" for n in names)
    return found or "none installed"


def _setting(threads: int | None) -> str:
    if threads is None:
        return "With all threads"
    return f"With {threads} thread{'s' if threads > 1 else ''}"


def results_file(
    args, started, runs, shapes, solvers, skipped, append: bool
) -> list[str]:
    """The sections of the results file: what was measured (unless
    ``append``: the file has it), then this run: its command, settings,
    machine and anchors' versions, the draws, and a table for each thread
    setting."""
    what = (
        f"{args.draw} drawn shapes, seed {args.seed}" if args.draw else "the fixed list"
    )
    command = "python benchmarks/bench_anchors.py " + " ".join(sys.argv[1:])
    sections = []
    if not append:
        sections += [
            "Written by the runs below (each gives its command); run them again"
            " rather than edit this file.",
            "## What was measured\n\n" + _results.docstring_text(__doc__),
        ]
    sections += [
        f"## Run: {what}\n\n`{command}`: relative gap {args.gap:g}, best of"
        f" {args.repeat}, fits over {args.timeout:g} s end a ladder"
        + (", --quick sizes" if args.quick else "")
        + ".\n\n"
        + "\n".join(_results.machine_facts(started))
        + f"\n- Anchors: {anchor_versions(solvers)}"
        + f"\n- BLAS kernel: {blas_kernels()}"
        + "".join(f"\n- {reason}" for reason in skipped),
    ]
    if args.draw:
        draws = [f"- {shape.name}: {shape.drawn}" for shape in shapes]
        sections.append(f"### Draws (seed {args.seed})\n\n" + "\n".join(draws))
    for threads, pools, rows in runs:
        header, cells, legend = table(rows, solvers, args.gap)
        text = f"### {what.capitalize()}: {_setting(threads).lower()}\n\n"
        text += f"Thread pools: {pools}.\n\n"
        text += _results.markdown_table(header, cells)
        text += "\n\n" + "\n".join(f"- {line}" for line in legend)
        text += "\n\n" + worst(rows)
        sections.append(text)
    return sections


def _threads(value: str) -> int | None:
    return None if value == "all" else int(value)


def _drop_openblas_overrides() -> None:
    """Run this script again without OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE
    (both together): they are set on some processors for older OpenBLAS
    builds and slow a current numpy."""
    present = [name for name in OPENBLAS_OVERRIDES if name in os.environ]
    if not present or "--keep-openblas-env" in sys.argv:
        return
    print(f"Running again without {' and '.join(OPENBLAS_OVERRIDES)}", flush=True)
    env = {k: v for k, v in os.environ.items() if k not in OPENBLAS_OVERRIDES}
    os.execve(sys.executable, [sys.executable, *sys.argv], env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gap", type=float, default=1e-6)
    parser.add_argument("--repeat", type=int, default=2, help="best of (default 2)")
    parser.add_argument(
        "--threads",
        nargs="+",
        default=["all"],
        choices=["all", "1"],
        help="one setting or both, in turn (default: all)",
    )
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds")
    parser.add_argument("--draw", type=int, default=0, metavar="N")
    parser.add_argument("--seed", type=int, default=0, metavar="S")
    parser.add_argument("--only", nargs="+", default=None, metavar="WORD")
    parser.add_argument("--quick", action="store_true", help="tiny sizes")
    parser.add_argument("--markdown", type=Path, default=None, metavar="FILE")
    parser.add_argument(
        "--append", action="store_true", help="add this run to the --markdown file"
    )
    parser.add_argument("--keep-openblas-env", action="store_true")
    args = parser.parse_args()
    _drop_openblas_overrides()

    solvers, skipped = installed(SOLVERS)
    for reason in skipped:
        print(reason)
    if args.draw:
        rng = np.random.default_rng(args.seed)
        shapes = [draw_shape(rng, i + 1, args.quick) for i in range(args.draw)]
    else:
        shapes = [
            shape
            for shape in SHAPES
            if args.only is None or any(word in shape.name for word in args.only)
        ]
    started = _results.now()
    print(f"Anchors: {anchor_versions(solvers)}; BLAS kernel: {blas_kernels()}")
    runs = []
    for setting in dict.fromkeys(args.threads):
        threads = _threads(setting)
        with threadpool_limits(limits=threads):
            pools = _results.thread_pools()
            print(f"\n{_setting(threads)} ({pools})", flush=True)
            rows = []
            for shape in shapes:
                print(f"  {shape.name}{': ' * bool(shape.drawn)}{shape.drawn}")
                start = time.perf_counter()
                row = run_shape(shape, solvers, _with_threads(args, threads))
                for ladder in row["ladders"]:
                    print(ladder_line(ladder, row["f*"], args.gap))
                print(f"    ({time.perf_counter() - start:.1f} s)", flush=True)
                rows.append(row)
            header, cells, legend = table(rows, solvers, args.gap)
            print()
            print_table(header, cells)
            for line in legend:
                print(line)
            print(worst(rows))
            runs.append((threads, pools, rows))
    if args.markdown is not None:
        # --append to no file yet writes a whole one.
        append = args.append and args.markdown.exists()
        sections = results_file(args, started, runs, shapes, solvers, skipped, append)
        title = "Benchmark results: time to a gap, ours and the anchors"
        if append:
            _results.append(args.markdown, sections)
        else:
            _results.write(args.markdown, title, sections)


def _with_threads(args, threads):
    """The arguments with ``threads`` the current setting (None: all)."""
    return argparse.Namespace(**{**vars(args), "threads": threads})


def _numexpr_threads(threads: int | None) -> None:
    """numexpr (glum's) keeps its own pool, which threadpoolctl does not see."""
    if "numexpr" in sys.modules:
        sys.modules["numexpr"].set_num_threads(threads or os.cpu_count())


if __name__ == "__main__":
    main()
