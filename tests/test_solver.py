"""The solver on problems with known answers, independent of logistic regression."""

import dataclasses
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import pytest

from sklearn_gdlogreg._plan import FitPlan
from sklearn_gdlogreg._solver import gradient_descent


@dataclass
class Quadratic:
    """f(x) = 1/2 x^T A x - b^T x + l1 |x|_1, with a diagonal A."""

    diag: np.ndarray
    b: np.ndarray
    l1: float = 0.0

    def values_and_grads(self, xs):
        return [
            (0.5 * x @ (self.diag * x) - self.b @ x, self.diag * x - self.b) for x in xs
        ]

    def penalty_l1(self, x):
        return self.l1 * np.abs(x).sum()

    def solution(self):
        return np.sign(self.b) * np.maximum(np.abs(self.b) - self.l1, 0) / self.diag


@dataclass
class Euclidean:
    l1: float = 0.0

    def direction(self, g):
        return g

    def inner(self, u, v):
        return float(np.vdot(u, v))

    def prox(self, x, step):
        if self.l1 == 0:
            return x  # unchanged, as Geometry's: the step stays on its line
        return np.sign(x) * np.maximum(np.abs(x) - step * self.l1, 0)

    def optimality(self, x, g):
        return np.abs(x - self.prox(x - g, 1.0)).max()

    def cancelled(self, x):
        return 0.0  # no terms cancel in a least-squares value


@dataclass
class LeastSquares:
    """f(x) = 1/2 |A x - b|^2 + l1 |x|_1 through its scores A x (a
    ScoredProblem), counting the products with A and A^T. Each call checks
    that the scores it is given are those of x: the solver combines the
    momentum point's from two others'."""

    A: np.ndarray
    b: np.ndarray
    l1: float = 0.0
    products: int = 0

    def values_and_grads(self, xs):
        self.products += 2  # one read of A for all the points
        return [self._at(x, self.A @ x) for x in xs]

    def scores(self, x):
        self.products += 1
        return self.A @ x

    def value_and_grad_at(self, x, scores, grad=True):
        np.testing.assert_allclose(scores, self.A @ x, rtol=1e-10, atol=1e-10)
        self.products += grad
        value, g = self._at(x, scores)
        return value, (g if grad else None)

    def _at(self, x, z):
        r = z - self.b
        return 0.5 * r @ r, self.A.T @ r

    def penalty_l1(self, x):
        return self.l1 * np.abs(x).sum()


QUADRATIC = Quadratic(diag=np.array([1.0, 10.0, 100.0]), b=np.array([1.0, -2.0, 0.5]))


# The plan's fields a test may set, and the solver's other arguments.
PLAN_FIELDS = {field.name for field in dataclasses.fields(FitPlan)}


def solve(
    problem=QUADRATIC, geometry=None, coef0=None, learning_rate=1 / 100, **options
):
    """Run the solver; each test states only the options that matter to it:
    the plan's fields (``learning_rate`` is its first step) and the run's."""
    plan = dict(adaptive=False, accelerated=False, remetric_factor=1e-2)
    plan.update({key: value for key, value in options.items() if key in PLAN_FIELDS})
    run = dict(max_iter=10_000)
    run.update({key: value for key, value in options.items() if key not in PLAN_FIELDS})
    return gradient_descent(
        problem,
        Euclidean() if geometry is None else geometry,
        np.zeros(3) if coef0 is None else coef0,
        FitPlan(first_step=learning_rate, **plan),
        **run,
    )


@pytest.mark.parametrize("accelerated", [False, True])
@pytest.mark.parametrize("adaptive", [False, True])
def test_reaches_known_minimum(accelerated, adaptive):
    result = solve(
        learning_rate=1 / 100 if not adaptive else 1.0,
        adaptive=adaptive,
        accelerated=accelerated,
        tol=1e-10,
    )
    assert result.converged
    np.testing.assert_allclose(result.coef, QUADRATIC.solution(), rtol=1e-8)
    assert result.objective_history.shape == (result.n_iter + 1,)


def test_acceleration_needs_fewer_iterations():
    runs = [solve(accelerated=accelerated, tol=1e-8) for accelerated in (False, True)]
    assert runs[1].n_iter < runs[0].n_iter / 2


