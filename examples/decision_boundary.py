"""The decision boundary of a fit on 2-D data, three classes.
==========================================================

Fits the default estimator on three overlapping 2-D blobs (raw, uncentred
coordinates) and draws the predicted class over the plane with
scikit-learn's ``DecisionBoundaryDisplay``, the training points on top, and
the probability of the predicted class as shading. Writes
``decision_boundary.png``.

Run: ``python examples/decision_boundary.py [--output DIR]``
"""

from pathlib import Path

from _output import output_dir, pyplot, save
from sklearn.datasets import make_blobs
from sklearn.inspection import DecisionBoundaryDisplay

from sklearn_gdlogreg import GradientDescentLogisticRegression


def main(directory: Path | None = None) -> dict:
    """Run the example (the picture to ``directory``, by default
    ``--output``); return the fit's training accuracy, for the tests."""
    directory = directory or output_dir(__doc__)
    X, y = make_blobs(
        n_samples=300,
        centers=[[10, 40], [14, 44], [16, 38]],
        cluster_std=1.6,
        random_state=0,
    )
    clf = GradientDescentLogisticRegression().fit(X, y)
    accuracy = clf.score(X, y)
    print(f"{clf.n_iter_} iterations; training accuracy {accuracy:.3f}")

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 5))
    DecisionBoundaryDisplay.from_estimator(
        clf,
        X,
        response_method="predict_proba",
        ax=ax,
        alpha=0.6,
        grid_resolution=200,
    )
    ax.scatter(X[:, 0], X[:, 1], c=y, cmap="viridis", edgecolor="k", s=20)
    ax.set_xlabel("feature 0")
    ax.set_ylabel("feature 1")
    ax.set_title("GradientDescentLogisticRegression: three classes")
    save(fig, directory, "decision_boundary.png")
    return {"training_accuracy": accuracy}


if __name__ == "__main__":
    main()
