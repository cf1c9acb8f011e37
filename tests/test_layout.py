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
