"""The shape of adapters/: one folder per network, each in the registry, one LRU below tui/."""

from __future__ import annotations

import ast
from pathlib import Path

from adapters import registry

ROOT = Path(__file__).resolve().parent.parent
RUNTIME = {"runtime"}  # the folder that drives networks, not a network


def test_every_network_folder_is_one_registry_entry():
    folders = {p.name for p in (ROOT / "adapters").iterdir() if (p / "__init__.py").exists()} - RUNTIME
    assert folders == set(registry.NETWORKS)
    for network in registry.NETWORKS.values():
        assert network.module == f"adapters.{network.name}.adapter"
        if network.configurable:
            assert callable(network.builder())


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_below_tui_bounded_maps_are_cachetools_lru():
    hand_made = {}
    for layer in ("adapters", "store"):
        for path in (ROOT / layer).rglob("*.py"):
            found = _imports(path) & {"collections.OrderedDict", "textual.cache.LRUCache"}
            if found:
                hand_made[str(path.relative_to(ROOT))] = found
    assert hand_made == {}
