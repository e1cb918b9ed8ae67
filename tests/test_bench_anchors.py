"""benchmarks/bench_anchors.py smoke-run at --quick sizes on two drawn shapes:
it writes its table, ours reaches the gap on each shape, and each anchor of
the bench extra is either a column or skipped with its reason."""

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_anchors.py"
ANCHORS = ("sklearnex", "snapml", "glum")  # the bench extra's


def test_bench_anchors_quick(tmp_path):
    results = tmp_path / "anchors.md"
    command = [
        sys.executable,
        str(SCRIPT),
        "--quick",
        "--draw",
        "2",
        "--seed",
        "0",
        "--repeat",
        "1",
        "--threads",
        "1",
        "--keep-openblas-env",
        "--markdown",
        str(results),
    ]
    completed = subprocess.run(
        command, capture_output=True, text=True, timeout=300, check=False
    )
    assert completed.returncode == 0, completed.stderr
    out = completed.stdout
    assert "draw 1: " in out and "draw 2: " in out  # each draw's parameters
    assert "Worst ours / fastest other: " in out

    lines = results.read_text(encoding="utf-8").splitlines()
    header = next(line for line in lines if line.startswith("| shape |"))
    columns = [cell.strip() for cell in header.strip("|").split("|")]
    rows = [line for line in lines if line.startswith("| draw ")]
    assert len(rows) == 2
    for row in rows:
        values = [cell.strip() for cell in row.strip("|").split("|")]
        cells = dict(zip(columns, values, strict=True))
        float(cells["ours (ms)"])  # a time: ours reached the gap
        float(cells["lbfgs (ms)"])
    for anchor in ANCHORS:  # a column, or a reason where it does not import
        assert (f"{anchor} (ms)" in columns) != (f"skipped {anchor}:" in out)
