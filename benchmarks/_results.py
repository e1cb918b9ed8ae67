"""The results files the benchmarks write (``--markdown``): what a run measured,
on which machine and code, and its tables, all read or computed by the run.

Figures belong here, in a file a run writes, not in the documentation or the
code's comments: the README and the user guide link the file instead.
"""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DIRECTORY = ROOT / "benchmarks"


def _git(*args: str) -> str | None:
    """A read-only git command's output in the repository, None without git.

    ``GIT_OPTIONAL_LOCKS=0``: ``git status`` then leaves the index alone."""
    try:
        completed = subprocess.run(
            ["git", *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"},
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return completed.stdout.strip() if completed.returncode == 0 else None


def commit() -> str:
    """The short commit hash, and whether tracked files differ from it."""
    head = _git("rev-parse", "--short", "HEAD")
    if head is None:
        return "unknown (not a git checkout)"
    changed = _git("status", "--porcelain", "--untracked-files=no")
    return f"{head} with uncommitted changes" if changed else head


def _versions() -> str:
    import numpy
    import scipy
    import sklearn
    import threadpoolctl

    import sklearn_gdlogreg

    libraries = (numpy, scipy, sklearn, threadpoolctl, sklearn_gdlogreg)
    names = ", ".join(f"{lib.__name__} {lib.__version__}" for lib in libraries)
    return f"Python {platform.python_version()}, {names}"


def _cpus() -> str:
    count = os.cpu_count()
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not on every platform
        usable = count
    text = f"{count} logical CPUs"
    if usable != count:
        text += f", {usable} usable by this process"
    processor = platform.processor() or platform.machine()
    return f"{text} ({processor}, {platform.system()})"


def thread_pools() -> str:
    """The BLAS and OpenMP pools as threadpoolctl sees them now."""
    from threadpoolctl import threadpool_info

    pools = [
        f"{info.get('internal_api', info['user_api'])}"
        f" {info.get('version') or ''}".rstrip()
        + f": {info['num_threads']} thread{'s' if info['num_threads'] != 1 else ''}"
        for info in threadpool_info()
    ]
    return "; ".join(pools) or "none loaded"


def machine_facts(started: datetime.datetime) -> list[str]:
    """Markdown bullets: the code, the libraries and the machine of a run."""
    return [
        f"- Date: {started:%Y-%m-%d %H:%M} UTC",
        f"- Commit: {commit()}",
        f"- Versions: {_versions()}",
        f"- CPUs: {_cpus()}",
        f"- Thread pools at the start: {thread_pools()}",
    ]


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def docstring_text(doc: str) -> str:
    """A module docstring's description as Markdown: the lines after the
    title, up to the paragraph that starts with ``Run:``."""
    body = doc.split("\n\n", 1)[1]
    kept = []
    for paragraph in body.split("\n\n"):
        if paragraph.lstrip().startswith("Run:"):
            break
        kept.append(paragraph.strip())
    return "\n\n".join(kept).replace("``", "`")


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def write(path: Path, title: str, sections: Sequence[str]) -> None:
    """Write the results file: the title, then the sections, blank lines
    between them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"# {title}\n\n" + "\n\n".join(sections) + "\n", encoding="utf-8")
    print(f"\nwrote {path}")


def append(path: Path, sections: Sequence[str]) -> None:
    """Add sections at the end of a results file."""
    text = path.read_text(encoding="utf-8").rstrip("\n")
    path.write_text(text + "\n\n" + "\n\n".join(sections) + "\n", encoding="utf-8")
    print(f"\nadded to {path}")
