"""pytest: the package's modules whose doctests need an optional extra skip
without it.

pytest imports every module of the package to collect its doctests
(``--doctest-modules``, pyproject.toml): ``onnx.py`` raises ImportError
without skl2onnx, which would make a collection error, and the doctest of
``plotting.py`` draws with matplotlib. Each is skipped instead, with the
reason, as its tests are; also when named on the command line, where
``collect_ignore`` does not apply.
"""

import importlib.util

import pytest

# The module's file name: the package it needs, and the extra that has it.
_NEEDS = {
    "onnx.py": ("skl2onnx", "onnx"),
    "plotting.py": ("matplotlib", "plot"),
}


class _Skipped(pytest.File):
    """A file that is not collected: skipped with its reason."""

    reason = ""

    def collect(self):
        pytest.skip(self.reason)


@pytest.hookimpl(hookwrapper=True)
def pytest_collect_file(file_path, parent):
    outcome = yield
    if file_path.parent.name != "sklearn_gdlogreg" or file_path.name not in _NEEDS:
        return
    package, extra = _NEEDS[file_path.name]
    if importlib.util.find_spec(package) is None:
        # In place of the doctest module (and the test module pytest makes
        # of a file named on the command line), which would import it.
        skipped = _Skipped.from_parent(parent, path=file_path)
        skipped.reason = (
            f"sklearn_gdlogreg/{file_path.name} needs {package}: "
            f"pip install 'sklearn-gdlogreg[{extra}]'"
        )
        outcome.force_result([skipped])
