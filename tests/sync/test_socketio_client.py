"""sync/socketio_client.py loads python-socketio's threaded client from a list of modules, without the packages'
``__init__`` (issue 15, "Memory"). These read the pinned packages' sources and fail when an upgrade changes what
that list has to hold: a module the client imports that the list misses would load the whole package again (or
fail), and a package attribute the client reads that the loader does not set would break the live connection."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

from sync.socketio_client import CLIENT_MODULES, socketio

#: Imports inside functions, run only when asked for: the msgpack serializer, which the agent does not use.
ON_DEMAND = {"socketio.msgpack_packet"}


def source(module: str) -> ast.Module:
    spec = importlib.util.find_spec(module.partition(".")[0])
    assert spec is not None and spec.submodule_search_locations is not None
    path = Path(spec.submodule_search_locations[0], *module.split(".")[1:]).with_suffix(".py")
    return ast.parse(path.read_text(encoding="utf-8"))


def package_imports(module: str, *, top_level: bool) -> set[str]:
    """The modules of python-socketio and python-engineio that ``module`` imports: at module level (in ``try``
    blocks too), or only inside functions."""
    package = module.partition(".")[0]
    found: set[str] = set()
    tree = source(module)
    in_functions = {id(node) for fn in ast.walk(tree) if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef)
                    for node in ast.walk(fn)}
    for node in ast.walk(tree):
        if (id(node) in in_functions) == top_level:
            continue
        if isinstance(node, ast.ImportFrom) and node.level:
            found |= {f"{package}.{alias.name}" for alias in node.names} if not node.module else {
                f"{package}.{node.module}"}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
    return {name for name in found if name.partition(".")[0] in CLIENT_MODULES}


def test_the_client_modules_are_the_closure_of_what_the_client_imports() -> None:
    listed = {f"{package}.{module}" for package, modules in CLIENT_MODULES.items() for module in modules}
    closure: set[str] = set()
    todo = [f"{package}.client" for package in CLIENT_MODULES]  # where each package's ``Client`` comes from
    while todo:
        module = todo.pop()
        if module in CLIENT_MODULES:  # ``import engineio``: the package itself, bare
            continue
        closure.add(module)
        todo += package_imports(module, top_level=True) - closure
    assert closure == listed


def test_the_client_modules_import_nothing_else_of_the_packages_when_the_agent_runs() -> None:
    on_demand = set().union(*(package_imports(f"{package}.{module}", top_level=False)
                              for package, modules in CLIENT_MODULES.items() for module in modules))
    assert on_demand == ON_DEMAND


def test_the_client_modules_read_only_what_the_loader_sets_on_their_packages() -> None:
    """The loader sets ``Client``, the import system the loaded modules; the rest of ``__init__`` never runs."""
    read = {(node.value.id, node.attr) for package, modules in CLIENT_MODULES.items() for module in modules
            for node in ast.walk(source(f"{package}.{module}"))
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in CLIENT_MODULES}
    unset = {(package, name) for package, name in read if name not in {"Client", *CLIENT_MODULES[package]}}
    assert read and unset == set()
    assert socketio.Client.__module__ == "socketio.client"
