"""The map in docs/architecture.md, enforced: every import in the tree (read with `ast`: plain,
`from x import y`, relative, inside functions and under TYPE_CHECKING alike) must be an arrow the
"Allowed imports" table allows, and no two modules may import each other through any chain.

The table is encoded below as data (`GROUPS`, `ALLOWED`); change it together with the doc.
No exceptions are listed: a wrong arrow or a cycle fails at once.
"""

from __future__ import annotations

import ast
from pathlib import Path

from starforge.sandbox.checks import parse_python

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("starforge", "data_pipeline", "pii", "pretrain", "finetune", "eval", "attribution")
"""The distribution's top-level packages (pyproject.toml); tests/ and bench/ may import anything."""

STAGES = ("data_pipeline", "pii", "pretrain", "finetune", "eval", "attribution")

GROUPS: dict[str, tuple[str, ...]] = {
    "CORE": ("starforge", "starforge.errors", "starforge.log"),
    "CONFIG": ("starforge.config", "starforge.run_dir"),
    "COMMANDS": ("starforge.commands",),
    "FORMATS": ("starforge.formats", "starforge.files", "starforge.executors", "starforge.plots"),
    "SERVICES": ("starforge.decontam", "starforge.sandbox", "starforge.modeling"),
    "CLI": ("starforge.cli", "starforge.__main__"),
    "DEMO": ("starforge.demo",),
    "REPORT": ("starforge.report",),
}
"""Each group's members; a member names a module and everything under it (`starforge.formats`
is every module of starforge/formats/). `starforge` alone is the package's `__init__`."""

SHARED = ("CORE", "CONFIG", "COMMANDS", "FORMATS", "SERVICES")
"""Every `starforge.*` module except cli, demo and report: what the table calls "shared"."""

ALLOWED: dict[str, tuple[str, ...]] = {
    "CORE": ("CORE",),
    "CONFIG": ("CORE", "starforge.config"),
    "COMMANDS": ("CORE", "CONFIG"),
    "FORMATS": ("CORE", "starforge.config", "starforge.formats"),
    "SERVICES": ("CORE", "CONFIG", "COMMANDS", "FORMATS", "SERVICES"),
    "CLI": (*SHARED, "CLI", "STAGE_CLI"),
    "DEMO": (*SHARED, "CLI", "REPORT"),
    "REPORT": (*SHARED,),
    "STAGE": (*SHARED, "OWN_STAGE"),
}
"""Importer group -> what it may import: group names, modules (a package stands for everything
under it), and for stages their own package (`OWN_STAGE`); `STAGE_CLI` is any stage's `cli`
module (the dispatcher's lazy imports)."""

EXTRA_STAGE_ARROWS = {("data_pipeline", "pii")}
"""The one stage-to-stage arrow: pii's datatrove step in the data chain."""


def module_files() -> dict[str, Path]:
    mods = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            mods[name] = path
    return mods


def imports_of(name: str, path: Path, mods: dict[str, Path]) -> set[str]:
    """The modules of ours `name` imports: `import a.b` -> a.b; `from a import b` -> a and, when
    it is a module, a.b; relative imports resolved against the package."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    tree = parse_python(path.read_text(encoding="utf-8"), str(path))  # threads left by earlier tests may parse too
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            targets = [module] + [f"{module}.{alias.name}" for alias in node.names]
        else:
            continue
        for target in targets:
            if target in mods and target != name:
                found.add(target)
    return found


def group_of(module: str) -> str:
    for group, members in GROUPS.items():
        for member in members:
            if module == member or (member != "starforge" and module.startswith(member + ".")):
                return group
    top = module.split(".")[0]
    if top in STAGES:
        return "STAGE"
    raise AssertionError(f"{module}: in no group of docs/architecture.md's table; add it to GROUPS and the doc")


def allowed(importer: str, target: str) -> bool:
    group, top, target_top = group_of(importer), importer.split(".")[0], target.split(".")[0]
    if group == "STAGE" and (target_top == top or (top, target_top) in EXTRA_STAGE_ARROWS):
        return True
    target_group = group_of(target)
    for rule in ALLOWED[group]:
        if rule == target_group or target == rule or target.startswith(rule + ".") or (
                rule == "STAGE_CLI" and target_top in STAGES and target == f"{target_top}.cli"):
            return True
    return False


def graph() -> dict[str, set[str]]:
    mods = module_files()
    return {name: imports_of(name, path, mods) for name, path in mods.items()}


def violations() -> set[tuple[str, str]]:
    return {(a, b) for a, targets in graph().items() for b in targets if not allowed(a, b)}


def cycles() -> list[tuple[str, ...]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    g = graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for root in sorted(g):
        if root in index:
            continue
        work = [(root, iter(sorted(g[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            v, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(g[child]))))
                elif child in on_stack:
                    low[v] = min(low[v], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                component = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    component.append(w)
                    if w == v:
                        break
                if len(component) > 1:
                    found.append(tuple(sorted(component)))
    return found


def test_every_import_is_an_arrow_the_table_allows():
    wrong = sorted(violations())
    assert not wrong, ("imports docs/architecture.md's table does not allow (importer -> imported): "
                       + "; ".join(f"{a} -> {b}" for a, b in wrong))


def test_no_import_cycles():
    new = sorted(cycles())
    assert not new, "import cycles: " + "; ".join(" <-> ".join(c) for c in new)


def test_the_checker_sees_relative_function_level_and_from_imports(tmp_path):
    """The reader itself, on a small package: each import form is found and resolved."""
    pkg = tmp_path / "eval"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def f():\n    from .sub import b\n    import eval.c\n")
    (pkg / "sub" / "b.py").write_text("from .. import c\nfrom eval import a\n")
    (pkg / "c.py").write_text("from eval.sub.b import thing\n")
    mods = {"eval": pkg / "__init__.py", "eval.sub": pkg / "sub" / "__init__.py", "eval.a": pkg / "a.py",
            "eval.sub.b": pkg / "sub" / "b.py", "eval.c": pkg / "c.py"}
    assert imports_of("eval.a", mods["eval.a"], mods) == {"eval.sub", "eval.sub.b", "eval.c"}
    assert imports_of("eval.sub.b", mods["eval.sub.b"], mods) == {"eval", "eval.c", "eval.a"}
    assert imports_of("eval.c", mods["eval.c"], mods) == {"eval.sub.b"}


def test_the_table_refuses_what_the_doc_refuses():
    assert not allowed("pretrain.train", "eval.generate")  # stage -> stage
    assert not allowed("starforge.formats.records", "starforge.sandbox.pool")  # format -> service
    assert not allowed("starforge.report", "starforge.cli")
    assert not allowed("starforge.plots", "starforge.run_dir") and not allowed("starforge.plots", "starforge.files")
    assert allowed("starforge.commands", "starforge.run_dir") and not allowed("starforge.run_dir", "starforge.commands")
    assert allowed("data_pipeline.pipelines", "pii.step") and not allowed("pii.step", "data_pipeline.pipelines")
    assert allowed("starforge.cli", "eval.cli") and not allowed("starforge.cli", "eval.evaluate")
    assert allowed("starforge.demo", "starforge.cli") and allowed("finetune.sft", "starforge.modeling.seqvcr")
