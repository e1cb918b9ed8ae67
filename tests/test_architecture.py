"""The modules import one another as docs/architecture.md says.

The page's table (module | job | may import) is the rule; these tests read it
and check every import of a package module, at module level or inside a
function (type-checking imports included), of every module of the package.
"""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "sklearn_gdlogreg"
DOC = ROOT / "docs" / "architecture.md"
NAME = PACKAGE.name

HEADER = ["module", "job", "may import"]
_NAME_IN_CELL = re.compile(r"`([A-Za-z_][A-Za-z0-9_]*)`")
_NOTHING = "—"


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def allowed_imports(text: str) -> dict[str, set[str]]:
    """``{module: modules it may import}`` from the page's table, whose header
    is ``| module | job | may import |``. A may-import cell holds module
    names in backticks, separated by commas, or ``—`` for none."""
    lines = text.splitlines()
    header = [i for i, line in enumerate(lines) if _cells(line) == HEADER]
    assert len(header) == 1, f"one table headed {HEADER} in {DOC.name}"
    table: dict[str, set[str]] = {}
    for line in lines[header[0] + 2 :]:
        if not line.startswith("|"):
            break
        module_cell, _, imports_cell = _cells(line)
        module = re.fullmatch(r"`([A-Za-z_][A-Za-z0-9_]*)`", module_cell)
        assert module, f"a module name in backticks, not {module_cell!r}"
        leftover = _NAME_IN_CELL.sub("", imports_cell).replace(",", "").strip()
        assert leftover in ("", _NOTHING), (
            f"{module[1]}: may import only names in backticks or {_NOTHING}, "
            f"not {imports_cell!r}"
        )
        assert module[1] not in table, f"{module[1]} has two rows"
        table[module[1]] = set(_NAME_IN_CELL.findall(imports_cell))
    return table


def package_modules() -> dict[str, list[Path]]:
    """The package's top-level modules (a subpackage is one, all its files),
    by name, ``__init__`` for the package itself."""
    modules: dict[str, list[Path]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        modules.setdefault(parts[0], []).append(path)
    return modules


def _unit(dotted: list[str], modules) -> str | None:
    """The package module that the absolute name ``dotted`` lies in, or None
    outside the package (``__init__`` for the package itself or a name it
    exports)."""
    if not dotted or dotted[0] != NAME:
        return None
    if len(dotted) > 1 and dotted[1] in modules:
        return dotted[1]
    return "__init__"


def imported_modules(source: str, path: Path, modules) -> list[tuple[int, str]]:
    """``(line, module)`` for each import of a package module in ``source``
    (the text of ``path``), wherever it stands in the file."""
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    package = parts if parts[-1] == "__init__" else parts[:-1]
    package = [part for part in package if part != "__init__"]
    found = []
    for node in ast.walk(ast.parse(source)):
        targets: list[list[str]] = []
        if isinstance(node, ast.Import):
            targets = [alias.name.split(".") for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            # ``from .x import y`` is ``<package>.x.y``: y a name or a module.
            base = package[: len(package) - node.level + 1] if node.level else []
            module = node.module.split(".") if node.module else []
            targets = [base + module + [alias.name] for alias in node.names]
        for dotted in targets:
            unit = _unit(dotted, modules)
            if unit is not None:
                found.append((node.lineno, unit))
    return found


def forbidden_imports(module: str, paths, table, modules) -> list[str]:
    """The imports of ``module`` (its files ``paths``) that its row of
    ``table`` does not allow; imports within the module itself are free."""
    allowed = table.get(module, set()) | {module}
    return [
        f"{path.relative_to(ROOT)}:{line} imports {target}"
        for path in paths
        for line, target in imported_modules(
            path.read_text(encoding="utf-8"), path, modules
        )
        if target not in allowed
    ]


@pytest.fixture(scope="module")
def table():
    return allowed_imports(DOC.read_text(encoding="utf-8"))


def test_the_table_lists_every_module_and_names_only_modules(table):
    modules = set(package_modules())
    assert set(table) == modules, (
        f"modules without a row: {sorted(modules - set(table))}; "
        f"rows without a module: {sorted(set(table) - modules)}"
    )
    for module, allowed in table.items():
        assert allowed <= modules, f"{module} may import unknown {allowed - modules}"
        assert module not in allowed, f"{module} lists itself"


@pytest.mark.parametrize("module", sorted(package_modules()))
def test_imports_follow_the_table(module, table):
    modules = package_modules()
    forbidden = forbidden_imports(module, modules[module], table, modules)
    assert not forbidden, (
        "imports that docs/architecture.md does not allow (change the code, "
        "or the table if the design changed):\n" + "\n".join(forbidden)
    )


FORBIDDEN = {
    "from ._estimator import GradientDescentLogisticRegression": "_estimator",
    "from . import _plan": "_plan",
    "import sklearn_gdlogreg._objective": "_objective",
    "from sklearn_gdlogreg import _metrics": "_metrics",
    "from sklearn_gdlogreg import GradientDescentLogisticRegression": "__init__",
    "from sklearn_gdlogreg._loss import expit": "_loss",
}


@pytest.mark.parametrize("statement", list(FORBIDDEN))
@pytest.mark.parametrize("where", ["module", "function", "type_checking"])
def test_a_forbidden_import_is_caught(statement, where, table):
    # _backends may import _array_api only: each statement breaks the rule,
    # at module level, inside a function or for type checking alone.
    body = {
        "module": statement,
        "function": f"def f():\n    {statement}",
        "type_checking": f"if TYPE_CHECKING:\n    {statement}",
    }[where]
    source = f"from ._array_api import namespace\n\n{body}\n"
    path = PACKAGE / "_backends.py"
    found = imported_modules(source, path, package_modules())
    assert [target for _, target in found] == ["_array_api", FORBIDDEN[statement]]
    allowed = table["_backends"] | {"_backends"}
    assert [t for _, t in found if t not in allowed] == [FORBIDDEN[statement]]


def test_imports_inside_a_subpackage_are_resolved():
    # A module split into a folder (``_backends/``, as the design suggests)
    # stays one module: its files import one another freely, and a relative
    # import two levels up names a sibling module.
    path = PACKAGE / "_backends" / "passes.py"
    source = "from . import blocks\nfrom .._array_api import like\n"
    modules = {**package_modules(), "_backends": [path]}
    assert [t for _, t in imported_modules(source, path, modules)] == [
        "_backends",
        "_array_api",
    ]
