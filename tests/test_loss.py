"""The pointwise losses: several points at once, exact past exp's range, float32."""

import numpy as np
import pytest

from sklearn_gdlogreg._loss import binary_pointwise, multinomial_pointwise


def test_binary_pointwise_takes_several_points_at_once(rng):
    """Rows of z are points, as a host pass gives them (see ``Pointwise``):
    the same losses and residuals as one point at a time, also where one
    row's e^-margin overflows (that row's loss needs log_expit)."""
    n = 40
    y = rng.randint(0, 2, size=n)
    s = rng.uniform(size=n)
    s /= s.sum()
    Z = rng.normal(scale=3, size=(3, n))
    Z[2, :5] = -800 * (2 * y[:5] - 1)  # margins of -800: e^800 overflows
    with np.errstate(over="ignore"):
        losses, R = binary_pointwise(Z.copy(), y, s)
        for i in range(3):
            loss_i, R_i = binary_pointwise(Z[i].copy(), y, s)
            assert np.isfinite(loss_i)
            assert losses[i] == pytest.approx(loss_i, rel=1e-12)
            np.testing.assert_allclose(R[i], R_i, rtol=1e-12, atol=1e-18)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_binary_loss_is_log1p_to_a_few_ulps(rng, dtype):
    """Each row's loss is ``log1p(e^-margin)`` (made as the log of its
    rounded ``1 + e`` less that rounding): to a few ulps of numpy's log1p
    (float32: numpy's float32 log is itself a few ulps off near 1), from
    margins whose e is far below eps (the loss is then e itself) to
    margins whose e is near dtype's largest, and past that (log_expit).
    Each margin is a point of one row (the rows of Z, see ``Pointwise``),
    so each loss sum is one row's loss. The log of the rounded ``1 + e``
    alone is off by up to half an eps absolutely: far more, relatively,
    where e is small."""
    info = np.finfo(dtype)
    lowest = -np.log(info.max) + 1  # e^-margin within dtype's range
    margins = np.concatenate(
        [rng.uniform(lowest, -lowest, 2000), rng.uniform(-40, 40, 2000), [0, 1e-9]]
    ).astype(dtype)
    y = np.ones(1, dtype=int)  # class 1: the margin is the score
    s = np.ones(1, dtype=dtype)
    expected = np.log1p(np.exp(-margins.astype(np.float64)))
    with np.errstate(over="ignore"):  # as a pass calls it
        losses, _ = binary_pointwise(margins[:, None].copy(), y, s)
        # Past the range: e overflows, and log_expit gives the loss.
        far = np.array([2 * lowest, 3 * lowest], dtype=dtype)
        far_losses, _ = binary_pointwise(far[:, None].copy(), y, s)
    # (atol: losses below dtype's normal range, where e itself underflows)
    ulps = 4 if dtype == np.float64 else 16
    np.testing.assert_allclose(losses, expected, rtol=ulps * info.eps, atol=info.tiny)
    np.testing.assert_allclose(far_losses, -far, rtol=ulps * info.eps)


def test_pointwise_of_no_rows_is_zero():
    """A block of no rows (a row chunk a mask emptied, see the Dask
    backend) has a loss of zero and an empty residual, for one point and
    for several."""
    for z in (np.zeros(0), np.zeros((3, 0))):
        with np.errstate(over="ignore"):
            loss, R = binary_pointwise(z, np.zeros(0, dtype=int), np.zeros(0))
        np.testing.assert_array_equal(loss, np.zeros(z.shape[:-1]))
        assert R.shape == z.shape
    loss, R = multinomial_pointwise(
        np.zeros((0, 3)), np.zeros(0, dtype=int), np.zeros(0)
    )
    assert loss == 0.0 and R.shape == (0, 3)


@pytest.mark.parametrize("offset", [-1000.0, -720.0, 0.0, 710.0])
def test_multinomial_pointwise_is_exact_for_scores_past_exps_range(rng, offset):
    # Rows whose scores all underflow exp (or whose largest is subnormal), or
    # overflow it: the softmax of their differences, as scipy computes it.
    import scipy.special

    Z = rng.normal(size=(30, 5)) * 3
    Z[::2] += offset  # every other row shifted
    y = rng.randint(5, size=30)
    s = rng.uniform(size=30) / 30
    log_p = scipy.special.log_softmax(Z, axis=1)
    expected_R = s[:, None] * (np.exp(log_p) - np.eye(5)[y])
    with np.errstate(over="ignore"):  # as a pass calls it (see Pointwise)
        loss, R = multinomial_pointwise(Z.copy(), y, s)
    np.testing.assert_allclose(loss, -s @ log_p[np.arange(30), y], rtol=1e-12)
    np.testing.assert_allclose(R, expected_R, rtol=1e-10, atol=1e-15)


@pytest.mark.parametrize("scale", [1.0, 60.0, 200.0, 1e3])
def test_multinomial_pointwise_float32_matches_float64_for_large_scores(rng, scale):
    # Scores past float32's exp range (about 88) must take the shifted path.
    # (Called as a pass calls it: overflow warnings off, see Pointwise.)
    Z = rng.normal(size=(50, 4)) * scale
    y = rng.randint(4, size=50)
    s = rng.uniform(size=50) / 50
    with np.errstate(over="ignore"):
        loss64, R64 = multinomial_pointwise(Z.copy(), y, s)
        loss32, R32 = multinomial_pointwise(
            Z.astype(np.float32), y, s.astype(np.float32)
        )
    assert np.isfinite(loss32) and np.isfinite(R32).all()
    np.testing.assert_allclose(loss32, loss64, rtol=1e-5)
    np.testing.assert_allclose(R32, R64, rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("layout", ["C", "F", "columns of a wider array"])
def test_multinomial_pointwise_is_the_same_in_any_layout(rng, layout):
    """The true classes' entries are taken from flat indices of C-ordered
    scores, from rows and columns in any other layout: the same loss and
    residual, ``s (softmax(Z) - onehot(y))``."""
    Z = rng.normal(size=(60, 4))
    y = rng.randint(4, size=60)
    s = rng.uniform(0, 1, size=60)
    if layout == "F":
        scores = np.asfortranarray(Z)
    elif layout == "C":
        scores = Z.copy()
    else:
        wide = np.zeros((60, 9))
        wide[:, 2:6] = Z
        scores = wide[:, 2:6]
    loss, R = multinomial_pointwise(scores, y, s)
    P = np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True)
    expected_loss = s @ (np.log(np.exp(Z).sum(axis=1)) - Z[np.arange(60), y])
    assert loss == pytest.approx(expected_loss, rel=1e-12)
    np.testing.assert_allclose(R, s[:, None] * (P - np.eye(4)[y]), atol=1e-15)
