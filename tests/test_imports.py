"""The package's imports, function-level ones included: no module reaches itself again, and an import inside a
function is one of the few that must stay lazy (listed here, with why)."""

import ast
from pathlib import Path

from hcvae.runs.closure import PACKAGE_DIR, imports_of

MODULES = sorted("hcvae." + ".".join(p.relative_to(PACKAGE_DIR).with_suffix("").parts).removesuffix(".__init__")
                 for p in PACKAGE_DIR.rglob("*.py"))

# (module, imported hcvae module) -> why the import sits inside a function
ALLOWED_LOCAL: dict = {}


def _modules_only(names) -> set:
    """Imported names that are modules (``from hcvae.x import y`` names the module x, and y if it is one)."""
    return {n for n in names if n in MODULES}


def test_no_import_cycle_counting_function_level_imports():
    graph = {m: _modules_only(imports_of(m)) - {m} for m in MODULES}
    index, low, on_stack, stack, cycles, counter = {}, {}, set(), [], [], [0]

    def visit(v):  # Tarjan's strongly connected components
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for m in MODULES:
        if m not in index:
            visit(m)
    assert not cycles, f"import cycles: {cycles}"


def test_function_level_imports_of_the_package_are_the_listed_ones():
    found = set()
    for m in MODULES:
        path = PACKAGE_DIR / Path(*m.split(".")[1:]).with_suffix(".py")
        if not path.exists():
            path = PACKAGE_DIR / Path(*m.split(".")[1:]) / "__init__.py"
        tree = ast.parse(path.read_text())
        for fn in ast.walk(tree):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(fn):
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("hcvae"):
                    found.add((m, node.module))
                elif isinstance(node, ast.Import):
                    found.update((m, a.name) for a in node.names if a.name.startswith("hcvae"))
    unexpected = sorted(found - set(ALLOWED_LOCAL))
    assert not unexpected, ("imports inside functions that could be at module level (or, if one must stay lazy, "
                            f"list it in ALLOWED_LOCAL with why): {unexpected}")
    stale = sorted(set(ALLOWED_LOCAL) - found)
    assert not stale, f"ALLOWED_LOCAL lists imports that are gone: {stale}"
