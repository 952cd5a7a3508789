"""A private name (_x) is for its own module only. `make test` runs ruff first, whose SLF001 catches
`obj._x` and `module._x`; this test catches `from module import _x`, which ruff checks only in preview
(PLC2701). Tests may import private names."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("playground", "ui", "views", "scripts", "app.py")


def private_imports(path: Path, root: Path = ROOT) -> list[str]:
    """'file:line: from module import _name' for each private name path imports from another module."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [f"{path.relative_to(root)}:{node.lineno}: from {'.' * node.level}{node.module or ''} import {a.name}"
            for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
            for a in node.names if a.name.startswith("_") and not a.name.startswith("__")]


def test_no_module_imports_another_modules_private_names():
    files = [p for s in SOURCES for p in ((ROOT / s).rglob("*.py") if (ROOT / s).is_dir() else [ROOT / s])]
    assert len(files) > 50                                       # the walk found the sources
    found = [hit for f in files for hit in private_imports(f)]
    assert not found, ("a module imports another's private names; make them public where they are defined "
                       "(and use them from there):\n" + "\n".join(found))


def test_the_check_sees_a_private_import(tmp_path):
    f = tmp_path / "probe.py"
    f.write_text("from playground.inspect.filters import _x, conv_layers\nfrom . import __version__\n")
    assert private_imports(f, tmp_path) == ["probe.py:1: from playground.inspect.filters import _x"]
