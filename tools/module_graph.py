"""Count jaxgan's modules, its top-level modules, the import edges between modules and the lines of code.

    python tools/module_graph.py [REPO_ROOT]

What the package layout's size is measured by: one line with the counts and the five largest modules.
"""

import ast
import sys
from pathlib import Path


def modules(root: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every .py under root/jaxgan except the shipped experiment configs."""
    found = {}
    for path in (root / "jaxgan").rglob("*.py"):
        if "configs" in path.parts:
            continue
        relative = path.relative_to(root).with_suffix("")
        parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
        found[".".join(parts)] = path
    return found


def import_edges(found: dict[str, Path]) -> set[tuple[str, str]]:
    """(importer, imported) for every `from jaxgan... import ...` or `import jaxgan...` between two modules."""
    edges = set()
    for name, path in found.items():
        for node in ast.walk(ast.parse(path.read_text())):
            targets = []
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("jaxgan"):
                targets = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names if alias.name.startswith("jaxgan")]
            edges.update((name, target) for target in targets if target in found and target != name)
    return edges


def main(root: Path) -> None:
    found = modules(root)
    sizes = sorted(((len(path.read_text().splitlines()), name) for name, path in found.items()), reverse=True)
    top = [name for name in found if name.count(".") == 1]
    print(f"modules {len(found)}  top-level {len(top)}  import edges {len(import_edges(found))}  "
          f"lines {sum(size for size, _ in sizes)}  largest {sizes[:5]}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[1]))
