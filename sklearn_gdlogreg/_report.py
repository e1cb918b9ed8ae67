"""What the estimators do with each iteration of the solver and where their
warnings point: the notebook's printed report, scikit-learn's callbacks."""

from __future__ import annotations

import sys
from pathlib import Path

import sklearn.callback

from . import _layout


class IterationReporter:
    """What the estimator does with each iteration of the solver.

    Prints the notebook's report every ``verbose`` iterations, and reports
    the fit and its iterations to scikit-learn's callbacks (``set_callbacks``)
    as ``LogisticRegression``'s lbfgs path does: the fit is a task, each
    iteration a subtask ``"gd-iter"`` that begins at the iteration's starting
    point and ends at its result. Like lbfgs's, the last subtask is begun
    but never run; ``close`` ends it empty.
    """

    def __init__(self, estimator, X, y, sample_weight, objective, classes, names):
        self.estimator, self.X, self.y = estimator, X, y
        self.objective, self.classes, self.names = objective, classes, names
        self.verbose = int(estimator.verbose)
        self.metadata = (
            None if sample_weight is None else {"sample_weight": sample_weight}
        )
        self.context = self.task = None
        if hasattr(estimator, "_skl_callbacks"):
            self.context = estimator._init_callback_context(
                max_subtasks=estimator.max_iter + 1
            )
            self.context.call_on_fit_task_begin(
                estimator=estimator, X=X, y=y, metadata=self.metadata
            )

    def __call__(self, iteration, coef, objective, optimality, step) -> bool:
        if self.verbose and iteration % self.verbose == 0:
            print(
                f"iteration {iteration:>6}   objective {objective:.10g}   "
                f"gradient max-norm {optimality:.3g}   step {step:.3g}"
            )
        if self.context is None:
            return False
        stop = False
        hooks = {
            "estimator": self.estimator,
            "X": self.X,
            "y": self.y,
            "metadata": self.metadata,
        }
        # Evaluated only if a callback asks for a fitted estimator.
        attributes = lambda: {  # noqa: E731
            **self.names,
            **_layout.fitted_attributes(
                coef,
                self.objective.n_features,
                self.objective.fit_intercept,
                self.classes,
                self.objective.backend.X,
            ),
        }
        if self.task is not None:
            stop = self.task.call_on_fit_task_end(
                **hooks, reconstruction_attributes=attributes
            )
        self.task = self.context.subcontext(task_name="gd-iter")
        self.task.call_on_fit_task_begin(**hooks, reconstruction_attributes=attributes)
        return stop

    def close(self) -> None:
        if self.context is None:
            return
        self.task.call_on_fit_task_end(estimator=self.estimator)
        self.context.call_on_fit_task_end(
            estimator=self.estimator,
            X=self.X,
            y=self.y,
            metadata=self.metadata,
            reconstruction_attributes={},
        )


def caller_stacklevel() -> int:
    """The ``stacklevel`` of the first frame outside this package and
    scikit-learn's callback wrappers: warnings point at the caller's line."""
    internal = (
        str(Path(__file__).parent),
        str(Path(sklearn.callback.__file__).parent),
    )
    frame, level = sys._getframe(1), 1  # 1: the function that warns
    while frame.f_back is not None and frame.f_code.co_filename.startswith(internal):
        frame, level = frame.f_back, level + 1
    return level
