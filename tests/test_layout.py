"""The layout shows the architecture (docs/ARCHITECTURE.md), checked from the source:
no import cycles, a pure grammar, commands that do not import each other, and heavy
libraries only where they belong. Imports inside functions count too: a lazy import
is still a dependency."""

import ast
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
ROOTS = {"jazzd": REPO / "daemon", "jazzd.grammar": REPO / "grammar"}

# What each package may import of jazzd (besides itself). `None`: anything.
ALLOWED = {
    "jazzd.grammar": set(),
    "jazzd.service": {"jazzd.grammar"},
    "jazzd.model": {"jazzd.grammar", "jazzd.service"},
    "jazzd.live": {"jazzd.grammar", "jazzd.service", "jazzd.model"},
    "jazzd.train": {"jazzd.grammar", "jazzd.service", "jazzd.model"},
    "jazzd.offline": {"jazzd.grammar", "jazzd.service", "jazzd.model"},
    "jazzd.evaluation": {"jazzd.grammar", "jazzd.service", "jazzd.model", "jazzd.offline",
                         "jazzd.train"},
    "jazzd.bench": {"jazzd.grammar", "jazzd.service", "jazzd.model", "jazzd.live",
                    "jazzd.train", "jazzd.offline"},
    "jazzd.commands": None,
}
HEAVY = ("tensorflow", "keras", "music21", "matplotlib", "sklearn")
NOT_IN_GRAMMAR = ("music21", "tensorflow", "keras", "threading", "multiprocessing",
                  "concurrent", "socket", "subprocess", "os", "io", "pathlib", "rtmidi",
                  "mido", "numpy", "yaml")


def _modules():
    """{module name: path} of every project module."""
    out = {}
    for root_name, root in ROOTS.items():
        for path in root.rglob("*.py"):
            rel = path.relative_to(root).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            name = ".".join([root_name] + parts)
            if root_name == "jazzd" and parts[:1] == ["grammar"]:
                continue
            out[name] = path
    return out


MODULES = _modules()


def _imports(name, path):
    """Absolute names imported by a module (anywhere in it)."""
    tree = ast.parse(path.read_text(), str(path))
    found = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")
                base = ".".join(up[:len(up) - node.level + 1] + ([base] if base else []))
            found.add(base)
            for a in node.names:             # `from pkg import module`
                if f"{base}.{a.name}" in MODULES:
                    found.add(f"{base}.{a.name}")
    return found


IMPORTS = {name: _imports(name, path) for name, path in MODULES.items()}


def _project_edges(name):
    """The project modules `name` imports (a package counts as its __init__)."""
    return {m for m in IMPORTS[name] if m in MODULES and m != name}


def _package(name):
    if name.startswith("jazzd.grammar"):
        return "jazzd.grammar"
    parts = name.split(".")
    return ".".join(parts[:2]) if len(parts) > 2 or (
        len(parts) == 2 and (ROOTS["jazzd"] / parts[1]).is_dir()) else "jazzd"


def test_the_module_list_is_the_tree():
    assert "jazzd.live.scheduler" in MODULES and "jazzd.grammar.chords" in MODULES
    assert len(MODULES) > 40


def find_cycles(graph):
    """Every cycle a depth-first search meets in {node: set of nodes}."""
    state, stack, cycles = {}, [], []

    def visit(m):
        state[m] = 1
        stack.append(m)
        for n in sorted(graph.get(m, ())):
            if state.get(n) == 1:
                cycles.append(stack[stack.index(n):] + [n])
            elif n not in state:
                visit(n)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)
    return cycles


def test_no_import_cycles():
    cycles = find_cycles({m: _project_edges(m) for m in MODULES})
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_the_cycle_check_can_fail():
    """The same search finds a cycle like the old layout's (lstm <-> train)."""
    graph = {m: _project_edges(m) for m in MODULES}
    graph["jazzd.model.network"] = graph["jazzd.model.network"] | {"jazzd.train.keras_model"}
    graph["jazzd.train.keras_model"] = graph["jazzd.train.keras_model"] | {"jazzd.model.network"}
    assert ["jazzd.model.network", "jazzd.train.keras_model", "jazzd.model.network"] in \
        find_cycles(graph)


