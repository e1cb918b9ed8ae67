"""The plan of a fit: how it runs, decided once, in one place.

Which metric the steps take and on which rows it is measured, whether and
when it is measured again, whether the solver keeps each point's scores, the
first step and how the steps grow: :func:`make_plan` decides all of it from
the objective (its shape, its penalty, the kind of X) and the estimator's
``learning_rate`` and ``solver``, and returns a frozen :class:`FitPlan`;
:func:`solve` runs one (the metric it measures again comes from
``_remetric``). Each threshold below has a name and the reason it is
right; the figures that chose them are the benchmarks' output.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from functools import partial
from typing import Literal

import numpy as np

from ._backends import Backend
from ._conjugate import Start, conjugate_gradients
from ._correlation import features_correlated
from ._metrics import Geometry
from ._objective import LogisticObjective
from ._remetric import remeasure
from ._solver import Callback, SolverResult, gradient_descent

# The full (decorrelating) metric is a Gram matrix of the features: its set
# up costs n d^2 products where a pass costs n d, so it grows with the number
# of features, and past this it costs more passes than its steps save.
MAX_DECORRELATED_FEATURES = 256
# Past MAX_DECORRELATED_FEATURES the metric is diagonal and a pass at two
# points reads X about twice, so the solver keeps each point's scores where
# they are small next to X: at least this many features per output.
FEATURES_PER_KEPT_SCORE = 128
# On a sparse X (whose metric is always diagonal, or its one-hot groups) a
# step tried along a line then costs no read: accelerated steps keep the
# scores where the arrays of scores they hold at once, about
# KEPT_SCORE_ARRAYS of a point's, take at most a tenth of X (the share the
# dense rule above keeps), or no more than SMALL_KEPT_SCORES bytes: the
# temporaries of a small block that a pass holds anyway (see
# _backends._blocks).
KEPT_SCORE_ARRAYS = 12
SMALL_KEPT_SCORES = 2**21
# Conjugate directions (a smooth objective with momentum, see _conjugate)
# keep the scores of any X in memory or on a device by the same rule, with
# fewer of them: the point's, the direction's, and one more (a point's along
# the line, or the residual), besides the pointwise step's slices.
CONJUGATE_SCORE_ARRAYS = 3
# Where the metric stays the first one, the diagonal bound or its low-rank
# correction (a dense X past the full metric's width: no metric is
# measured again), each conjugate step
# is a Newton step on the span of the gradient in the metric and the last
# SUBSPACE_HISTORY steps and gradients in the metric, not a step on one
# line: the steps then follow the curvature's changes along the way, as one
# direction and its last cannot. That holds 2 SUBSPACE_HISTORY more arrays
# of scores, the last Newton step's residual (the span's start's, then the
# one the gradient at the step's end takes), and the Newton steps'
# temporaries (the point's along the span, the curvature's, the k = 2
# SUBSPACE_HISTORY + 1 directions' scores weighted by it, a slice of the
# rows each: see _restricted._SUBSPACE_SLICE): SUBSPACE_SCORE_ARRAYS in all,
# taken where they are at most a tenth of X. Its Newton steps cost a few
# passes over the k directions' scores (matrix products), small next to a
# read of such an X.
SUBSPACE_HISTORY = 2
SUBSPACE_SCORE_ARRAYS = 2 * SUBSPACE_HISTORY + 6
# The multinomial Hessian with the classes coupled costs K^2 times the
# covariance, K times its blocks class by class: only up to this many
# coefficients, and only where it costs about a pass (see SMALL_METRIC).
MAX_COUPLED_COEFFICIENTS = 256
# Its blocks class by class keep K (m, m) blocks and their inverses: only up
# to this many entries in all (32 MiB each).
MAX_CLASS_BLOCK_ENTRIES = 2**22
# A full metric of m coefficients costs n m^2 products where a pass costs n m:
# on a tall numpy X it is measured on evenly spaced rows, about this many per
# coefficient (a metric shapes the steps, it does not move the minimum) ...
METRIC_ROWS_PER_COEFFICIENT = 128
# ... and no fewer than this: a sample's errors are relative to the metric's
# smallest curvatures, and this many rows cost little.
MIN_METRIC_ROWS = 8192
# The curvature metric is measured again each time the optimality has
# shrunk by REMETRIC_FACTOR; by SMALL_REMETRIC_FACTOR where it is the
# Hessian (binary, or the classes' blocks) of at most SMALL_METRIC
# coefficients or of a sample of the rows: then a new one costs about a pass.
REMETRIC_FACTOR, SMALL_REMETRIC_FACTOR, SMALL_METRIC = 1e-2, 1e-1, 64
# No new metric of all the rows once the optimality is within this factor
# of tol: it costs several passes, and the one in use, measured near the
# minimum, finishes the fit. (One from a sample of the rows costs about a
# pass: always, until it settles, see _remetric._remeasured_full.)
FINISH_WITHIN = 10
# An accepted step grows by at most GROWTH for the next iteration ...
GROWTH = 1.25
# ... or, where a step tried costs no read of X (kept scores, no L1 term: on
# a line), up to the largest the curvature just measured allows, at most
# GROWTH_ON_LINE times: a bound for a curvature near zero. Where a step tried
# costs a read, the halvings after a step grown too far cost a read each:
# there steps grow by GROWTH.
GROWTH_ON_LINE = 1e3

Metric = Literal["diagonal", "full", "groups", "low_rank"]
Remeasured = Literal[
    "none", "curvature", "class_coupled", "class_blocks", "class_curvature"
]


@dataclass(frozen=True)
class FitPlan:
    """How a fit runs (see :func:`make_plan`); ``verbose`` prints it."""

    # Steps found by backtracking (learning_rate="auto"), else constant.
    adaptive: bool
    # Nesterov momentum with adaptive restart (solver="nesterov").
    accelerated: bool
    # The step tried first: a Newton step of the loss at zero in the first
    # metric, or the constant learning_rate.
    first_step: float
    # The first metric: the features' variances ("diagonal"), their whole
    # covariance ("full", decorrelating), the covariance within groups of
    # one-hot columns ("groups", whose bounds are ``groups``), or the
    # variances corrected along the few directions where the Hessian bound
    # curves far more than in the rest ("low_rank": a wide numpy X whose
    # steps are taken on a subspace; see _low_rank.sketched_spikes).
    metric: Metric = "diagonal"
    groups: tuple[int, ...] = ()
    # The full metric's rows: every k-th of a tall X.
    metric_stride: int = 1
    # The metric measured again at the current coefficients as the fit
    # converges: none, the curvature of the loss there (binary: the Hessian;
    # multinomial: one metric for all classes; a sparse X: the first
    # metric's kind at the curvature, see _remetric.RESHAPED), or the
    # multinomial Hessian with the classes coupled, or its blocks class by
    # class, or on a sparse X the first metric's kind at each class's
    # curvature.
    remeasured: Remeasured = "none"
    remeasured_stride: int = 1
    # ... each time the optimality has shrunk by this factor, until it is
    # within finish_within times tol (or, measured on a sample of the rows,
    # until it has settled: see _remetric._remeasured_full).
    remetric_factor: float = 1.0
    finish_within: float = 0.0
    # ... and at the start, where the fit starts away from zero (a warm
    # start): the first metric is the curvature at zero, far from there.
    measure_at_start: bool = False
    # ... and the momentum kept across a new metric (else the steps start
    # again from the iterate: a Hessian's Newton steps need none).
    keep_momentum: bool = False
    # The solver keeps each point's scores X W + b (an X in memory, where
    # they are small: see keeps_scores and takes_conjugate_directions).
    keep_scores: bool = False
    # ... and takes conjugate directions, each step the minimum along its
    # line (a smooth objective with kept scores: see _conjugate), where
    # accelerated steps would be taken.
    conjugate: bool = False
    # ... each step the minimum over the span of the gradient in the metric
    # and this many earlier steps and gradients in the metric (0: over the
    # line of one conjugate direction). See SUBSPACE_HISTORY.
    history: int = 0
    # ... or where each step is the minimum along a line, whether the line
    # takes the point's residual (its curvature there gives the first step
    # tried) and keeps its last slope's (the gradient there takes it): see
    # lines_keep_residuals.
    line_residuals: bool = False
    # How far an accepted step may grow (see GROWTH and GROWTH_ON_LINE).
    growth: float = GROWTH
    growth_on_line: float = GROWTH_ON_LINE

    def describe(self) -> str:
        """The plan in one line per field, as ``verbose`` prints it."""
        fields = asdict(self)
        if not self.groups:
            del fields["groups"]
        else:
            fields["groups"] = f"{len(self.groups) - 1} groups"
        return "fit plan: " + ", ".join(f"{k}={v}" for k, v in fields.items())


def metric_stride(backend: Backend, size: int) -> int:
    """The stride of the rows a full metric of ``size`` coefficients is
    measured on: about ``METRIC_ROWS_PER_COEFFICIENT * size`` of them (and
    ``MIN_METRIC_ROWS``) from a numpy X of more than twice as many rows, 1
    (every row) for other arrays and smaller X. Evenly spaced rows are views
    of X: no copy."""
    k = _rows_per_sample(backend, size)
    return k if backend.dense and k >= 2 else 1


def _rows_per_sample(backend: Backend, size: int) -> int:
    """The stride :func:`metric_stride` takes on a numpy X (of any X's
    shape: 2 or more where its rows are sampled)."""
    n = backend.shape[0]
    return int(n // max(METRIC_ROWS_PER_COEFFICIENT * size, MIN_METRIC_ROWS))


def keeps_scores(objective: LogisticObjective) -> bool:
    """Whether accelerated steps keep each point's scores: a dense numpy X
    past the full metric's width, with at least ``FEATURES_PER_KEPT_SCORE``
    features per output (a point's scores are then small next to X), or a
    sparse X in memory where the ``KEPT_SCORE_ARRAYS`` of scores held are
    small next to X or small (see :func:`_scores_held_are_small`)."""
    backend = objective.backend
    if backend.sparse and backend.host:
        return _scores_held_are_small(objective, KEPT_SCORE_ARRAYS)
    return (
        backend.dense
        and objective.n_features > MAX_DECORRELATED_FEATURES
        and objective.n_features >= FEATURES_PER_KEPT_SCORE * objective.n_outputs
    )


def takes_conjugate_directions(objective: LogisticObjective) -> bool:
    """Whether a smooth fit with momentum takes conjugate directions (see
    ``_conjugate``), which keep the scores. An X in memory or on a device
    (one whose product is one call): where the ``CONJUGATE_SCORE_ARRAYS``
    of scores held are small next to X or small, or where accelerated
    steps keep the scores anyway (a wide dense X, see
    :func:`keeps_scores`); a sparse X in memory also where it is one block
    for the accelerated steps' pass at two points (many classes, few
    entries a row: that pass then holds both points' scores of every row
    at once, and its pointwise step's temporaries, so the scores kept add
    little). Each step then reads X twice (the direction's scores, then
    the gradient), as an accelerated step does, and the exact minimum along
    each line saves steps and the backtracking's halvings. The rule reads
    the shape of X, not where it is held, so that the same dense X in numpy
    and in another array library's namespace takes the same steps, to the
    same model (scikit-learn's ``check_array_api_input`` asks for fitted
    arrays of the same shapes, the loss curve's among them); past
    ``MAX_DECORRELATED_FEATURES`` the steps in memory are taken on a
    subspace (:func:`_keeps_a_subspace`), a device's along one line. Row
    chunks held elsewhere (Dask) keep no scores: accelerated steps at two
    points stacked, the same minimum."""
    backend = objective.backend
    if not backend.products:
        return False
    if backend.sparse and backend.one_block(2 * objective.n_outputs) is not None:
        return True
    return _scores_held_are_small(objective, CONJUGATE_SCORE_ARRAYS) or keeps_scores(
        objective
    )


def lines_keep_residuals(objective: LogisticObjective) -> bool:
    """Whether conjugate lines keep residuals (``FitPlan.line_residuals``):
    multinomial, where the softmax is most of a slope's cost (a binary
    slope costs a few operations a row), on an X whose
    ``CONJUGATE_SCORE_ARRAYS`` arrays of scores, the residual among them,
    are small (``SMALL_KEPT_SCORES``): on a larger X the slopes take the
    scores in slices, and the line holds two."""
    backend = objective.backend
    held = CONJUGATE_SCORE_ARRAYS * backend.shape[0] * objective.n_outputs
    return (
        objective.n_outputs > 1 and held * backend.dtype.itemsize <= SMALL_KEPT_SCORES
    )


def _keeps_a_subspace(objective: LogisticObjective) -> bool:
    """Whether conjugate steps are taken on a subspace of earlier steps
    and gradients (see ``SUBSPACE_HISTORY``): a dense X in memory past
    ``MAX_DECORRELATED_FEATURES`` (its metric the variances, or their
    low-rank correction on a numpy X: see ``make_plan``), where its
    ``SUBSPACE_SCORE_ARRAYS`` arrays of scores take at most a tenth of X."""
    backend = objective.backend
    if not (backend.dense and objective.n_features > MAX_DECORRELATED_FEATURES):
        return False
    held = objective.n_outputs * backend.shape[0] * backend.dtype.itemsize
    return 10 * SUBSPACE_SCORE_ARRAYS * held <= backend.nbytes


def _scores_held_are_small(objective: LogisticObjective, arrays: int) -> bool:
    """Whether ``arrays`` arrays of a point's scores take at most a tenth of
    X (X in memory or on a device), or at most ``SMALL_KEPT_SCORES`` bytes."""
    backend = objective.backend
    held = arrays * backend.shape[0] * objective.n_outputs * backend.dtype.itemsize
    return 10 * held <= backend.nbytes or held <= SMALL_KEPT_SCORES


def make_plan(
    objective: LogisticObjective,
    learning_rate: float | str,
    solver: str,
    start: np.ndarray | None = None,
) -> FitPlan:
    """The plan of a fit of ``objective`` with the estimator's
    ``learning_rate`` (a float, or "auto") and ``solver``, from the
    coefficients ``start`` (None: from zero).

    With "auto" the steps are taken in the full metric where it applies (no
    L1 term, whose proximal step needs a diagonal metric; dense X; at most
    ``MAX_DECORRELATED_FEATURES`` features; a binary fit measured on every
    row only where the features are correlated, see
    :func:`_variances_suffice`), and the metric is measured
    again at the current coefficients as the fit converges; on a sparse X
    of one-hot encoded features (no L1 term, an intercept) the first metric
    keeps each feature's covariance, and on any sparse X (no L1 term) it is
    measured again where that reshapes it (:func:`_remeasured_sparse`).
    With momentum, where the scores are kept (see
    :func:`takes_conjugate_directions`), the steps follow conjugate
    directions, each to its line's minimum (``_conjugate``), or on a wide
    dense X each to the minimum of a span of earlier steps and gradients
    (see ``SUBSPACE_HISTORY``), on a numpy X in the variances' metric
    corrected along the directions where the features' common factors
    make the Hessian bound curve far more than elsewhere (``"low_rank"``,
    see ``_low_rank.sketched_spikes``). A constant
    ``learning_rate`` stays plain gradient descent on the standardised
    problem (the notebook's).
    """
    adaptive = isinstance(learning_rate, str)
    first_step = 1 / objective.curvature_at_zero if adaptive else float(learning_rate)
    plan = FitPlan(
        adaptive=adaptive,
        accelerated=solver == "nesterov",
        first_step=first_step,
        keep_scores=keeps_scores(objective),
    )
    if not adaptive or objective.proximal:
        return plan
    if plan.accelerated and takes_conjugate_directions(objective):
        plan = replace(plan, keep_scores=True, conjugate=True)
        if _keeps_a_subspace(objective):
            plan = replace(plan, history=SUBSPACE_HISTORY)
        else:
            plan = replace(plan, line_residuals=lines_keep_residuals(objective))
    if objective.backend.sparse:
        backend = objective.backend
        bounds = backend.exclusive_column_groups() if objective.fit_intercept else []
        if bounds:
            plan = replace(plan, metric="groups", groups=tuple(bounds))
        return _remeasured_sparse(plan, objective)
    if objective.n_features > MAX_DECORRELATED_FEATURES:
        if plan.history and type(objective.backend.X) is np.ndarray:
            plan = replace(plan, metric="low_rank")
        return plan
    if _variances_suffice(plan, objective):
        return plan
    stride = metric_stride(objective.backend, objective.n_coefficients)
    plan = _remeasured(replace(plan, metric="full", metric_stride=stride), objective)
    if start is not None and objective.split(start)[0].any():
        plan = replace(plan, measure_at_start=True)
    if _momentum_costs_more_than_it_saves(plan, objective):
        plan = replace(plan, accelerated=False)
    return plan


def _variances_suffice(plan: FitPlan, objective: LogisticObjective) -> bool:
    """Whether a narrow dense X's fit keeps the diagonal metric (the
    variances) where the full one was to be measured: two classes (the
    multinomial full metric couples the classes too, which the variances
    do not), conjugate directions (``plan.conjugate``: X in memory or on a
    device, its scores kept), the full metric measured on every row (where
    a numpy X of its shape would be sampled, it costs about a pass: kept,
    for every array library alike), and features that a sample of the rows
    cannot tell from uncorrelated ones
    (``_correlation.features_correlated``). The first full metric's gain
    over the variances is then none, and its Gram matrix costs about as
    many passes as X has features; the Hessian measured again near the
    minimum would gain where the curvature reshapes it, which conjugate
    directions follow (on the benchmarks' drawn binary shapes the variances
    took as long or less; plain steps would not follow it, and keep the
    full metric)."""
    return (
        objective.n_outputs == 1
        and plan.conjugate
        and _rows_per_sample(objective.backend, objective.n_coefficients) < 2
        and not features_correlated(objective)
    )


def _momentum_costs_more_than_it_saves(
    plan: FitPlan, objective: LogisticObjective
) -> bool:
    """Whether a fit takes plain steps where momentum was asked for: steps
    in the full metric, measured again at the curvature (a Hessian, or its
    class blocks), on an X in memory or on a device that keeps no scores
    (``plan.conjugate`` False: X is narrow next to the scores). Plain steps
    in a metric that close to the curvature take about as many iterations
    as accelerated ones, and each evaluates one point where momentum
    evaluates two; on such an X a point's pointwise loss costs about as
    much as its share of the read, so plain steps take about half the
    time. An X on a device takes the steps the same X takes in numpy (see
    :func:`takes_conjugate_directions`); row chunks held elsewhere (Dask,
    not measured) keep momentum."""
    return (
        plan.accelerated
        and not plan.conjugate
        and plan.metric == "full"
        and plan.remeasured != "none"
        and objective.backend.products
    )


def _remeasured(plan: FitPlan, objective: LogisticObjective) -> FitPlan:
    """``plan`` (of the full metric) with the metric measured again as the
    fit converges: near the minimum the curvature is far smaller in the
    directions where the predictions are confident than the bound the first
    metric is, and a metric measured there takes a few steps where the bound
    takes many.

    Binary: the Hessian there. Multinomial: the Hessian with the classes
    coupled where it is small enough, and on a numpy X only where it costs
    about a pass (see :func:`_costs_about_a_pass`), else its blocks class
    by class (they see that a class predicted with certainty needs long
    steps where two confused ones need short) on a numpy X, else one metric
    for all classes. Each costs about a pass over X, or over a sample of its
    rows, or more where it is measured less often. None with
    offsets: those metrics are measured from X's rows alone, where the
    scores need their offsets too.
    """
    if objective.shifted:
        return plan
    m = objective.n_features + objective.fit_intercept
    blocks = objective.backend.dense and (
        objective.n_outputs * m * m <= MAX_CLASS_BLOCK_ENTRIES
    )
    if objective.n_outputs == 1:
        remeasured: Remeasured = "curvature"
    elif objective.n_coefficients <= MAX_COUPLED_COEFFICIENTS and (
        # K times its blocks' cost: only where that is about a pass.
        not blocks or _costs_about_a_pass(objective, objective.n_coefficients)
    ):
        remeasured = "class_coupled"
    elif blocks:
        remeasured = "class_blocks"
    else:
        remeasured = "curvature"
    size = m if remeasured == "class_blocks" else objective.n_coefficients
    stride = metric_stride(objective.backend, size)
    # The Hessian or its blocks (not the shared metric) of few coefficients,
    # or of a sample of the rows, costs about a pass: measured more often.
    exact = remeasured != "curvature" or objective.n_outputs == 1
    often = exact and _costs_about_a_pass(objective, size)
    return replace(
        plan,
        remeasured=remeasured,
        remeasured_stride=stride,
        remetric_factor=SMALL_REMETRIC_FACTOR if often else REMETRIC_FACTOR,
        finish_within=0.0 if stride > 1 else FINISH_WITHIN,
    )


def _costs_about_a_pass(objective: LogisticObjective, size: int) -> bool:
    """Whether a Hessian (or its blocks) of ``size`` coefficients costs about
    a pass over X: at most ``SMALL_METRIC`` of them, or measured on a sample
    of the rows (``metric_stride``). The classes' coupled Hessian costs K
    times its blocks, so where it does not, a numpy X measures the blocks:
    their steps, though more, take less time in all to the default tol
    (the benchmarks' drawn shapes); near the minimum the coupled Hessian's
    Newton steps catch up."""
    return size <= SMALL_METRIC or metric_stride(objective.backend, size) > 1


def _remeasured_sparse(plan: FitPlan, objective: LogisticObjective) -> FitPlan:
    """``plan`` (of a sparse X: the diagonal or groups metric) with that
    metric measured again at the curvature as the fit converges: at a weak
    penalty most rows come to be predicted with confidence and add almost
    no curvature, the more so where a class is rare, and the bound the
    first metric is then overstates the curvature of some columns many
    times more than of others. Multinomial, the metric is measured for each
    class (``"class_curvature"``, ``ClassCurvatureMetric``): one metric for
    all classes, of one mean curvature a row, makes a rare class's steps
    many times too short. A new one costs about a pass over X: measured
    each time the optimality has shrunk by ``SMALL_REMETRIC_FACTOR``, up to
    the end, until one does not reshape the one in use
    (``_remetric.RESHAPED``; with balanced labels, the first one already
    does not). Its steps keep the
    momentum (``keep_momentum``): the new metric is still a diagonal (or
    block) model of the Hessian, not the Hessian, and its steps gain from
    momentum as the first one's did. None with offsets (see
    :func:`_remeasured`).
    """
    if objective.shifted:
        return plan
    return replace(
        plan,
        remeasured="curvature" if objective.n_outputs == 1 else "class_curvature",
        remetric_factor=SMALL_REMETRIC_FACTOR,
        finish_within=0.0,
        keep_momentum=True,
    )


def first_geometry(
    objective: LogisticObjective,
    dtype,
    plan: FitPlan,
    moments: dict | None = None,
    coef0: np.ndarray | None = None,
) -> tuple[Geometry, Start | None]:
    """The plan's first metric (one read of X, and one of a sample of its
    rows for the full metric of a tall X; none where ``moments`` keeps
    them from an earlier fit on the same data, see
    ``Geometry.for_objective``), and where ``coef0``'s scores read nothing
    of X (W zero, as a fit starts) and the moments' read of this kind of X
    makes ``X^T R`` too (``Backend.moments_products``), the :class:`Start`
    at ``coef0``, its gradient's ``X^T R`` from that read
    (``Geometry.for_start``). The residual is made before the read only
    there (it is held through it)."""
    start = residual = None
    if (
        coef0 is not None
        and objective.backend.moments_products
        and not objective.split(coef0)[0].any()
    ):
        # (its scores read nothing, and go before the moments' read: the
        # loop makes them again)
        residual = objective.residual(objective.scores(coef0))
    geometry, products = Geometry.for_start(
        objective,
        dtype,
        None if residual is None else residual[1],
        metric=plan.metric,
        stride=plan.metric_stride,
        groups=plan.groups,
        moments=moments,
    )
    if residual is not None:
        start = Start(residual, products)
    return geometry, start


def solve(
    objective: LogisticObjective,
    plan: FitPlan,
    coef0: np.ndarray,
    *,
    max_iter: int,
    tol: float,
    callback: Callback | None = None,
    moments: dict | None = None,
) -> SolverResult:
    """Minimise ``objective`` from ``coef0`` as ``plan`` says (``moments``:
    see :func:`first_geometry`), in the scope its backend holds for a whole
    fit (``Backend.solving``: on a sparse X, BLAS on one thread)."""
    dtype = coef0.dtype
    with objective.backend.solving():
        # The conjugate loop keeps the scores: it starts from the residual
        # (and X^T R) that the first read made.
        geometry, start = first_geometry(
            objective, dtype, plan, moments, coef0 if plan.conjugate else None
        )
        loop = (
            partial(conjugate_gradients, start=start)
            if plan.conjugate
            else gradient_descent
        )
        return loop(
            objective,
            geometry,
            coef0,
            plan,
            max_iter=max_iter,
            tol=tol,
            callback=callback,
            remetric=remeasure(objective, dtype, geometry, plan),
        )
