"""Plots of a fit: the objective per iteration, for one or several estimators.

matplotlib is an optional dependency (``pip install "sklearn-gdlogreg[plot]"``),
imported only when something is drawn.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ._array_api import to_numpy

_KINDS = ("objective", "gap")


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError(
            "LossCurveDisplay needs matplotlib: pip install matplotlib "
            '(or pip install "sklearn-gdlogreg[plot]").'
        ) from error
    return plt


class LossCurveDisplay:
    """The objective per iteration of fitted estimators (``loss_curve_``).

    Follows scikit-learn's Display convention: build it with
    :meth:`from_estimator` (one estimator) or :meth:`from_estimators` (several,
    overlaid: learning rates, solvers), or directly from curves, then
    :meth:`plot`. Drawing more estimators on the same ``ax`` overlays them too.

    Parameters
    ----------
    loss_curves : list of array-like
        One objective curve per estimator: ``loss_curves[i][k]`` is the
        objective after ``k`` iterations.
    names : list of str
        The legend entry of each curve.

    Attributes
    ----------
    lines_ : list of matplotlib Line2D
        The drawn curves.
    ax_ : matplotlib Axes
        The axes the curves are drawn on.
    figure_ : matplotlib Figure
        The figure holding ``ax_``.

    See Also
    --------
    GradientDescentLogisticRegression : Records ``loss_curve_`` when fitted.
    sklearn.inspection.DecisionBoundaryDisplay : The model's decision regions.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_iris
    >>> from sklearn_gdlogreg import GradientDescentLogisticRegression
    >>> from sklearn_gdlogreg import LossCurveDisplay
    >>> X, y = load_iris(return_X_y=True)
    >>> fits = {
    ...     solver: GradientDescentLogisticRegression(solver=solver).fit(X, y)
    ...     for solver in ("gd", "nesterov")
    ... }
    >>> display = LossCurveDisplay.from_estimators(fits, kind="gap")
    >>> len(display.lines_)
    2
    """

    def __init__(self, *, loss_curves: Iterable[Any], names: Iterable[str]) -> None:
        self.loss_curves = [to_numpy(curve).astype(float) for curve in loss_curves]
        self.names = list(names)
        if len(self.names) != len(self.loss_curves):
            raise ValueError(
                f"{len(self.loss_curves)} loss curves but {len(self.names)} names."
            )

    def plot(
        self,
        ax: Any = None,
        *,
        name: str | Sequence[str] | None = None,
        kind: str = "objective",
        **line_kwargs: Any,
    ) -> LossCurveDisplay:
        """Draw the curves.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Where to draw; a new figure and axes if None.
        name : str or list of str, default=None
            Legend entries, one per curve (a str for a single curve); the
            display's ``names`` if None.
        kind : {"objective", "gap"}, default="objective"
            ``"objective"``: the objective per iteration, linear scale.
            ``"gap"``: the objective minus the lowest objective of all the
            curves, on a log scale, which shows the rate of convergence (the
            point that reaches the lowest value is left out).
        **line_kwargs : dict
            Passed to ``ax.plot`` for every curve.

        Returns
        -------
        display : LossCurveDisplay
            This display, with ``lines_``, ``ax_`` and ``figure_`` set.
        """
        if kind not in _KINDS:
            raise ValueError(f"kind must be one of {_KINDS}, got {kind!r}.")
        names = (
            self.names if name is None else [name] if isinstance(name, str) else name
        )
        if len(names) != len(self.loss_curves):
            raise ValueError(
                f"name has {len(names)} entries for {len(self.loss_curves)} curves."
            )
        if ax is None:
            _, ax = _pyplot().subplots()
        lowest = min(float(np.min(curve)) for curve in self.loss_curves)
        self.lines_ = []
        for curve, label in zip(self.loss_curves, names, strict=True):
            values = curve - lowest if kind == "gap" else curve
            if kind == "gap":
                values = np.where(values > 0, values, np.nan)
            (line,) = ax.plot(np.arange(len(curve)), values, label=label, **line_kwargs)
            self.lines_.append(line)
        if kind == "gap":
            ax.set_yscale("log")
            ax.set_ylabel("objective - lowest objective")
        else:
            ax.set_ylabel("objective")
        ax.set_xlabel("iteration")
        ax.legend()
        self.ax_, self.figure_ = ax, ax.figure
        return self

    @classmethod
    def from_estimator(
        cls,
        estimator: Any,
        *,
        name: str | None = None,
        ax: Any = None,
        kind: str = "objective",
        **kw: Any,
    ) -> LossCurveDisplay:
        """Plot the ``loss_curve_`` of one fitted estimator.

        Parameters
        ----------
        estimator : GradientDescentLogisticRegression
            A fitted estimator (or anything with a ``loss_curve_``).
        name : str, default=None
            Legend entry; the estimator's class name if None.
        ax : matplotlib Axes, default=None
            Where to draw; a new figure and axes if None. Pass the ``ax_`` of
            an earlier display to overlay.
        kind : {"objective", "gap"}, default="objective"
            See :meth:`plot`.
        **kw : dict
            Passed to ``ax.plot``.

        Returns
        -------
        display : LossCurveDisplay
        """
        return cls.from_estimators(
            {name or type(estimator).__name__: estimator}, ax=ax, kind=kind, **kw
        )

    @classmethod
    def from_estimators(
        cls,
        estimators: Mapping[str, Any] | Sequence[Any],
        *,
        ax: Any = None,
        kind: str = "objective",
        **kw: Any,
    ) -> LossCurveDisplay:
        """Overlay the ``loss_curve_`` of several fitted estimators.

        Parameters
        ----------
        estimators : dict of str to estimator, or list of estimators
            Fitted estimators; the dict's keys are the legend entries (a list
            is labelled by each estimator's parameters that differ from the
            defaults).
        ax : matplotlib Axes, default=None
            Where to draw; a new figure and axes if None.
        kind : {"objective", "gap"}, default="objective"
            See :meth:`plot`.
        **kw : dict
            Passed to ``ax.plot``.

        Returns
        -------
        display : LossCurveDisplay
        """
        if not isinstance(estimators, Mapping):
            estimators = {_label(est): est for est in _as_list(estimators)}
        if not estimators:
            raise ValueError("estimators is empty: nothing to plot.")
        for estimator in estimators.values():
            if not hasattr(estimator, "loss_curve_"):
                check_is_fitted(estimator)  # NotFittedError if it is not fitted
                raise ValueError(
                    f"{type(estimator).__name__} has no loss_curve_: "
                    "LossCurveDisplay draws the objective per iteration that "
                    "GradientDescentLogisticRegression records when fitted."
                )
        display = cls(
            loss_curves=[est.loss_curve_ for est in estimators.values()],
            names=list(estimators),
        )
        return display.plot(ax=ax, kind=kind, **kw)


def _as_list(estimators) -> list:
    if not isinstance(estimators, Iterable):
        raise TypeError(
            "estimators must be a dict of name to estimator or a list of "
            f"estimators, got {type(estimators).__name__}."
        )
    return list(estimators)


def _label(estimator) -> str:
    """The estimator's non-default parameters, or its class name."""
    defaults = type(estimator)().get_params()
    changed = {
        key: value
        for key, value in estimator.get_params().items()
        if key in defaults and repr(value) != repr(defaults[key])
    }
    if not changed:
        return type(estimator).__name__
    return ", ".join(f"{key}={value!r}" for key, value in changed.items())
