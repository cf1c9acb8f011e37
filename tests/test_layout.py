"""The package's shape: `priors` and `zoo` depend on nothing of `invert`'s but its errors, `invert` loads lazily,
its modules import each other without cycles, and each stays short enough to read."""
import ast
import importlib
import inspect
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# what `priors/` and `zoo/` may import of invert's: the one error root, itself a leaf
LEAVES = {"invert.errors"}
# the folders of the installed package `invert` (pyproject.toml's package-dir): their files are its modules
FOLDERS = {"invert": ROOT / "invert", "invert.priors": ROOT / "priors", "invert.zoo": ROOT / "zoo"}
MAX_LINES = 400


def _imported_names(tree: ast.AST) -> list[tuple[ast.stmt, list[str]]]:
    """Each import statement with the absolute module names it spells (relative ones as written, level > 0)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            found.append((node, [node.module or ""] if node.level == 0 else []))
        elif isinstance(node, ast.Import):
            found.append((node, [alias.name for alias in node.names]))
    return found


@pytest.mark.parametrize("folder", ["priors", "zoo"])
def test_priors_and_zoo_import_nothing_from_invert_but_its_errors(folder):
    for path in sorted((ROOT / folder).glob("*.py")):
        for node, names in _imported_names(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                assert node.level <= 1, f"{path.name}: a relative import reaches outside {folder}/"
            ours = [n for n in names if n == "invert" or n.startswith("invert.")]
            assert set(ours) <= LEAVES, f"{path.name} imports {ours}; only {', '.join(sorted(LEAVES))} is allowed"


def test_the_error_root_imports_nothing():
    """`invert.errors` is the leaf every package's errors derive from: importing anything could make a cycle."""
    tree = ast.parse((ROOT / "invert" / "errors.py").read_text())
    assert [names for node, names in _imported_names(tree) if names != ["__future__"]] == []


