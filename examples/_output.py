"""Where the examples write their pictures: ``--output DIR`` (default docs/images)."""

import argparse
from pathlib import Path

DEFAULT = Path(__file__).resolve().parent.parent / "docs" / "images"


def output_dir(doc: str | None) -> Path:
    """The folder of ``--output`` (the example's docstring describes it)."""
    description = (doc or "").strip().split("\n")[0] or None
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--output", type=Path, default=DEFAULT, help="folder for PNGs")
    directory = parser.parse_args().output
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def pyplot():
    """matplotlib's pyplot, drawing off-screen (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig, directory: Path, name: str) -> None:
    """Lay out, write ``directory / name`` and say where."""
    fig.tight_layout()
    path = directory / name
    fig.savefig(path, dpi=110)
    print(f"wrote {path}")
