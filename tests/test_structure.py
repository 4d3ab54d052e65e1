"""The package's shape, measured from its source: where Beam may be imported, no import cycles,
no history markers in the code, and the pure packages import without Beam.

Every check reads the code with ``ast`` (all imports, those inside functions included) or imports
it in a fresh interpreter; a failure lists every offending place.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PKG = REPO / "corpusflow"

# The Beam wing: the only places allowed to import apache_beam.
BEAM_WING_PACKAGES = ("corpusflow.stages",)
BEAM_WING_MODULES = ("corpusflow.run.runners",)

# Packages that must work without Beam (and that mypy checks).
PURE_PACKAGES = ("core", "config", "io", "text", "dedup", "mixture", "selection", "steps", "filters")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package_files() -> dict[str, Path]:
    """Module name -> file, for every module of the package (.py files in folders that are
    packages; scripts such as corpusflow/data/sample/build_sample.py are not modules)."""
    def in_package(p: Path) -> bool:
        return all((d / "__init__.py").is_file() for d in p.parents if d == PKG or PKG in d.parents)

    return {module_name(p): p for p in sorted(PKG.rglob("*.py")) if in_package(p)}


@dataclass(frozen=True)
class Import:
    module: str  # importing module
    line: int
    target: str  # absolute dotted name as written (``from a import b`` -> ``a``)
    names: tuple[str, ...]  # for ``from ... import`` forms, the imported names
    type_checking: bool  # under ``if TYPE_CHECKING:`` (never executed)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(name: str, path: Path) -> list[Import]:
    """Every import statement of a module, at any depth (functions, methods, try/if blocks)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_pkg = path.name == "__init__.py"
    out: list[Import] = []

    def visit(node: ast.AST, guarded: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                for stmt in child.body:
                    visit_stmt(stmt, True)
                for stmt in child.orelse:
                    visit_stmt(stmt, guarded)
                continue
            visit_stmt(child, guarded)

    def visit_stmt(node: ast.AST, guarded: bool) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                out.append(Import(name, node.lineno, alias.name, (), guarded))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_pkg else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            out.append(Import(name, node.lineno, target, tuple(a.name for a in node.names), guarded))
        visit(node, guarded)

    visit(tree, False)
    return out


def all_imports() -> list[Import]:
    return [imp for name, path in package_files().items() for imp in imports_of(name, path)]


def in_beam_wing(module: str) -> bool:
    return module in BEAM_WING_MODULES or any(
        module == p or module.startswith(p + ".") for p in BEAM_WING_PACKAGES
    )


def test_import_scanner_sees_function_level_and_relative_imports(tmp_path: Path) -> None:
    """The scanner itself: imports inside functions and methods, relative imports resolved,
    TYPE_CHECKING imports flagged."""
    src = (
        "from typing import TYPE_CHECKING\n"
        "from . import sibling\n"
        "from ..core import paths\n"
        "if TYPE_CHECKING:\n"
        "    import apache_beam\n"
        "class A:\n"
        "    def f(self):\n"
        "        import apache_beam as beam\n"
        "        try:\n"
        "            from apache_beam.io import fileio\n"
        "        except ImportError:\n"
        "            pass\n"
    )
    path = tmp_path / "mod.py"
    path.write_text(src)
    got = [(i.target, i.names, i.type_checking) for i in imports_of("corpusflow.text.mod", path)]
    assert got == [
        ("typing", ("TYPE_CHECKING",), False),
        ("corpusflow.text", ("sibling",), False),
        ("corpusflow.core", ("paths",), False),
        ("apache_beam", (), True),
        ("apache_beam", (), False),
        ("apache_beam.io", ("fileio",), False),
    ]


def test_apache_beam_is_imported_only_in_the_beam_wing() -> None:
    offenders = sorted(
        f"{imp.module}:{imp.line} imports {imp.target}"
        for imp in all_imports()
        if (imp.target == "apache_beam" or imp.target.startswith("apache_beam."))
        and not imp.type_checking
        and not in_beam_wing(imp.module)
    )
    assert not offenders, (
        f"apache_beam imported outside {BEAM_WING_PACKAGES + BEAM_WING_MODULES} "
        f"({len(offenders)}):\n" + "\n".join(offenders)
    )


def import_graph() -> dict[str, set[str]]:
    """corpusflow module -> corpusflow modules it imports (any depth, TYPE_CHECKING excluded).
    ``from corpusflow.x import y`` points to ``corpusflow.x.y`` when that is a module, else to
    ``corpusflow.x``."""
    modules = package_files()
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for imp in all_imports():
        if imp.type_checking or not (imp.target == "corpusflow" or imp.target.startswith("corpusflow.")):
            continue
        targets = [f"{imp.target}.{n}" for n in imp.names if f"{imp.target}.{n}" in modules]
        if len(targets) < len(imp.names) or not imp.names:  # some names are attributes of imp.target
            targets.append(imp.target)
        for t in targets:
            if t in modules and t != imp.module:
                graph[imp.module].add(t)
    return graph


def strongly_connected_components(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm (iterative); components of two or more nodes, or one node with a self-edge."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, it = work[-1]
            advanced = False
            for nxt in it:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph.get(nxt, ())))))
                    advanced = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == node:
                        break
                if len(comp) > 1 or node in graph.get(node, ()):
                    out.append(sorted(comp))
    return sorted(out)


