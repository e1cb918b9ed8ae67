"""Quick start: gradient-descent logistic regression on a real data set.
=====================================================================

Fits ``GradientDescentLogisticRegression`` on scikit-learn's bundled breast
cancer data, in a pipeline with ``StandardScaler``, tunes ``learning_rate``
with ``GridSearchCV``, and compares the result with ``LogisticRegression``.

Run: ``python examples/quickstart.py``
"""

import time
import warnings

import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_gdlogreg import GradientDescentLogisticRegression


def main() -> dict:
    """Run the example; return what it prints, for the tests."""
    X, y = load_breast_cancer(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=0
    )

    pipe = make_pipeline(StandardScaler(), GradientDescentLogisticRegression())
    grid = {
        "gradientdescentlogisticregression__learning_rate": [0.01, 0.1, 1.0, "auto"],
        "gradientdescentlogisticregression__solver": ["gd", "nesterov"],
    }
    search = GridSearchCV(pipe, grid, cv=5)
    with warnings.catch_warnings():
        # Small constant steps do not converge in max_iter: that is the point
        # of the comparison, and the search ranks them accordingly.
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(X_train, y_train)

    print("Grid search over learning_rate and solver (5-fold accuracy):")
    results = search.cv_results_
    for params, score in zip(
        results["params"], results["mean_test_score"], strict=True
    ):
        lr = params["gradientdescentlogisticregression__learning_rate"]
        solver = params["gradientdescentlogisticregression__solver"]
        print(f"  learning_rate={lr!s:>5}  solver={solver:<8}  accuracy={score:.4f}")
    best = search.best_estimator_[-1]
    print(f"\nBest parameters: {search.best_params_}")
    test_accuracy = search.score(X_test, y_test)
    print(f"Test accuracy:   {test_accuracy:.4f}")
    stopped = " (max_iter reached)" if best.n_iter_ == best.max_iter else ""
    print(f"Iterations:      {best.n_iter_}{stopped}")
    if stopped:
        print("  A small constant step stopped early acts as extra regularisation.")

    # The same model as LogisticRegression: both minimise the same objective.
    ours = make_pipeline(StandardScaler(), GradientDescentLogisticRegression(tol=1e-8))
    ref = make_pipeline(StandardScaler(), LogisticRegression(tol=1e-8, max_iter=10_000))
    timings = {}
    for name, model in (("gradient descent", ours), ("LogisticRegression", ref)):
        start = time.perf_counter()
        model.fit(X_train, y_train)
        timings[name] = time.perf_counter() - start
    gap = np.abs(ours[-1].coef_ - ref[-1].coef_).max() / np.abs(ref[-1].coef_).max()
    proba_gap = np.abs(ours.predict_proba(X_test) - ref.predict_proba(X_test)).max()
    print("\nComparison with LogisticRegression (lbfgs), tol=1e-8:")
    for name, seconds in timings.items():
        accuracy = (ours if name == "gradient descent" else ref).score(X_test, y_test)
        print(
            f"  {name:<20} fit {seconds * 1e3:7.1f} ms   test accuracy {accuracy:.4f}"
        )
    print(f"  largest coefficient difference (relative): {gap:.1e}")
    print(f"  largest probability difference:            {proba_gap:.1e}")
    return {
        "best_params": search.best_params_,
        "test_accuracy": test_accuracy,
        "coefficient_gap": gap,
        "probability_gap": proba_gap,
    }


if __name__ == "__main__":
    main()
