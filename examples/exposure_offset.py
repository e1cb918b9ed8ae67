"""An exposure offset: events over different observation times.
============================================================

Policies (or patients, or machines) are observed for different lengths of
time, and the label says whether an event happened while they were
observed. A policy watched for two years has had more chances than one
watched for three months: with the log of the exposure as an offset, the
odds of an event grow in proportion to the time observed, and the
coefficients describe the risk per unit of time, the same for every
policy. Without the offset they mix the risk with how long each policy
happened to be watched. The data here are drawn from that model; the fit
with the offset recovers its coefficients, the fit without does not, and
the picture shows the predicted probability of an event against the
exposure for a typical policy. Writes ``exposure_offset.png``.

Run: ``python examples/exposure_offset.py [--output DIR]``
"""

from pathlib import Path

import numpy as np
from _output import output_dir, pyplot, save
from scipy.special import expit

from sklearn_gdlogreg import GradientDescentLogisticRegression


def main(directory: Path | None = None) -> dict:
    """Run the example (the picture to ``directory``, by default
    ``--output``); return the coefficients' errors, for the tests."""
    directory = directory or output_dir(__doc__)
    rng = np.random.default_rng(0)
    n = 20_000
    # Three features of each policy, and the years it was observed; longer
    # exposures for older policies (the second feature), so that ignoring
    # the exposure biases that coefficient.
    X = rng.normal(size=(n, 3))
    years = np.exp(rng.normal(-0.5 + 0.6 * X[:, 1], 0.7))
    true_coef, true_intercept = np.array([0.8, -0.4, 0.3]), -2.0
    odds = np.exp(np.log(years) + X @ true_coef + true_intercept)
    y = (rng.random(n) < odds / (1 + odds)).astype(int)

    with_offset = GradientDescentLogisticRegression(C=np.inf, tol=1e-8)
    with_offset.fit(X, y, offset=np.log(years))
    without = GradientDescentLogisticRegression(C=np.inf, tol=1e-8).fit(X, y)
    errors = {
        "with the offset": float(np.abs(with_offset.coef_[0] - true_coef).max()),
        "without": float(np.abs(without.coef_[0] - true_coef).max()),
    }
    for name, model in (("with the offset", with_offset), ("without", without)):
        print(
            f"{name:<16} coef {np.round(model.coef_[0], 3)}, intercept "
            f"{model.intercept_[0]:.3f}; largest error {errors[name]:.3f}"
        )
    print(f"{'true':<16} coef {true_coef}, intercept {true_intercept}")

    # The probability of an event for a typical policy (features at zero)
    # against the exposure: the model with the offset scales its odds with
    # the time observed; the one without predicts the same for any time.
    grid = np.linspace(0.05, 4, 100)
    typical = np.zeros((grid.size, 3))
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.plot(grid, expit(np.log(grid) + true_intercept), "k--", label="true")
    ax.plot(
        grid,
        with_offset.predict_proba(typical, offset=np.log(grid))[:, 1],
        label="fitted with offset=log(years)",
    )
    ax.plot(
        grid, without.predict_proba(typical)[:, 1], label="fitted without the offset"
    )
    ax.set_xlabel("years observed")
    ax.set_ylabel("probability of an event (typical policy)")
    ax.set_title("An exposure offset: the odds grow with the time observed")
    ax.legend()
    save(fig, directory, "exposure_offset.png")
    return errors


if __name__ == "__main__":
    main()
