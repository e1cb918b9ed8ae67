"""The examples run from a fresh interpreter and print what they promise."""

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run_example(name: str, *args: str) -> str:
    completed = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
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


def assert_is_a_picture(path: Path) -> None:
    image = pytest.importorskip("matplotlib.image").imread(path)
    assert image.shape[0] > 300 and image.shape[1] > 400
    assert image[..., :3].std() > 0.05  # not a blank canvas


def test_notebook(tmp_path):
    out = run_example("notebook.py", "--output", str(tmp_path))
    assert_is_a_picture(tmp_path / "notebook.png")
    lines = [line for line in out.splitlines() if line.startswith("iteration")]
    assert [int(line.split()[1]) for line in lines[:3]] == [0, 100, 200]
    notebook = float(out.split("notebook's gradient")[1].split()[2])
    corrected = float(out.split("corrected gradient")[1].split()[2])
    assert corrected < notebook


def test_learning_rates(tmp_path):
    out = run_example("learning_rates.py", "--output", str(tmp_path))
    assert_is_a_picture(tmp_path / "learning_rates.png")
    objective = {
        line.split(" iterations")[0].rsplit(maxsplit=1)[0].strip(): float(
            line.split()[-1]
        )
        for line in out.splitlines()
        if "objective" in line
    }
    default = objective["nesterov, learning_rate='auto' (default)"]
    assert objective["gd, learning_rate=32 (too large)"] > 2 * default
    assert all(value >= default - 1e-8 for value in objective.values())


def test_decision_boundary(tmp_path):
    out = run_example("decision_boundary.py", "--output", str(tmp_path))
    assert_is_a_picture(tmp_path / "decision_boundary.png")
    assert float(out.split("training accuracy")[1].split()[0]) > 0.85
