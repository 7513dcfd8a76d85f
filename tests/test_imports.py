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


def _displayed(glue_fn, monkeypatch, *args, **kwargs):
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda *a, **k: shown.append((a, k)))
    glue_fn(*args, **kwargs)
    return shown


def test_the_books_glue_displays_what_myst_nbs_glue_does(monkeypatch):
    import myst_nb.ext.glue
    from IPython.display import Markdown

    from hcvae.book import tables

    assert tables.GLUE_PREFIX == myst_nb.ext.glue.GLUE_PREFIX
    for value, display in ((Markdown("**3.58** nats"), False), (0.25, True), ("a sentence", False)):
        ours = _displayed(tables.glue, monkeypatch, "name", value, display=display)
        # myst_nb's module bound IPython's display at import: patch its own name
        theirs = []
        monkeypatch.setattr(myst_nb.ext.glue, "ipy_display", lambda *a, **k: theirs.append((a, k)))
        myst_nb.ext.glue.glue("name", value, display=display)
        assert ours == theirs and ours[0][1]["metadata"]["scrapbook"]["name"] == "name"


def test_a_chapters_kernel_imports_no_json_schema_checker():
    """The chapters' layers and glue leave nbformat (and jsonschema's grammar compilation) out of the kernel."""
    import subprocess
    import sys

    code = ("import sys; from hcvae.book import plots, tables, widgets; from hcvae.chapters import pages, ledger; "
            "tables.show('x', 'y'); print(sorted({'nbformat', 'jsonschema'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"
