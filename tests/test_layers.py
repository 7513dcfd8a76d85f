"""The package reads as layers, and imports flow one way: core <- methods <- runs <- chapters <- book.

Every import of every module counts, at module level or inside a function, relative or absolute, and modules
loaded by name (``importlib.import_module`` of a literal): :func:`hcvae.runs.closure.imports_of`. The four command
lines at the top (``python -m hcvae.notebook|sweep|store|reference``) only hand over to their module."""

from pathlib import Path

import pytest

import hcvae
from hcvae.runs.closure import imports_of

LAYERS = ("core", "methods", "runs", "chapters", "book")
PACKAGE = Path(hcvae.__file__).parent
MODULES = sorted(f"hcvae.{p.relative_to(PACKAGE).with_suffix('').as_posix().replace('/', '.')}"
                 for p in PACKAGE.rglob("*.py") if p.name != "__init__.py")


def _layer(module: str) -> int | None:
    parts = module.split(".")
    return LAYERS.index(parts[1]) if len(parts) > 2 and parts[1] in LAYERS else None


def test_every_module_lives_in_a_layer_or_is_a_command_line():
    loose = [m for m in MODULES if _layer(m) is None]
    assert sorted(loose) == ["hcvae.data", "hcvae.notebook", "hcvae.reference", "hcvae.store", "hcvae.sweep"], loose
    for m in loose:  # a command line hands over to the module that does the work, nothing more
        text = (PACKAGE / f"{m.split('.')[1]}.py").read_text()
        assert text.count("import") == 2 and "def " not in text, m


@pytest.mark.parametrize("module", [m for m in MODULES if _layer(m) is not None])
def test_imports_flow_down_the_layers(module):
    mine = _layer(module)
    upward = sorted(m for m in imports_of(module) if (_layer(m) or -1) > mine)
    assert not upward, f"{module} ({LAYERS[mine]}) imports from a higher layer: {upward}"


def test_the_layer_check_sees_a_violation(tmp_path, monkeypatch):
    from hcvae.runs import closure

    pkg = tmp_path / "hcvae"
    for layer in ("core", "book"):
        (pkg / layer).mkdir(parents=True)
        (pkg / layer / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "book" / "figures.py").write_text("X = 1\n")
    (pkg / "core" / "maths.py").write_text("def f():\n    from hcvae.book.figures import X\n    return X\n")
    monkeypatch.setattr(closure, "PACKAGE_DIR", pkg)
    assert "hcvae.book.figures" in closure.imports_of("hcvae.core.maths")


def test_no_file_the_package_or_book_needs_is_ignored_by_git():
    """A clean clone must hold every module: an unanchored ignore rule (``runs/``) once hid ``hcvae/runs``."""
    import subprocess

    root = Path(hcvae.__file__).resolve().parent.parent
    needed = [p for top in ("hcvae", "notebooks", "tests", "book", "benchmarks") for p in (root / top).rglob("*")
              if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".ipynb"]
    assert len(needed) > 50
    found = subprocess.run(["git", "check-ignore", "--no-index", "--stdin"], cwd=root, capture_output=True, text=True,
                           input="\n".join(str(p.relative_to(root)) for p in needed))
    assert found.returncode in (0, 1), found.stderr  # 1: nothing ignored; 128: not a git checkout
    assert found.stdout.split() == [], f"git ignores files the package needs: {found.stdout.split()[:10]}"


def _package_names_used(path: Path) -> list[tuple[str, str]]:
    """(module, name) for every ``from hcvae... import name`` and ``alias.name`` of an imported hcvae module in the
    code cells of the MyST page ``path``."""
    import ast
    import importlib

    import jupytext

    cells = [c.source for c in jupytext.read(path).cells if c.cell_type == "code"]
    tree = ast.parse("\n".join(l for c in cells for l in c.splitlines() if not l.lstrip().startswith(("%", "!"))))
    aliases, used = {}, []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("hcvae"):
            for a in node.names:
                try:
                    importlib.import_module(f"{node.module}.{a.name}")
                    aliases[a.asname or a.name] = f"{node.module}.{a.name}"
                except ImportError:
                    used.append((node.module, a.name))
        elif isinstance(node, ast.Import):
            aliases.update({a.asname or a.name: a.name for a in node.names if a.name.startswith("hcvae")})
    used += [(aliases[n.value.id], n.attr) for n in ast.walk(tree)
             if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id in aliases]
    return used


@pytest.mark.parametrize("page", sorted(p.name for p in (Path(__file__).parent.parent / "notebooks").glob("*.md")))
def test_every_package_name_a_chapter_uses_exists(page):
    """Seconds instead of the book build's minutes: a chapter that calls a function moved out of a module fails here."""
    import importlib

    used = _package_names_used(Path(__file__).parent.parent / "notebooks" / page)
    assert used, "the check found no use of the package"
    missing = [f"{m}.{n}" for m, n in used if not hasattr(importlib.import_module(m), n)]
    assert missing == [], f"{page} uses names the package does not define: {missing}"
