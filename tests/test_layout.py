"""The package's shape: `priors` and `zoo` depend on nothing of `invert`'s own, and `invert` loads lazily."""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("folder", ["priors", "zoo"])
def test_priors_and_zoo_import_nothing_from_invert(folder):
    for path in sorted((ROOT / folder).glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                assert node.level <= 1, f"{path.name}: a relative import reaches outside {folder}/"
                names = [node.module or ""] if node.level == 0 else []
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            assert not any(n == "invert" or n.startswith("invert.") for n in names), f"{path.name} imports {names}"


def test_importing_priors_and_zoo_loads_no_other_invert_module():
    code = ("import sys, invert.priors, invert.zoo; "
            "print(sorted(m for m in sys.modules if m.startswith('invert.') and m.split('.')[1] not in ('priors', 'zoo')))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "[]"


def test_the_command_line_module_imports_no_torch():
    code = "import sys, invert.cli; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"


def test_the_command_line_shows_the_zoo_s_own_default_model():
    """`invert.defaults` holds what the parser shows without loading torch; zoo (which may not import from
    invert) keeps its own copy of the default model's name, and the two must agree."""
    from invert import defaults, zoo

    assert zoo.DEFAULT_MODEL == defaults.DEFAULT_MODEL


def test_the_command_line_knows_every_registered_prior():
    """The parser refuses a misspelt --prior from `defaults.BUILT_IN_PRIORS` before torch loads: it must name
    exactly the priors the package registers (a new prior's name goes there too)."""
    from invert import defaults, priors

    assert sorted(defaults.BUILT_IN_PRIORS) == priors.available()


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
