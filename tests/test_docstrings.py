"""Docstrings are complete: numpydoc validation, with scikit-learn's rules."""

import inspect

import pytest

import sklearn_gdlogreg

validate = pytest.importorskip("numpydoc.validate").validate

# As scikit-learn's own docstring test: named returns (RT02) and the
# placement of the summary (GL01, GL02) are allowed everywhere; methods need
# no extended summary, See Also or Examples section (ES01, SA01, EX01).
ALLOWED = {"RT02", "GL01", "GL02"}
ALLOWED_IN_METHODS = ALLOWED | {"ES01", "SA01", "EX01"}


def public_objects():
    """Our public classes and the public methods they define themselves."""
    for name in sklearn_gdlogreg.__all__:
        cls = getattr(sklearn_gdlogreg, name)
        yield f"sklearn_gdlogreg.{name}", ALLOWED
        for method, member in vars(cls).items():
            function = getattr(member, "__func__", member)
            if not method.startswith("_") and inspect.isfunction(function):
                yield f"sklearn_gdlogreg.{name}.{method}", ALLOWED_IN_METHODS


@pytest.mark.parametrize(("path", "allowed"), list(public_objects()))
def test_docstring_is_complete(path, allowed):
    result = validate(path)
    errors = [
        (code, message) for code, message in result["errors"] if code not in allowed
    ]
    assert not errors, "\n".join(
        f"{path}: {code} {message}" for code, message in errors
    )
