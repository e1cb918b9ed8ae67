"""The suite runs on any install, and the test extra installs no PyTorch."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# What the package and the suite cannot do without: what a packager or a
# contributor without the extras has.
REQUIRED = ("numpy", "scipy", "scikit-learn", "pytest")


def _closure(names) -> set:
    """The distributions ``names`` need (their requirements without extras,
    for this Python), themselves included."""
    from importlib import metadata

    from packaging.requirements import Requirement

    seen, todo = set(), list(names)
    while todo:
        name = todo.pop()
        key = name.lower().replace("_", "-")
        if key in seen:
            continue
        seen.add(key)
        for text in metadata.distribution(name).requires or []:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    return seen


def _bare_environment(directory: Path) -> Path:
    """A virtual environment in ``directory`` with only the distributions of
    ``REQUIRED`` (linked from this one's): its Python."""
    from importlib import metadata

    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(directory)], check=True
    )
    python = directory / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    for name in _closure(REQUIRED):
        distribution = metadata.distribution(name)
        tops = {Path(str(file)).parts[0] for file in distribution.files or []}
        for top in tops - {"..", "__pycache__"}:
            source = Path(str(distribution.locate_file(top)))
            target = Path(purelib) / top
            if source.exists() and not target.exists():
                target.symlink_to(source)
    return python


@pytest.mark.skipif(sys.platform == "win32", reason="links a virtual environment")
def test_the_suite_collects_with_only_the_package_and_pytest(tmp_path):
    # As a packager or a contributor without the extras runs it: pytest
    # collects the tests and the package's doctests without an error (each
    # optional part skips, with its reason).
    python = _bare_environment(tmp_path / "bare")
    run = subprocess.run(
        [str(python), "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = run.stdout[-3000:] + run.stderr[-3000:]
    assert run.returncode == 0, output
    assert "error" not in run.stdout.strip().splitlines()[-1], output
    # Nothing optional was there to collect with.
    probe = "import importlib.util as u; print(u.find_spec('pandas') is None)"
    found = subprocess.run([str(python), "-c", probe], capture_output=True, text=True)
    assert found.stdout.strip() == "True"


def test_the_test_extra_installs_no_torch():
    # A plain torch on Linux pulls a CUDA build of several GB: it has an
    # extra of its own, and the developer tools one too.
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]

    def names(extra):
        return {
            requirement.split("[")[0].split(">")[0].split("=")[0].strip()
            for requirement in extras[extra]
        }

    assert "torch" not in names("test")
    assert "torch" in names("torch")
    assert {"ruff", "mypy", "build", "twine"} <= names("dev")
    assert not {"ruff", "mypy", "build", "twine"} & names("test")
