"""The three distributions keep their seams: the services and the VM side share only ``bioxen_common``
(neither imports the other), and ``bioxen_common`` imports neither. Read from the sources (an AST walk),
so an import inside a function or an ``if`` counts as much as one at the top."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from support import ROOT

PACKAGES = {"bioxen_common": ROOT / "common", "bioxen_services": ROOT / "services",
            "bioxen_vm": ROOT / "vm_client"}
#: what each package may import of the others
ALLOWED = {"bioxen_common": set(), "bioxen_services": {"bioxen_common"}, "bioxen_vm": {"bioxen_common"}}


def imported_roots(path: Path) -> set[tuple[str, int]]:
    """(top-level module, line) of every absolute import in one source file."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {(alias.name.split(".")[0], node.lineno) for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add((node.module.split(".")[0], node.lineno))
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None))
              in ("import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)):
            found.add((node.args[0].value.split(".")[0], node.lineno))
    return found


@pytest.mark.parametrize("package", PACKAGES)
def test_a_package_imports_only_the_packages_it_depends_on(package):
    sources = sorted((PACKAGES[package] / package).rglob("*.py"))
    assert sources, f"no sources found for {package}"
    others = set(PACKAGES) - {package} - ALLOWED[package]
    crossings = [f"{path.relative_to(ROOT)}:{line} imports {root}"
                 for path in sources for root, line in sorted(imported_roots(path)) if root in others]
    assert not crossings, crossings


def test_the_walk_sees_every_kind_of_import(tmp_path):
    source = tmp_path / "m.py"
    source.write_text("import a.b\nfrom c import d\ndef f():\n    from e.f import g\n"
                      "importlib.import_module('h.i')\n__import__('j')\nfrom . import k\n")
    assert {root for root, _ in imported_roots(source)} == {"a", "c", "e", "h", "j"}
