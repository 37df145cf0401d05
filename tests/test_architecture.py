"""The import graph of the project's apps, read from the source (no test or migration modules).

- Each app's core (models, querysets, policy, services...) imports only the cores of apps below
  it: no cycle between apps. Its surface (API, admin, forms, public views, URLs, commands) may
  import any core, and no core imports a surface.
- `certificates/x509` is a library under every app: it imports none of them.
- An admin module never imports an `api` module.
- `cryptography` is imported only under `certificates/x509` (and in tests).
Imports under `if TYPE_CHECKING:` load nothing at run time and are left out.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = ("pkiserver", "accounts", "orgs", "audit", "certificates", "serviceaccounts", "acmeserver")
X509 = "certificates.x509"
SURFACE = {
    "api", "admin", "forms", "public_views", "urls", "management", "wsgi", "asgi", "health", "startup",
    "settings", "middleware", "apps", "templatetags",
}  # fmt: skip


@dataclass(frozen=True)
class Import:
    source: str  # the importing module
    target: str  # the imported module (or module.name for `from module import name`)
    path: str
    line: int


def _module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports_of(path: Path, root: Path) -> list[Import]:
    module = _module_name(path, root)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[Import] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.extend(Import(module, alias.name, str(path), node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.extend(Import(module, f"{base}.{alias.name}", str(path), node.lineno) for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(), str(path)))
    return found


def project_imports(root: Path = ROOT) -> list[Import]:
    found = []
    for app in APPS:
        for path in sorted((root / app).rglob("*.py")):
            parts = path.relative_to(root).parts
            if "tests" in parts or "migrations" in parts or path.name == "conftest.py":
                continue
            found.extend(_imports_of(path, root))
    return found


def _app(module: str) -> str | None:
    top = module.split(".")[0]
    return top if top in APPS else None


def _is_x509(module: str) -> bool:
    return module == X509 or module.startswith(X509 + ".")


def _is_surface(module: str) -> bool:
    return not _is_x509(module) and any(part in SURFACE for part in module.split(".")[1:])


def core_edges(imports: list[Import]) -> dict[tuple[str, str], list[Import]]:
    """(app, app) -> the imports that make one app's core depend on another's."""
    edges: dict[tuple[str, str], list[Import]] = defaultdict(list)
    for imp in imports:
        source, target = _app(imp.source), _app(imp.target)
        if source is None or target is None or source == target:
            continue
        if _is_x509(imp.source) or _is_x509(imp.target) or _is_surface(imp.source):
            continue
        edges[(source, target)].append(imp)
    return edges


def find_cycle(edges: dict[tuple[str, str], list[Import]]) -> list[str] | None:
    graph: dict[str, set[str]] = defaultdict(set)
    for source, target in edges:
        graph[source].add(target)
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def _where(imports: list[Import]) -> list[str]:
    return [f"{imp.path.removeprefix(str(ROOT) + '/')}:{imp.line} {imp.source} -> {imp.target}" for imp in imports]


@pytest.fixture(scope="module")
def imports() -> list[Import]:
    return project_imports()


def test_apps_import_downwards_only(imports):
    edges = core_edges(imports)
    cycle = find_cycle(edges)
    if cycle:
        through = [imp for a, b in pairwise(cycle) for imp in edges[(a, b)]]
        pytest.fail(f"apps import each other: {' -> '.join(cycle)}\n" + "\n".join(_where(through)))


def test_no_core_module_imports_a_surface(imports):
    bad = [
        imp
        for imp in imports
        if _app(imp.target) and not _is_surface(imp.source) and _is_surface(imp.target) and not _is_x509(imp.source)
    ]
    assert not bad, "\n".join(_where(bad))


def test_the_x509_layer_imports_no_app(imports):
    bad = [imp for imp in imports if _is_x509(imp.source) and _app(imp.target) and not _is_x509(imp.target)]
    assert not bad, "\n".join(_where(bad))


def test_admin_modules_never_import_an_api_module(imports):
    bad = [
        imp
        for imp in imports
        if "admin" in imp.source.split(".")[1:] and _app(imp.target) and "api" in imp.target.split(".")[1:]
    ]
    assert not bad, "\n".join(_where(bad))


def test_cryptography_is_imported_only_by_the_x509_layer(imports):
    bad = [imp for imp in imports if imp.target.split(".")[0] == "cryptography" and not _is_x509(imp.source)]
    assert not bad, "\n".join(_where(bad))


# --- the checks can fail ---------------------------------------------------------------------------


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def test_a_cycle_between_apps_is_found(tmp_path):
    root = _tree(
        tmp_path,
        {
            "certificates/services.py": "from serviceaccounts.services import gate\n",
            "serviceaccounts/services.py": "from certificates.models import CertificateAuthority\n",
            "orgs/admin.py": "from certificates.api.views import pem_download\n",
            "accounts/keys.py": "if TYPE_CHECKING:\n    from orgs.models import Organization\nimport cryptography\n",
        },
    )
    found = project_imports(root)
    assert find_cycle(core_edges(found)) == ["certificates", "serviceaccounts", "certificates"]
    assert [imp.target for imp in found if imp.source == "accounts.keys"] == ["cryptography"]
    assert any("admin" in imp.source and ".api." in imp.target for imp in found)
