"""benchmarks/bench_anchors.py smoke-run at --quick sizes on two drawn shapes:
it writes its table, ours reaches the gap on each shape, and each anchor of
the bench extra is either a column or skipped with its reason."""

import subprocess
import sys
from pathlib import Path

import numpy as np

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
    # --append to a file not there yet writes a whole one.
    completed = subprocess.run(
        [*command, "--append"], capture_output=True, text=True, timeout=300
    )
    assert completed.returncode == 0, completed.stderr
    assert results.read_text(encoding="utf-8").count("## What was measured") == 1
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

    # --append adds a run after the one there, which stays.
    first = results.read_text(encoding="utf-8")
    command[command.index("--draw") + 1] = "1"
    completed = subprocess.run(
        [*command, "--append"], capture_output=True, text=True, timeout=300
    )
    assert completed.returncode == 0, completed.stderr
    text = results.read_text(encoding="utf-8")
    assert text.startswith(first.rstrip("\n"))
    assert text.count("## Run: ") == 2 and text.count("## What was measured") == 1
    assert len([line for line in text.splitlines() if line.startswith("| draw ")]) == 3


def test_worker_stops_a_fit_past_its_time(monkeypatch):
    """A fit that runs past the timeout is stopped (no answer, the child
    gone), and the next request starts a new child that answers."""
    monkeypatch.syspath_prepend(str(SCRIPT.parent))  # the child imports it too
    import bench_anchors

    shape = bench_anchors.SHAPES[0]  # breast cancer
    worker = bench_anchors.Worker(shape, quick=True, threads=1)
    try:
        assert worker.summary.n == 569 and worker.summary.classes == 2
        assert worker.ask(("fit", "saga", 1e-10), timeout=1e-3) is None
        assert worker.process is None
        seconds, value, _ = worker.ask(("fit", "ours", 1e-4), timeout=120)
        assert seconds > 0 and 0 < value < np.log(2)  # below the zero model's
        # A request that raises in the child is answered, and the child lives.
        failed = worker.ask(("fit", "no such solver", 1e-4), timeout=120)
        assert isinstance(failed, bench_anchors.Failed) and "KeyError" in failed.reason
        assert worker.ask(("reference", "lbfgs", None), timeout=120) <= value
    finally:
        worker.close()
