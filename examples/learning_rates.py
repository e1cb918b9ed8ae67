"""Constant learning rates against "auto", and gd against nesterov.
================================================================

Fits standardised breast cancer data (30 correlated features) with plain
gradient descent at four constant steps (the largest too large: the
objective jumps up and stays high), with the adaptive step
(``learning_rate="auto"``), and with Nesterov's momentum, then draws every
loss curve with ``LossCurveDisplay`` (the gap to the lowest objective, on a
log scale, shows the rate of convergence). Writes ``learning_rates.png``.

Run: ``python examples/learning_rates.py [--output DIR]``
"""

import warnings
from pathlib import Path

from _output import output_dir, pyplot, save
from sklearn.datasets import load_breast_cancer
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler

from sklearn_gdlogreg import GradientDescentLogisticRegression, LossCurveDisplay


def main(directory: Path | None = None) -> dict:
    """Run the example (the picture to ``directory``, by default
    ``--output``); return each setting's final objective, for the tests."""
    directory = directory or output_dir(__doc__)
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    settings = {
        "gd, learning_rate=0.5": dict(solver="gd", learning_rate=0.5),
        "gd, learning_rate=2": dict(solver="gd", learning_rate=2.0),
        "gd, learning_rate=8": dict(solver="gd", learning_rate=8.0),
        "gd, learning_rate=32 (too large)": dict(solver="gd", learning_rate=32.0),
        "gd, learning_rate='auto'": dict(solver="gd"),
        "nesterov, learning_rate='auto' (default)": dict(),
    }
    fits = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # the constant steps
        for name, params in settings.items():
            fits[name] = GradientDescentLogisticRegression(
                max_iter=300, tol=1e-8, **params
            ).fit(X, y)
    for name, clf in fits.items():
        final = clf.loss_curve_[-1]
        print(f"{name:<42} {clf.n_iter_:4d} iterations, objective {final:.8f}")

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    LossCurveDisplay.from_estimators(fits, ax=ax, kind="gap")
    ax.set_title("Breast cancer (standardised), C=1: convergence by setting")
    save(fig, directory, "learning_rates.png")
    return {name: clf.loss_curve_[-1] for name, clf in fits.items()}


if __name__ == "__main__":
    main()