@pytest.mark.parametrize("name", sorted(m for m in MODULES if m.startswith("jazzd.grammar")))
def test_grammar_is_pure(name):
    bad = sorted(m for m in IMPORTS[name] if m.split(".")[0] in NOT_IN_GRAMMAR)
    assert not bad, f"{name} imports {bad}"
    outside = sorted(m for m in IMPORTS[name]
                     if m.startswith("jazzd") and not m.startswith("jazzd.grammar"))
    assert not outside, f"{name} imports {outside}"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_packages_import_only_what_they_may(name):
    allowed = ALLOWED.get(_package(name))
    if allowed is None:
        return
    mine = _package(name)
    used = {_package(m) for m in _project_edges(name)} - {mine, "jazzd"}
    assert used <= allowed, f"{name} ({mine}) imports {sorted(used - allowed)}"


def test_heavy_libraries_stay_in_training_evaluation_and_bench():
    offenders = {}
    for name in MODULES:
        if _package(name) in ("jazzd.train", "jazzd.bench", "jazzd.evaluation") or \
                name == "jazzd.offline.piano_roll":
            continue
        heavy = sorted(m for m in IMPORTS[name] if m.split(".")[0] in HEAVY)
        if heavy:
            offenders[name] = heavy
    assert not offenders


def test_commands_do_not_import_each_other():
    commands = {m for m in MODULES if m.startswith("jazzd.commands.")}
    for name in commands:
        assert not (_project_edges(name) & commands), name


def test_daemon_is_sub_packages_with_few_loose_modules():
    subpackages = [p for p in (REPO / "daemon").iterdir()
                   if p.is_dir() and (p / "__init__.py").exists()]
    loose = [p for p in (REPO / "daemon").glob("*.py")]
    assert len(subpackages) >= 4, subpackages
    assert len(loose) <= 6, loose


def test_no_generic_top_level_names_are_installed():
    """pyproject maps everything under `jazzd`; nothing else is a package."""
    text = (REPO / "pyproject.toml").read_text()
    packages = text.split("packages = [", 1)[1].split("]", 1)[0]
    names = [p.strip().strip('"') for p in packages.replace("\n", " ").split(",") if p.strip()]
    assert names and all(n == "jazzd" or n.startswith("jazzd.") for n in names), names
    declared = set(names)
    on_disk = {_package(m) for m in MODULES} | {"jazzd"}
    assert on_disk <= declared, f"packages missing from pyproject: {on_disk - declared}"
    assert os.path.isdir(REPO / "daemon" / "models" / "default")


def test_only_the_commands_import_the_daemon():
    """The daemon assembles the components; none of them reaches back into it."""
    importers = [m for m in MODULES if "jazzd.live.daemon" in IMPORTS[m]
                 and not m.startswith("jazzd.commands.")]
    assert not importers, importers


def _daemon_handed_over(tree):
    """Calls in the source that pass the whole object `self` of class Daemon on."""
    out = []
    for cls in (n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Daemon"):
        for call in (n for n in ast.walk(cls) if isinstance(n, ast.Call)):
            args = list(call.args) + [k.value for k in call.keywords]
            if any(isinstance(a, ast.Name) and a.id == "self" for a in args):
                out.append(ast.unparse(call)[:60])
    return out


def test_no_component_receives_the_daemon_object():
    """Each component gets the collaborators it needs (what a reload swaps, as a
    callable that returns the current one), not the daemon to reach into."""
    tree = ast.parse((REPO / "daemon" / "live" / "daemon.py").read_text())
    assert _daemon_handed_over(tree) == []
    old = ast.parse("class Daemon:\n    def start(self):\n        d = Dispatcher(self)\n")
    assert _daemon_handed_over(old) == ["Dispatcher(self)"]     # the check can fail


MAX_FILE_LINES = 500
MAX_FUNCTION_LINES = 80


def test_no_module_over_500_lines():
    """Small modules with one job each."""
    long = {name: n for name, path in MODULES.items()
            if (n := len(path.read_text().splitlines())) > MAX_FILE_LINES}
    assert not long, long


def test_no_function_over_80_lines():
    """A function that long does several jobs (a table of data is not a function)."""
    long = []
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > MAX_FUNCTION_LINES:
                    long.append(f"{name}.{node.name}: {n} lines")
    assert not long, long
