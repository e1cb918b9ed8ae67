"""The teaching notebook, recreated through the estimator.
=======================================================

The project grew from a notebook that trained logistic regression by batch
gradient descent in numpy. This script rebuilds its data (``generate_X``,
``generate_Y``) and its loop, then runs the same loop through
``GradientDescentLogisticRegression(solver="gd", learning_rate=..., verbose=100)``,
which prints the objective every 100 iterations as the notebook did.

It also shows what the corrected gradient changes. The notebook's
backpropagation multiplied the residual ``y_pred - y`` by
``sigmoid_derivative(y_pred - y)``; but the derivative of the log-loss with
respect to the linear score is exactly ``y_pred - y`` (the sigmoid's
derivative cancels against the log-loss's). The extra factor, at most 1/4,
shrinks and distorts every step.

It writes ``notebook.png``: the mean log-loss per iteration of the
notebook's loop with its gradient and with the corrected one, and of the
estimator's constant-step loop.

Run: ``python examples/notebook.py [--output DIR]``
"""

import warnings
from pathlib import Path

import numpy as np
from _output import output_dir
from sklearn.exceptions import ConvergenceWarning

from sklearn_gdlogreg import GradientDescentLogisticRegression

batch_size, feature_size, output_size = 8, 5, 1


def generate_X(batch_size, feature_size):
    return np.concatenate(
        (
            5 * np.random.rand(batch_size // 2, feature_size) + 2,  # noqa: NPY002
            5 * np.random.rand(batch_size // 2, feature_size) - 2,  # noqa: NPY002
        )
    )


def generate_Y(batch_size, output_size):
    return np.concatenate(
        (
            np.ones((batch_size // 2, output_size)),
            np.zeros((batch_size // 2, output_size)),
        )
    )


def sigmoid(x):
    return 1.0 / (1 + np.exp(-x))


def sigmoid_derivative(x):
    return sigmoid(x) * (1 - sigmoid(x))


def mean_log_loss(x, y, w, b):
    y_pred = sigmoid(x @ w + b)
    return float(np.mean(-y * np.log(y_pred) - (1 - y) * np.log(1 - y_pred)))


def notebook_loop(x, y, learning_rate, n_iter, corrected):
    """The notebook's loop, with its gradient or the correct one.

    Returns the weights, the bias and the mean log-loss before each update
    and after the last.
    """
    w, b = np.zeros((x.shape[1], 1)), np.zeros((1, 1))
    losses = []
    for _ in range(n_iter):
        losses.append(mean_log_loss(x, y, w, b))
        y_pred = sigmoid(x @ w + b)  # forward pass
        grad_y_pred = y_pred - y  # gradient of the log-loss w.r.t. the score
        if not corrected:
            grad_y_pred = sigmoid_derivative(grad_y_pred) * grad_y_pred  # the bug
        w -= learning_rate * x.T @ grad_y_pred  # update
        b -= learning_rate * grad_y_pred.sum(axis=0)
    losses.append(mean_log_loss(x, y, w, b))
    return w, b, losses


def save_figure(curves, path) -> None:
    """Draw the loss curves, if matplotlib is installed (the examples extra)."""
    try:
        from _output import pyplot, save

        plt = pyplot()
    except ImportError:
        print("(matplotlib is not installed: no figure)")
        return
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for label, losses in curves.items():
        ax.plot(losses, label=label)
    ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("mean log-loss")
    ax.set_title("The notebook's data: its loop, its gradient and the estimator")
    ax.legend()
    save(fig, path.parent, path.name)


def main(directory: Path | None = None) -> dict:
    """Run the example (pictures to ``directory``, by default ``--output``);
    return what it prints, for the tests."""
    np.random.seed(0)  # noqa: NPY002 (the notebook's global generator)
    x = generate_X(batch_size, feature_size)
    y = generate_Y(batch_size, output_size)

    print("The notebook's loop (sum of losses, learning_rate=1e-2, 500 iterations):")
    curves, final_losses = {}, {}
    for corrected in (False, True):
        w, b, losses = notebook_loop(
            x, y, learning_rate=1e-2, n_iter=500, corrected=corrected
        )
        label = "corrected gradient" if corrected else "notebook's gradient"
        final_losses[label] = mean_log_loss(x, y, w, b)
        print(f"  {label:<20} mean log-loss {final_losses[label]:.6f}")
        curves[f"notebook loop, {label}"] = losses

    # The estimator minimises the *mean* loss (plus an L2 penalty, C=1 by
    # default, which also keeps these separable classes from driving the
    # weights to infinity). Its steps are taken on the centred, standardised
    # problem, an exact change of variables that makes the step size
    # independent of the data's units; with backtracking off, learning_rate is
    # the constant step of that loop.
    print("\nThe same loop through the estimator (solver='gd', verbose=100):")
    clf = GradientDescentLogisticRegression(
        solver="gd", learning_rate=1.0, max_iter=500, tol=1e-6, verbose=100
    )
    clf.fit(x, y.ravel())
    print(f"  {clf.n_iter_} iterations; training accuracy {clf.score(x, y.ravel())}")

    auto = GradientDescentLogisticRegression(tol=1e-6).fit(x, y.ravel())
    print(
        f"\nWith the defaults (learning_rate='auto', solver='nesterov'): "
        f"{auto.n_iter_} iterations to the same objective "
        f"({auto.loss_curve_[-1]:.8f} vs {clf.loss_curve_[-1]:.8f})."
    )
    # The estimator's loss_curve_ includes the L2 term (C=1); without it:
    no_penalty = GradientDescentLogisticRegression(
        C=np.inf, solver="gd", learning_rate=1.0, max_iter=500, tol=0.0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # tol=0: all 500
        curves["estimator, solver='gd', learning_rate=1, C=inf"] = no_penalty.fit(
            x, y.ravel()
        ).loss_curve_
    directory = directory or output_dir(__doc__)
    save_figure(curves, directory / "notebook.png")
    return {"mean_log_loss": final_losses, "estimator": clf, "default": auto}


if __name__ == "__main__":
    main()
