"""GPU fits through the array API: time per iteration against one read of X.

On a CUDA machine, fits float32 data of 10M x 100 (by default) held on the
GPU, with ``sklearn.config_context(array_api_dispatch=True)``:

- ``GradientDescentLogisticRegression()`` on PyTorch tensors, and on CuPy
  arrays (the same memory, through DLPack) if CuPy is installed;
- ``LogisticRegression()`` (lbfgs, which supports array-API dispatch) on the
  same tensors.

It first measures the device's memory bandwidth as the time of one plain
``X @ v`` (the floor of any pass over X), then prints for each fit the wall
time, the iterations, the objective (``LogisticRegression``'s divided by
``C * n``, in float64) and its gap to lbfgs's, and the time per iteration
divided by one read of X. For our estimator the time per iteration is the
fit's time beyond a ``max_iter=1`` fit, per further iteration (its setup,
one read of X for the column moments, left out).

Run: ``python benchmarks/gpu.py`` on a CUDA machine (needs torch with CUDA,
array-api-compat, and ``SCIPY_ARRAY_API=1``, which the script sets), or
``python benchmarks/gpu.py --device cpu --n-samples 100000`` for a smoke
run on the CPU.
"""

from __future__ import annotations

import os

os.environ.setdefault("SCIPY_ARRAY_API", "1")  # before scipy and sklearn load

import argparse
import time
import warnings
from functools import partial

import sklearn
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from sklearn_gdlogreg import GradientDescentLogisticRegression
from sklearn_gdlogreg._reference import reference_objective


def synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def best_time(function, device: str, repeats: int):
    """``(result, best wall time)`` of ``function()`` over ``repeats`` runs."""
    best, result = float("inf"), None
    for _ in range(repeats):
        synchronize(device)
        start = time.perf_counter()
        result = function()
        synchronize(device)
        best = min(best, time.perf_counter() - start)
    return result, best


def make_data(n_samples: int, n_features: int, device: str, seed: int = 0):
    """float32 features and 0/1 labels of a logistic model, made on the device."""
    generator = torch.Generator(device=device).manual_seed(seed)
    X = torch.randn(
        n_samples, n_features, generator=generator, device=device, dtype=torch.float32
    )
    w = torch.randn(n_features, generator=generator, device=device) / n_features**0.5
    u = torch.rand(n_samples, generator=generator, device=device)
    y = (torch.sigmoid(X @ w) > u).to(torch.int64)  # y ~ Bernoulli(sigmoid(X w))
    return X, y


def objective(model, X, y, C: float = 1.0) -> float:
    """LogisticRegression's objective divided by C * n, in float64."""
    return reference_objective(model, X, y, C=C)


def fit(model, X, y):
    with sklearn.config_context(array_api_dispatch=True), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # the max_iter=1 fits
        return model.fit(X, y)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-samples", type=int, default=10_000_000)
    parser.add_argument("--n-features", type=int, default=100)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    device, repeats = args.device, args.repeats
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit(
            "No CUDA device here: run on a GPU machine, or smoke-test with "
            "--device cpu --n-samples 100000."
        )
    name = torch.cuda.get_device_name() if device.startswith("cuda") else "CPU"
    X, y = make_data(args.n_samples, args.n_features, device)
    gigabytes = X.element_size() * X.nelement() / 1e9
    shape = tuple(X.shape)
    print(f"{name}: X float32 {shape} ({gigabytes:.2f} GB), torch {torch.__version__}")

    # Warm up the kernels (cuBLAS handles, the first launches) on a slice.
    fit(GradientDescentLogisticRegression(max_iter=3), X[:100_000], y[:100_000])
    fit(LogisticRegression(max_iter=3), X[:100_000], y[:100_000])

    v = torch.ones(X.shape[1], device=device, dtype=X.dtype)
    _, read = best_time(lambda: X @ v, device, 5)
    print(f"one read of X (X @ v): {read * 1e3:.2f} ms, {gigabytes / read:.0f} GB/s\n")

    arrays = {"torch": (X, y)}
    try:
        import cupy

        arrays["cupy"] = (cupy.from_dlpack(X), cupy.from_dlpack(y))  # same memory
    except ImportError:
        print("(CuPy is not installed: PyTorch only)\n")
    except Exception as error:
        print(f"(CuPy cannot take these arrays: {error})\n")

    def timed_fit(make_model, X, y):
        return best_time(lambda: fit(make_model(), X, y), device, repeats)

    lbfgs, t_lbfgs = timed_fit(LogisticRegression, X, y)
    reference, n_iter = objective(lbfgs, X, y), int(lbfgs.n_iter_[0])
    rows = [
        (
            "LogisticRegression (lbfgs), torch",
            t_lbfgs,
            n_iter,
            reference,
            t_lbfgs / n_iter,
        )
    ]
    for library, (X_lib, y_lib) in arrays.items():
        ours, t_ours = timed_fit(GradientDescentLogisticRegression, X_lib, y_lib)
        first = partial(GradientDescentLogisticRegression, max_iter=1)
        _, t_first = timed_fit(first, X_lib, y_lib)
        per_iteration = (t_ours - t_first) / max(ours.n_iter_ - 1, 1)
        value = objective(ours, X, y)
        rows.append(
            (f"ours (defaults), {library}", t_ours, ours.n_iter_, value, per_iteration)
        )

    header = ("fit", "time", "ratio", "iter", "objective", "gap", "iter / read")
    print("{:<36} {:>9} {:>6} {:>5} {:>14} {:>9} {:>12}".format(*header))
    for label, seconds, n_iter, value, per_iteration in rows:
        print(
            f"{label:<36} {seconds:>8.3f}s {seconds / t_lbfgs:>6.2f} {n_iter:>5} "
            f"{value:>14.10f} {(value - reference) / abs(reference):>+9.1e} "
            f"{per_iteration / read:>12.1f}"
        )
    print(
        "\nratio: time / lbfgs's; gap: objective relative to lbfgs's; iter / read: "
        "time per iteration / one read of X (ours: beyond a max_iter=1 fit; lbfgs: "
        "time / n_iter, line searches included)"
    )


if __name__ == "__main__":
    main()