def test_tarjan_finds_cycles_and_only_cycles() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": {"e"}, "e": set(), "f": {"f"}, "g": {"d"}}
    assert strongly_connected_components(graph) == [["a", "b", "c"], ["f"]]
    assert strongly_connected_components({"x": {"y"}, "y": set()}) == []


def _cycle_report(graph: dict[str, set[str]], comp: list[str]) -> str:
    members = set(comp)
    edges = [f"    {a} -> {b}" for a in comp for b in sorted(graph[a]) if b in members]
    return f"  {len(comp)} modules: {', '.join(comp)}\n" + "\n".join(edges)


def test_no_import_cycles_counting_function_level_imports() -> None:
    graph = import_graph()
    assert len(graph) > 50 and sum(map(len, graph.values())) > 100  # the scan found the package
    cycles = strongly_connected_components(graph)
    assert not cycles, f"{len(cycles)} import cycle(s) among corpusflow modules:\n" + "\n".join(
        _cycle_report(graph, c) for c in cycles
    )


HISTORY = [
    ("issue reference", re.compile(r"issue\s*#\s*\d+|\(issue\b", re.IGNORECASE)),
    ("ownership fence", re.compile(r"#\s*(?:>>>|<<<)|\bowner:\s*\w+")),
]
HISTORY_SUFFIXES = {".py", ".yaml", ".yml", ".md", ".toml", ".cfg"}


def test_no_history_markers_in_the_package() -> None:
    """No issue numbers and no ownership fences (``# >>> x wiring (owner: y) >>>``) in corpusflow/."""
    hits = []
    for path in sorted(PKG.rglob("*")):
        if path.suffix not in HISTORY_SUFFIXES or not path.is_file():
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for what, rx in HISTORY:
                if rx.search(line):
                    hits.append(f"{path.relative_to(REPO)}:{n}: {what}: {line.strip()[:100]}")
    assert not hits, f"{len(hits)} history marker(s) in corpusflow/:\n" + "\n".join(hits)


def test_history_patterns_match_what_they_should() -> None:
    def flagged(line: str) -> bool:
        return any(rx.search(line) for _, rx in HISTORY)

    # made-up examples of each form (the numbers refer to nothing)
    for bad in ("# >>> x wiring (issue #123, owner: someone) >>>", "# <<< x wiring <<<",
                "see issue #123", "(issue 123)", "Issue #123: faster"):
        assert flagged(bad), bad
    for ok in ("x = a >> b", "# a tissue sample", "issues = []", "print('>>> prompt')"):
        assert not flagged(ok), ok


_IMPORT_PURE = r"""
import importlib, json, pkgutil, sys, traceback

pkg = sys.argv[1]
culprits = {}
errors = {}
state = {"current": None}


class Watch:
    # records which module's import first reached apache_beam (and from where), then lets it load
    def find_spec(self, name, path=None, target=None):
        if (name == "apache_beam" or name.startswith("apache_beam.")) and state["current"] not in culprits:
            frames = [f"{fs.filename.split('corpusflow/', 1)[-1]}:{fs.lineno}"
                      for fs in traceback.extract_stack() if "/corpusflow/" in fs.filename]
            culprits[state["current"]] = frames
        return None


sys.meta_path.insert(0, Watch())
mod = importlib.import_module(pkg)
names = [pkg] + sorted(m.name for m in pkgutil.walk_packages(mod.__path__, pkg + ".")
                       if not m.name.endswith(".__main__"))  # running it would start the CLI
for name in names:
    state["current"] = name
    try:
        importlib.import_module(name)
    except Exception as e:
        errors[name] = f"{type(e).__name__}: {e}"
print(json.dumps({"modules": names, "culprits": culprits, "errors": errors,
                  "beam_loaded": any(m == "apache_beam" for m in sys.modules)}))
"""


