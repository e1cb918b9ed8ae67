"""benchmarks/bench_matrix.py's formatting of its figures."""

from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_matrix.py"


@pytest.mark.parametrize(
    ("ratio", "text"),
    [(0.5, "0.50"), (0.996, "0.996"), (1.0, "1.00"), (1.004, "1.004"), (1.26, "1.26")],
)
def test_a_ratio_that_rounds_to_one_shows_its_side_of_one(monkeypatch, ratio, text):
    # A row marked NO at "1.00" would not say why: three decimals there.
    monkeypatch.syspath_prepend(str(SCRIPT.parent))
    import bench_matrix

    assert bench_matrix._ratio(ratio) == text
