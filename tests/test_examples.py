"""The examples run and give what they promise: the values their ``main``
returns and the pictures they write (not their printed text)."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

needs_matplotlib = pytest.mark.skipif(
    importlib.util.find_spec("matplotlib") is None,
    reason="the example draws with matplotlib (the examples extra)",
)


@pytest.fixture
def example(monkeypatch):
    """Load ``examples/<name>.py`` as a module (beside its ``_output``)."""
    monkeypatch.syspath_prepend(str(EXAMPLES))

    def load(name: str):
        spec = importlib.util.spec_from_file_location(
            f"example_{name}", EXAMPLES / f"{name}.py"
        )
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load


def assert_is_a_picture(path: Path) -> None:
    image = pytest.importorskip("matplotlib.image").imread(path)
    assert image.shape[0] > 300 and image.shape[1] > 400
    assert image[..., :3].std() > 0.05  # not a blank canvas


@pytest.mark.slow
def test_quickstart(example):
    results = example("quickstart").main()
    assert results["test_accuracy"] > 0.94
    assert results["coefficient_gap"] < 1e-4
    assert results["probability_gap"] < 1e-4


def test_quickstart_runs_as_the_readme_runs_it():
    """The Quick start's first command: a fresh interpreter, no arguments."""
    completed = subprocess.run(
        [sys.executable, str(EXAMPLES / "quickstart.py")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr


def test_notebook(example, tmp_path, capsys):
    results = example("notebook").main(tmp_path)
    assert_is_a_picture(tmp_path / "notebook.png")
    losses = results["mean_log_loss"]
    assert losses["corrected gradient"] < losses["notebook's gradient"]
    # The estimator's verbose report, every 100 iterations from 0.
    reports = [
        line
        for line in capsys.readouterr().out.splitlines()
        if line.startswith("iteration")
    ]
    assert [int(line.split()[1]) for line in reports[:3]] == [0, 100, 200]
    estimator, default = results["estimator"], results["default"]
    assert default.n_iter_ < estimator.n_iter_
    assert default.loss_curve_[-1] == pytest.approx(estimator.loss_curve_[-1], abs=1e-6)


@needs_matplotlib
def test_learning_rates(example, tmp_path):
    objective = example("learning_rates").main(tmp_path)
    assert_is_a_picture(tmp_path / "learning_rates.png")
    default = objective["nesterov, learning_rate='auto' (default)"]
    assert objective["gd, learning_rate=32 (too large)"] > 2 * default
    assert all(value >= default - 1e-8 for value in objective.values())


@needs_matplotlib
def test_decision_boundary(example, tmp_path):
    results = example("decision_boundary").main(tmp_path)
    assert_is_a_picture(tmp_path / "decision_boundary.png")
    assert results["training_accuracy"] > 0.85


@needs_matplotlib
def test_exposure_offset(example, tmp_path):
    errors = example("exposure_offset").main(tmp_path)
    assert_is_a_picture(tmp_path / "exposure_offset.png")
    # 20,000 draws: the fit with the offset is within sampling error of the
    # true coefficients; the one without is biased by far more.
    assert errors["with the offset"] < 0.1
    assert errors["without"] > 0.3


@needs_matplotlib
def test_non_negative(example, tmp_path):
    coef = example("non_negative").main(tmp_path)
    assert_is_a_picture(tmp_path / "non_negative.png")
    assert coef["unconstrained"].min() < 0 <= coef["non_negative"].min()
    assert (coef["non_negative"] == 0).any()  # the bound holds some at zero