def test_adaptive_steps_never_increase_objective_without_momentum():
    result = solve(
        learning_rate=10.0,  # far too large: backtracking must shrink it
        adaptive=True,
        tol=1e-8,
    )
    assert result.converged
    # Non-increasing, up to rounding of the objective.
    rounding = 1e3 * np.finfo(float).eps * np.abs(result.objective_history).max()
    assert np.all(np.diff(result.objective_history) <= rounding)


def test_l1_gives_exact_zeros():
    problem = Quadratic(
        diag=np.array([1.0, 2.0, 4.0]), b=np.array([3.0, 0.2, -1.0]), l1=0.5
    )
    for accelerated in (False, True):
        result = solve(
            problem,
            Euclidean(l1=0.5),
            np.ones(3),
            learning_rate=1.0,
            adaptive=True,
            accelerated=accelerated,
            tol=1e-10,
        )
        assert result.converged
        np.testing.assert_allclose(result.coef, problem.solution(), rtol=1e-8)
        assert result.coef[1] == 0.0  # exactly, not approximately


def test_constant_step_too_large_reports_divergence_with_finite_coef():
    result = solve(
        learning_rate=1e3,  # |1 - 1e3 * 100| > 1: blows up geometrically
        tol=1e-8,
    )
    assert result.status == "diverged"
    assert np.isfinite(result.coef).all()
    assert np.isfinite(result.objective_history).all()


def test_callback_sees_every_iteration_and_input_is_not_modified():
    seen = []
    x0 = np.zeros(3)
    result = solve(
        coef0=x0,
        max_iter=50,
        tol=0.0,
        callback=lambda it, coef, f, opt, step: seen.append((it, f)),
    )
    assert [it for it, _ in seen] == list(range(51))
    np.testing.assert_allclose([f for _, f in seen], result.objective_history)
    assert result.status == "max_iter" and result.n_iter == 50
    assert not x0.any()


def test_callback_can_stop_the_run():
    seen = []

    def stop_after_three(it, coef, f, opt, step):
        seen.append(coef.copy())
        return it == 3

    result = solve(coef0=np.zeros(3), max_iter=50, tol=0.0, callback=stop_after_three)
    assert result.status == "stopped" and result.n_iter == 3
    np.testing.assert_array_equal(seen[-1], result.coef)


@dataclass
class Scaled(Euclidean):
    """The metric diag(scale): a step along -g / scale."""

    scale: np.ndarray = None  # type: ignore[assignment]

    def direction(self, g):
        return g / self.scale

    def inner(self, u, v):
        return float(np.vdot(u, self.scale * v))


def test_remetric_in_the_hessian_converges_at_once_and_keeps_tols_measure():
    asked = []

    def remetric(x):
        asked.append(x.copy())
        return Scaled(scale=QUADRATIC.diag), 1.0  # the exact Hessian: Newton

    plain = solve(adaptive=True, accelerated=True, tol=1e-10, learning_rate=1.0)
    result = solve(
        adaptive=True, accelerated=True, tol=1e-10, learning_rate=1.0, remetric=remetric
    )
    np.testing.assert_allclose(result.coef, QUADRATIC.solution(), rtol=1e-9)

    # Asked each time the (Euclidean) optimality had shrunk 100-fold; a
    # step or two in the Hessian metric, where the plain run takes many.
    def optimality(x):
        return np.abs(QUADRATIC.diag * x - QUADRATIC.b).max()

    levels = [optimality(np.zeros(3))] + [optimality(x) for x in asked]
    assert len(asked) >= 1
    assert all(b <= a / 100 for a, b in pairwise(levels))
    assert result.n_iter < plain.n_iter / 2
    # tol is still measured by the run's geometry: the Euclidean gradient.
    g = QUADRATIC.diag * result.coef - QUADRATIC.b
    assert (
        result.optimality == pytest.approx(np.abs(g).max())
        and result.optimality <= 1e-10
    )


def test_no_new_metric_when_the_run_is_within_finish_within_tols_of_its_end():
    """A metric pays off over the iterations after it: none is measured once
    the optimality is within ``finish_within`` times tol (the metric in use
    finishes), and the run still ends at tol."""
    tol = 1e-6

    def optimality(x):
        return np.abs(QUADRATIC.diag * x - QUADRATIC.b).max()

    def run(finish_within):
        asked = []

        def remetric(x):
            asked.append(optimality(x))
            return Scaled(scale=QUADRATIC.diag * 2), 0.5  # a Newton step, halved

        result = solve(
            adaptive=True,
            accelerated=True,
            tol=tol,
            learning_rate=1.0,
            remetric=remetric,
            remetric_factor=0.9,  # asked at almost every iteration, but for the rule
            finish_within=finish_within,
        )
        assert result.converged and result.optimality <= tol
        return asked

    asked = run(10)
    assert len(asked) >= 2
    assert min(asked) > 10 * tol
    # Without the rule, this run asks for one there.
    assert min(run(0)) <= 10 * tol


