"""The code a kind of result depends on, as a hash that ignores docstrings, comments and formatting.

The result store keys an entry by its config and its kind's explicit ``VERSION``
(:mod:`hcvae.runs.store`); the code is not in the key. This module lets a test notice
when that code changes without the version: :func:`closure_modules` follows the
real imports of a module (``import hcvae.x``, ``from .x import``, ``from ..x
import``, imports inside functions, and ``importlib.import_module`` of modules
named by a string constant), and
:func:`module_hash` hashes each module's syntax tree with docstrings removed.
The lock file (``hcvae/store.lock.json``) records both per kind.
"""

from __future__ import annotations

import ast
import functools
import hashlib
from pathlib import Path

PACKAGE = "hcvae"
PACKAGE_DIR = Path(__file__).resolve().parent.parent

# Modules that choose configs, read results or present them: they cannot change the result of a given config,
# so editing them never asks for a re-lock.
NOT_IN_CLOSURE = frozenset({"hcvae.runs.store", "hcvae.runs.closure", "hcvae.runs.profiles", "hcvae.runs.sweep",
                            "hcvae.runs.audit", "hcvae.runs.agreement", "hcvae.runs.kernels",
                            "hcvae.runs.kinds", "hcvae.runs.layout", "hcvae.runs.migrate"})
# ... nor can the layers above the runs (the chapters read results, the book presents them)
NOT_IN_CLOSURE_PREFIXES = ("hcvae.chapters", "hcvae.book")


def _excluded(name: str) -> bool:
    return name in NOT_IN_CLOSURE or name.startswith(NOT_IN_CLOSURE_PREFIXES)


def module_path(name: str) -> Path | None:
    """The source file of hcvae module ``name`` (``hcvae.x`` or ``hcvae.x.y``), or None if it is not one."""
    parts = name.split(".")
    if parts[0] != PACKAGE or not all(p.isidentifier() for p in parts):
        return None
    if len(parts) == 1:
        return PACKAGE_DIR / "__init__.py"
    rel = Path(*parts[1:])
    for candidate in (PACKAGE_DIR / rel.with_suffix(".py"), PACKAGE_DIR / rel / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _package_of(name: str) -> str:
    path = module_path(name)
    return name if path is not None and path.name == "__init__.py" else name.rpartition(".")[0]


def _resolve_relative(module: str, level: int, target: str | None) -> str:
    base = _package_of(module).split(".")
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join([*base, *([target] if target else [])])


def imports_of(name: str) -> set[str]:
    """The hcvae modules that module ``name`` imports, anywhere in its body, or loads by a literal name."""
    path = module_path(name)
    if path is None:
        return set()
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    loads_by_name = False
    constants: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve_relative(name, node.level, node.module) if node.level else (node.module or "")
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)  # ``from . import x`` names modules
        elif isinstance(node, ast.Call):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            loads_by_name |= called in ("import_module", "__import__")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            constants.add(node.value)
    if loads_by_name:  # e.g. import_module(f"hcvae.core.{FILE_DATASETS[name]}"): every sibling named by a constant
        for text in constants:
            for candidate in (text, f"{PACKAGE}.{text}", _resolve_relative(name, 1, text.lstrip("."))):
                if module_path(candidate) is not None:
                    found.add(candidate)
    return {m for m in found if module_path(m) is not None}


def closure_modules(start: str) -> list[str]:
    """``start`` and every hcvae module it reaches through imports, minus :data:`NOT_IN_CLOSURE`, sorted."""
    seen: set[str] = set()
    todo = [start]
    while todo:
        name = todo.pop()
        if name in seen or (_excluded(name) and name != start):
            continue
        seen.add(name)
        todo.extend(imports_of(name))
    return sorted(seen)


class _StripDocstrings(ast.NodeTransformer):
    def _strip(self, node):
        self.generic_visit(node)
        body = getattr(node, "body", None)
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                and isinstance(body[0].value.value, str):
            node.body = body[1:] or [ast.Pass()]
        return node

    visit_Module = visit_ClassDef = visit_FunctionDef = visit_AsyncFunctionDef = _strip


@functools.lru_cache(maxsize=None)
def _module_hash_cached(path: str, mtime_ns: int) -> str:
    tree = _StripDocstrings().visit(ast.parse(Path(path).read_text(), filename=path))
    return hashlib.sha256(ast.dump(tree, annotate_fields=False, include_attributes=False).encode()).hexdigest()[:16]


def module_hash(name: str) -> str:
    """A hash of module ``name``'s syntax tree without docstrings: comments and layout do not change it."""
    path = module_path(name)
    if path is None:
        raise ValueError(f"{name!r} is not a module of the {PACKAGE} package")
    return _module_hash_cached(str(path), path.stat().st_mtime_ns)


def closure(start: str) -> dict:
    """``{"hash": ..., "modules": {module: hash}}`` of ``start``'s closure."""
    modules = {m: module_hash(m) for m in closure_modules(start)}
    digest = hashlib.sha256("".join(f"{m}={h};" for m, h in sorted(modules.items())).encode()).hexdigest()[:16]
    return {"hash": digest, "modules": modules}
