"""Non-negative coefficients: effects known to point one way.
==========================================================

Where each feature is known to raise the risk (doses, exposures, counts of
risk factors), a small sample of correlated features can still give some
of them negative coefficients: noise, not a protective effect.
``lower_bounds=0`` keeps every coefficient at or above zero; the fit is
exact (each step ends with the projection on the box, and ``tol`` measures
the optimality of the box problem), so the coefficients the bound leaves
free are those of the best model that respects it. The picture compares
the true coefficients with the unconstrained and the non-negative fits.
Writes ``non_negative.png``.

Run: ``python examples/non_negative.py [--output DIR]``
"""

from pathlib import Path

import numpy as np
from _output import output_dir, pyplot, save
from scipy.special import expit

from sklearn_gdlogreg import GradientDescentLogisticRegression


def main(directory: Path | None = None) -> dict:
    """Run the example (the picture to ``directory``, by default
    ``--output``); return the fits' coefficients, for the tests."""
    directory = directory or output_dir(__doc__)
    rng = np.random.default_rng(3)
    n, d = 150, 8
    # Correlated risk factors (a shared component), each with an effect of
    # zero or more.
    shared = rng.normal(size=(n, 1))
    X = 0.7 * shared + 0.7 * rng.normal(size=(n, d))
    true_coef = np.array([1.0, 0.5, 0.0, 0.0, 0.8, 0.0, 0.3, 0.0])
    y = (rng.random(n) < expit(X @ true_coef - 0.5)).astype(int)

    free = GradientDescentLogisticRegression(C=10.0, tol=1e-8).fit(X, y)
    non_negative = GradientDescentLogisticRegression(C=10.0, tol=1e-8, lower_bounds=0)
    non_negative.fit(X, y)
    for name, coef in (
        ("true", true_coef),
        ("unconstrained", free.coef_[0]),
        ("lower_bounds=0", non_negative.coef_[0]),
    ):
        print(f"{name:<15} {np.round(coef, 2)}")

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    positions = np.arange(d)
    width = 0.27
    ax.bar(positions - width, true_coef, width, label="true", color="0.6")
    ax.bar(positions, free.coef_[0], width, label="unconstrained")
    ax.bar(positions + width, non_negative.coef_[0], width, label="lower_bounds=0")
    ax.axhline(0, color="k", linewidth=0.8)
    ax.set_xticks(positions, [f"x{j}" for j in range(d)])
    ax.set_ylabel("coefficient")
    ax.set_title("Correlated risk factors: non-negative coefficients")
    ax.legend()
    save(fig, directory, "non_negative.png")
    return {
        "true": true_coef,
        "unconstrained": free.coef_[0],
        "non_negative": non_negative.coef_[0],
    }


if __name__ == "__main__":
    main()