def _import_in_fresh_interpreter(pkg: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", _IMPORT_PURE, pkg], capture_output=True, text=True,
                          cwd=REPO, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("package", PURE_PACKAGES)
def test_pure_package_imports_without_apache_beam(package: str) -> None:
    """Every module of a pure package imports in a fresh interpreter and none of them loads
    apache_beam (the first module whose import reached it is named, with the import chain)."""
    res = _import_in_fresh_interpreter(f"corpusflow.{package}")
    assert len(res["modules"]) >= 2, res["modules"]
    assert not res["errors"], res["errors"]
    assert not res["beam_loaded"], "apache_beam loaded by:\n" + "\n".join(
        f"  {m}: {' -> '.join(chain)}" for m, chain in res["culprits"].items()
    )


def test_every_module_imports() -> None:
    """Every module of the package (Beam wing included) imports in a fresh interpreter."""
    res = _import_in_fresh_interpreter("corpusflow")
    expected = {m for m in package_files() if not m.endswith(".__main__")}
    assert set(res["modules"]) == expected, sorted(expected ^ set(res["modules"]))
    assert not res["errors"], res["errors"]


# References to the design notes that live outside the repository (``shared/specs/filters.md §8``,
# ``(mixture.md §4.2)``, ``spec §8.4``) are dead for a reader of the repository; the facts the code
# needs are in docs/ with their public sources. ``<name>.md §N`` is allowed only for a file in docs/.
DOCS = REPO / "docs"
SPEC_SCANNED = (PKG, REPO / "configs")
SPEC_REF_MD = re.compile(r"\b([\w-]+)\.md`{0,2}\s*§")
SPEC_REF_OTHER = re.compile(r"shared/specs|\bspecs?\s+§")
DOC_ANCHOR = re.compile(r"docs/([\w-]+\.md)#([\w-]+)")


def _scanned_lines():
    for root in SPEC_SCANNED:
        for path in sorted(root.rglob("*")):
            if path.suffix in HISTORY_SUFFIXES and path.is_file():
                for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                    yield path, n, line


def _dead_spec_refs(line: str) -> list[str]:
    found = [m.group(0) for m in SPEC_REF_OTHER.finditer(line)]
    found += [m.group(0) for m in SPEC_REF_MD.finditer(line) if not (DOCS / f"{m.group(1)}.md").is_file()]
    return found


def test_no_references_to_design_notes_outside_the_repository() -> None:
    hits = [f"{path.relative_to(REPO)}:{n}: {', '.join(refs)}: {line.strip()[:100]}"
            for path, n, line in _scanned_lines() if (refs := _dead_spec_refs(line))]
    assert not hits, f"{len(hits)} reference(s) to notes not in the repository:\n" + "\n".join(hits)


def _anchors(md: Path) -> set[str]:
    # GitHub's heading ids: lower case, punctuation other than '-' and '_' dropped, spaces -> '-'
    heads = [ln.lstrip("#").strip() for ln in md.read_text(encoding="utf-8").splitlines() if ln.startswith("#")]
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in heads}


def test_links_into_docs_name_existing_sections() -> None:
    hits = []
    for path, n, line in _scanned_lines():
        for m in DOC_ANCHOR.finditer(line):
            md = DOCS / m.group(1)
            if not md.is_file() or m.group(2) not in _anchors(md):
                hits.append(f"{path.relative_to(REPO)}:{n}: {m.group(0)}")
    assert not hits, "links to missing docs sections:\n" + "\n".join(hits)


def test_spec_reference_patterns_match_what_they_should() -> None:
    for bad in ("see shared/specs/filters.md §8", "(mixture.md §4.2)", "``shared/specs/filters.md`` §5",
                "(spec §8.4)", "filters.md §8 pitfall 3"):
        assert _dead_spec_refs(bad), bad
    for ok in ("docs/scaling.md §1.1", "(docs/design.md#pitfalls, pitfall 3)", "Techniques*, 3rd ed., §6.3",
               "see docs/running.md"):
        assert not _dead_spec_refs(ok), ok
