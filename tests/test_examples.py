"""The examples run from a fresh interpreter and print what they promise."""

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run_example(name: str) -> str:
    completed = subprocess.run(
        [sys.executable, str(EXAMPLES / name)],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    return completed.stdout


@pytest.mark.slow
def test_quickstart():
    out = run_example("quickstart.py")
    assert "Best parameters" in out and "Test accuracy" in out
    accuracy = float(out.split("Test accuracy:")[1].split()[0])
    assert accuracy > 0.94
    gap = float(out.split("largest coefficient difference (relative):")[1].split()[0])
    assert gap < 1e-4


def test_notebook():
    out = run_example("notebook.py")
    lines = [line for line in out.splitlines() if line.startswith("iteration")]
    assert [int(line.split()[1]) for line in lines[:3]] == [0, 100, 200]
    notebook = float(out.split("notebook's gradient")[1].split()[2])
    corrected = float(out.split("corrected gradient")[1].split()[2])
    assert corrected < notebook