def least_squares(l1=0.0):
    rng = np.random.RandomState(0)
    A = rng.normal(size=(40, 6)) * [1, 2, 5, 1, 0.5, 3]
    return LeastSquares(A, rng.normal(size=40), l1=l1)


@pytest.mark.parametrize("accelerated", [False, True])
@pytest.mark.parametrize("adaptive", [False, True])
@pytest.mark.parametrize("l1", [0.0, 5.0])
def test_kept_scores_reach_the_same_minimum(accelerated, adaptive, l1):
    # The momentum point's scores combined from two others' (checked by the
    # problem at each call), gradients only where a step starts: the same
    # minimum as with every point evaluated in full, within tol.
    runs = []
    for keep_scores in (False, True):
        problem = least_squares(l1)
        runs.append(
            solve(
                problem,
                Euclidean(l1=l1),
                np.zeros(6),
                learning_rate=1 / np.linalg.norm(problem.A, 2) ** 2,
                adaptive=adaptive,
                accelerated=accelerated,
                tol=1e-10,
                keep_scores=keep_scores,
            )
        )
    for result in runs:
        assert result.converged
        assert result.objective_history.shape == (result.n_iter + 1,)
    np.testing.assert_allclose(runs[1].coef, runs[0].coef, rtol=1e-7, atol=1e-9)
    if l1:
        np.testing.assert_array_equal(runs[1].coef == 0, runs[0].coef == 0)
        assert (runs[1].coef == 0).any()
    # The result is the point whose optimality met tol, and the history's
    # last entry is its objective.
    problem = least_squares(l1)
    value, grad = problem.values_and_grads([runs[1].coef])[0]
    assert Euclidean(l1=l1).optimality(runs[1].coef, grad) <= 1e-10
    assert runs[1].objective_history[-1] == pytest.approx(
        value + problem.penalty_l1(runs[1].coef), rel=1e-12
    )


def test_kept_scores_read_the_data_about_twice_an_iteration():
    # Accelerated and adaptive: with kept scores, a product with A for each
    # step's direction (every halving along it then costs none: the scores
    # of the points on the line are combined) and one with A^T for the
    # momentum point's gradient, plus a few for restarts (2.02 an iteration
    # here); no point is evaluated in full (two points together take
    # two-column products). A product for each step tried would make it
    # 2.44, computing the momentum point's scores or the new point's
    # gradient 3 or more. (Near the limit of rounding, where the
    # backtracking test compares gradients, the new point's is computed.)
    problem = least_squares()
    problem.values_and_grads = None  # must not be called
    result = solve(
        problem,
        coef0=np.zeros(6),
        learning_rate=1.0,
        adaptive=True,
        accelerated=True,
        tol=1e-4,
        keep_scores=True,
    )
    assert result.converged and result.n_iter > 10
    assert problem.products / result.n_iter <= 2.25


@pytest.mark.parametrize(
    "keep_scores, l1, on_line",
    [(True, 0.0, True), (False, 0.0, False), (True, 1e-3, False)],
)
def test_on_a_line_the_next_step_is_what_the_curvature_allows(keep_scores, l1, on_line):
    # Adaptive, from a step 100 times too small. Where a step tried costs no
    # read (kept scores, no L1 term: the steps stay on a line), the next
    # step is the largest that the curvature just measured allows, at least
    # 1 / L here (the curvature of least squares along any step is at most
    # L = |A|^2); elsewhere it grows by 1.25 at most an iteration.
    problem = least_squares(l1)
    lipschitz = np.linalg.norm(problem.A, 2) ** 2
    steps = []
    solve(
        problem,
        Euclidean(l1=l1),
        np.zeros(6),
        learning_rate=1e-2 / lipschitz,
        adaptive=True,
        max_iter=3,
        tol=0.0,
        keep_scores=keep_scores,
        callback=lambda *report: steps.append(report[4]),
    )
    assert len(steps) == 4
    if on_line:
        assert min(steps[1:]) >= 1 / lipschitz
    else:
        assert steps[-1] <= steps[0] * 1.25**3 * (1 + 1e-12)
