"""LossCurveDisplay draws what the estimators recorded."""

import numpy as np
import pytest
from sklearn.datasets import load_iris

from sklearn_gdlogreg import GradientDescentLogisticRegression, LossCurveDisplay

matplotlib = pytest.importorskip(
    "matplotlib", reason="LossCurveDisplay draws with matplotlib (the plot extra)"
)
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


@pytest.fixture
def fits():
    X, y = load_iris(return_X_y=True)
    return [
        GradientDescentLogisticRegression(solver=solver).fit(X, y)
        for solver in ("gd", "nesterov")
    ]


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_from_estimator_draws_the_loss_curve(fits):
    display = LossCurveDisplay.from_estimator(fits[0], name="plain")
    (line,) = display.lines_
    np.testing.assert_array_equal(line.get_ydata(), fits[0].loss_curve_)
    np.testing.assert_array_equal(line.get_xdata(), np.arange(fits[0].n_iter_ + 1))
    assert display.ax_.get_legend().get_texts()[0].get_text() == "plain"
    assert display.figure_ is display.ax_.figure
    assert display.ax_.get_xlabel() == "iteration"


def test_overlay_on_one_axes_and_default_labels(fits):
    _, ax = plt.subplots()
    display = LossCurveDisplay.from_estimators(fits, ax=ax, kind="gap")
    assert display.ax_ is ax and len(ax.get_lines()) == 2
    assert [text.get_text() for text in ax.get_legend().get_texts()] == [
        "solver='gd'",
        "GradientDescentLogisticRegression",
    ]
    assert ax.get_yscale() == "log"
    lowest = min(fit.loss_curve_.min() for fit in fits)
    gap = display.lines_[0].get_ydata()
    expected = fits[0].loss_curve_ - lowest
    finite = np.isfinite(gap)
    np.testing.assert_allclose(gap[finite], expected[finite])
    assert (expected[~finite] <= 0).all()
    # Another display on the same axes adds its curve.
    LossCurveDisplay.from_estimator(fits[1], ax=ax, name="again")
    assert len(ax.get_lines()) == 3


def test_bad_input_gives_clear_errors(fits):
    with pytest.raises(ValueError, match="kind must be one of"):
        LossCurveDisplay.from_estimators(fits, kind="loss")
    with pytest.raises(ValueError, match="empty"):
        LossCurveDisplay.from_estimators({})
    with pytest.raises(ValueError, match="2 loss curves but 1 names"):
        LossCurveDisplay(loss_curves=[[1.0], [2.0]], names=["a"])
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        LossCurveDisplay.from_estimator(GradientDescentLogisticRegression())
    with pytest.raises(TypeError, match="dict of name to estimator"):
        LossCurveDisplay.from_estimators(3)
    # A fitted model that records no loss curve: say so, not "not fitted".
    from sklearn.linear_model import LogisticRegression

    fitted = LogisticRegression().fit(*load_iris(return_X_y=True)[:1], [0, 1] * 75)
    with pytest.raises(ValueError, match="LogisticRegression has no loss_curve_"):
        LossCurveDisplay.from_estimator(fitted)
    with pytest.raises(ValueError, match="name has 1 entries for 2 curves"):
        LossCurveDisplay.from_estimators(fits).plot(name="one")


def test_plot_names_the_curves_as_scikit_learns_displays_do(fits):
    display = LossCurveDisplay.from_estimator(fits[0])
    display.plot(name="renamed")
    assert display.ax_.get_legend().get_texts()[0].get_text() == "renamed"
    overlay = LossCurveDisplay.from_estimators(fits).plot(name=["a", "b"])
    assert [t.get_text() for t in overlay.ax_.get_legend().get_texts()] == ["a", "b"]


def test_matplotlib_is_imported_only_to_draw():
    import subprocess
    import sys

    code = (
        "import sys, sklearn_gdlogreg; from sklearn_gdlogreg import LossCurveDisplay; "
        "print('matplotlib' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"


def test_overlay_the_candidates_of_a_grid_search():
    # The user guide's recipe: refit each candidate, then overlay the curves.
    import warnings

    from sklearn.base import clone
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import GridSearchCV

    X, y = load_iris(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        grid = GridSearchCV(
            GradientDescentLogisticRegression(solver="gd"),
            {"learning_rate": [0.5, 2.0, "auto"]},
        ).fit(X, y)
        fits = {
            str(params): clone(grid.estimator).set_params(**params).fit(X, y)
            for params in grid.cv_results_["params"]
        }
    display = LossCurveDisplay.from_estimators(fits, kind="gap")
    labels = [text.get_text() for text in display.ax_.get_legend().get_texts()]
    assert labels == [str(params) for params in grid.cv_results_["params"]]
    for line, fit in zip(display.lines_, fits.values(), strict=True):
        assert len(line.get_ydata()) == fit.n_iter_ + 1