def test_importing_priors_and_zoo_loads_no_other_invert_module():
    code = ("import sys, invert.priors, invert.zoo; "
            "print(sorted(m for m in sys.modules if m.startswith('invert.') and m.split('.')[1] not in ('priors', 'zoo')))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert set(ast.literal_eval(loaded)) <= LEAVES | {"invert.threads"}  # `import invert` may prepare the threads


# classes that never reach a caller: control flow caught where it is raised
INTERNAL_SIGNALS = {"invert.zoo.layers._StopForward"}


def test_every_error_derives_from_the_one_root():
    """`except invert.errors.InvertError` catches every error the package raises on purpose."""
    import invert
    from invert.errors import InvertError

    names = [m.name for m in pkgutil.walk_packages(invert.__path__, "invert.") if not m.name.endswith("__main__")]
    strays = []
    for name in names:
        module = importlib.import_module(name)
        for cls_name, cls in inspect.getmembers(module, inspect.isclass):
            qualified = f"{name}.{cls_name}"
            if (cls.__module__ == name and issubclass(cls, BaseException) and not issubclass(cls, InvertError)
                    and qualified not in INTERNAL_SIGNALS):
                strays.append(qualified)
    assert strays == []


def test_the_command_line_module_imports_no_torch():
    code = "import sys, invert.cli; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"


def test_the_command_line_shows_the_zoo_s_own_default_model():
    """`invert.defaults` holds what the parser shows without loading torch; zoo (which may not import from
    invert) keeps its own copy of the default model's name, and the two must agree."""
    from invert import defaults, zoo

    assert zoo.DEFAULT_MODEL == defaults.DEFAULT_MODEL


def test_the_command_line_knows_every_registered_prior():
    """The parser refuses a misspelt --prior before torch loads, from the names it reads in priors/*.py: they
    must be exactly the priors the package registers."""
    from invert import defaults, priors

    assert list(defaults.registered_prior_names()) == priors.available()
    assert defaults.BUILT_IN_PRIORS == defaults.registered_prior_names()


def test_every_module_of_priors_is_imported_with_the_package():
    """A new prior is one file: importing the package imports it (and so registers it), no list to extend."""
    from invert import priors  # noqa: F401

    missing = [p.stem for p in (ROOT / "priors").glob("*.py")
               if p.stem != "__init__" and f"invert.priors.{p.stem}" not in sys.modules]
    assert missing == []


# the command line, then its exit code and which heavy modules it loaded, on the last line of stdout
MAIN_AND_REPORT = """
import sys
from invert import cli
try:
    code = cli.main(sys.argv[1:])
except SystemExit as exit_info:
    code = exit_info.code
print(code, *[name for name in ("torch", "timm", "torchvision", "numpy") if name in sys.modules])
"""


@pytest.mark.parametrize("argv, code", [
    (["restore", "denoise", "--steps", "0"], 2),
    (["preimage", "--device", "gpu"], 2),
    (["preimage", "--prior", "dip,tvv"], 2),  # a prior the package does not have
    (["maximize", "--class", "flamingoo"], 2),  # ImageNet's names are read without timm
    (["--help"], 0),
    (["preimage", "--help"], 0),
    (["restore", "--help"], 0),
    (["restore", "sr", "--help"], 0),
])
def test_help_and_a_mistyped_option_answer_without_loading_torch(argv, code):
    done = subprocess.run([sys.executable, "-c", MAIN_AND_REPORT, *argv], capture_output=True, text=True)
    assert done.stdout.splitlines()[-1] == str(code), f"exit code and modules loaded: {done.stdout.splitlines()[-1]}"
    assert len(done.stderr.splitlines()) == (1 if code else 0), done.stderr  # an error is one line


def _module_files() -> dict[str, tuple[Path, bool]]:
    """Every module of the installed package: its name, file, and whether it is a package's __init__."""
    modules = {}
    for prefix, folder in FOLDERS.items():
        for path in sorted(folder.rglob("*.py")):
            parts = path.relative_to(folder).with_suffix("").parts
            is_package = parts[-1] == "__init__"
            name = ".".join([prefix, *(parts[:-1] if is_package else parts)])
            modules.setdefault(name, (path, is_package))  # invert/priors does not exist: priors/ is the package
    return modules


def _outside_type_checking(tree: ast.AST) -> list[ast.AST]:
    """The nodes of `tree`, less the bodies of `if TYPE_CHECKING:` (imports for annotations only)."""
    nodes, todo = [], [tree]
    while todo:
        node = todo.pop()
        nodes.append(node)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            todo.extend(node.orelse)
        else:
            todo.extend(ast.iter_child_nodes(node))
    return nodes


def import_graph() -> dict[str, set[str]]:
    """Which of the package's modules each one imports, at module level or inside functions."""
    modules = _module_files()
    graph: dict[str, set[str]] = {}
    for name, (path, is_package) in modules.items():
        package = name if is_package else name.rpartition(".")[0]
        targets = set()
        for node in _outside_type_checking(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base = ".".join([*up, *([node.module] if node.module else [])])
                # `from . import x` imports the module x where there is one, else the package's name x
                targets |= {f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names}
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted; every module in one
    imports every other, directly or not."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while not component or component[-1] != node:
                component.append(stack.pop())
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def a_cycle(graph: dict[str, set[str]], component: list[str]) -> list[str]:
    """One shortest path of imports from the component's first module back to it (breadth first)."""
    start = component[0]
    paths = {target: [start, target] for target in graph[start] if target in component}
    todo = list(paths)
    while start not in paths:
        node = todo.pop(0)
        for target in sorted(graph[node]):
            if target in component and target not in paths:
                paths[target] = [*paths[node], target]
                todo.append(target)
    return paths[start]


def test_the_import_graph_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
    assert a_cycle({"a": {"b", "c"}, "b": {"c"}, "c": {"a"}}, ["a", "b", "c"]) == ["a", "c", "a"]


def test_the_package_s_modules_import_each_other_without_cycles():
    graph = import_graph()
    assert "invert.errors" in graph and graph["invert.engine"]  # the graph was built
    found = cycles(graph)
    assert not found, "import cycles:\n" + "\n".join(" → ".join(a_cycle(graph, c)) for c in found)


def test_no_module_is_too_long_to_read():
    lengths = {name: len(path.read_text().splitlines()) for name, (path, _) in _module_files().items()}
    assert {name: n for name, n in lengths.items() if n > MAX_LINES} == {}


# docs/layout.md draws these layers: a module may import from its own layer and the ones below it, never above
LAYERS = [
    ["invert.api", "invert.cli", "invert.commands"],
    ["invert.studies"],
    ["invert.operations"],
    ["invert.preimages", "invert.restoration", "invert.tasks", "invert.atlas", "invert.examples", "invert.atlas_page",
     "invert.faithfulness", "invert.scores", "invert.accentuation", "invert.codec", "invert.curves",
     "invert.attribution", "invert.camera", "invert.noises", "invert.report"],
    ["invert.objectives", "invert.transforms", "invert.direction", "invert.diversity", "invert.inversion"],
    ["invert.engine", "invert.energies", "invert.physics", "invert.stopping", "invert.memory", "invert.module_priors"],
    ["invert.priors", "invert.zoo"],
    ["invert.errors", "invert.suggest", "invert.threads", "invert.files", "invert.defaults", "invert.provenance",
     "invert.images", "invert.metrics", "invert.cell_scores", "invert.results"],
]


def _layer(module: str) -> int | None:
    return next((i for i, layer in enumerate(LAYERS) for top in layer
                 if module == top or module.startswith(top + ".")), None)


def test_every_module_imports_only_from_its_layer_and_those_below():
    graph = import_graph()
    unplaced = sorted(m for m in graph if m != "invert" and _layer(m) is None)
    assert not unplaced, f"{unplaced[0]} is in no layer of LAYERS (docs/layout.md): place it"
    upward = [f"{a} → {b}" for a, imported in graph.items() if a != "invert"
              for b in imported if b != "invert" and _layer(b) < _layer(a)]
    assert not upward, f"imports against the layers of docs/layout.md: {', '.join(sorted(upward))}"
