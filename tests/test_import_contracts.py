"""The layers: store/ at the bottom, adapters/ on it, tui/ on top; textual only in tui/.

Checked twice: statically over every import statement (lazy imports inside
functions included), and at run time in a fresh interpreter that imports
every module (imports made by third-party code included).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# package -> top-level names it must never import
FORBIDDEN = {
    "store": ("textual", "tui", "adapters"),
    "adapters": ("textual", "tui"),
}


def modules_of(package: str) -> list[str]:
    return sorted(".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
                  for path in (ROOT / package).rglob("*.py"))


def imported_names(path: Path, root: Path) -> list[tuple[int, str]]:
    """Every module an import statement in `path` names, relative imports resolved."""
    module = ".".join(path.relative_to(root).with_suffix("").parts)
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            names.append((node.lineno, ".".join([*base, *([node.module] if node.module else [])])))
    return sorted(names)


def violations(package: str, root: Path = ROOT) -> list[str]:
    found = []
    for path in sorted((root / package).rglob("*.py")):
        for line, name in imported_names(path, root):
            if name.split(".")[0] in FORBIDDEN[package]:
                found.append(f"{path.relative_to(root)}:{line} imports {name}")
    return found


@pytest.mark.parametrize("package", FORBIDDEN)
def test_no_import_statement_crosses_a_layer(package):
    assert violations(package) == []


def test_the_static_check_sees_lazy_and_relative_imports(tmp_path):
    """A check that cannot fail proves nothing: plant each kind of violation and see it reported."""
    (tmp_path / "store").mkdir()
    (tmp_path / "store" / "__init__.py").write_text("")
    (tmp_path / "store" / "bad.py").write_text(
        "import os\n\ndef later():\n    from textual.app import App\n    import tui.cli\n    return App\n"
        "from adapters import base\n")
    (tmp_path / "store" / "sub").mkdir()
    (tmp_path / "store" / "sub" / "rel.py").write_text("from ...adapters import base\nfrom .. import db\n")
    assert violations("store", tmp_path) == [
        "store/bad.py:4 imports textual.app", "store/bad.py:5 imports tui.cli", "store/bad.py:7 imports adapters",
        "store/sub/rel.py:1 imports adapters"]


RUNTIME = """
import importlib, json, sys
for name in sys.argv[2:]:
    importlib.import_module(name)
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules} & set(sys.argv[1].split(",")))))
"""


@pytest.mark.parametrize("package", FORBIDDEN)
def test_importing_every_module_loads_no_higher_layer(package):
    result = subprocess.run([sys.executable, "-c", RUNTIME, ",".join(FORBIDDEN[package]), *modules_of(package)],
                            capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []


def test_the_console_starts_without_importing_aiohttp():
    """aiohttp costs ~0.1 s of cold start; only a console with network accounts should pay it.

    The leader, runner and sender are imported at start, so their retry helpers live in
    adapters/retry.py, apart from adapters/http.py.
    """
    code = "import sys, tui.cli, tui.app; print('aiohttp' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert result.stdout.strip() == "False"


def test_the_console_starts_without_loading_signal_models_or_rule_matching():
    """Language and sentiment models and their libraries load with the first batch, in the helper
    process, not on the console's start path (nor the helper's multiprocessing machinery)."""
    code = ("import sys, tui.cli, tui.app; from tui.settings import build_settings; "
            "tui.cli.triage_for(build_settings({}, environ={})); "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'lingua', 'vaderSentiment', 'textblob', "
            "'textblob_fr', 'nltk', 'multiprocessing'}))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert result.stdout.strip() == "[]"
