"""hexa_mm.utils holds leaves: they import nothing of the package but each
other, so no import circle runs through them."""
import ast
from pathlib import Path

import pytest

UTILS = Path(__file__).resolve().parents[2] / 'hexa_mm' / 'utils'


def package_imports(path: Path) -> list:
    """The hexa_mm modules a file imports, anywhere in it.

    Args:
        path (Path): A module of hexa_mm.utils.

    Returns:
        list[str]: Absolute module names (relative imports resolved).
    """
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                parts = ['hexa_mm', 'utils'][:3 - node.level]
                found.append('.'.join(parts + [node.module or '']))
            elif node.module.split('.')[0] == 'hexa_mm':
                found.append(node.module)
        elif isinstance(node, ast.Import):
            found += [
                a.name for a in node.names if a.name.startswith('hexa_mm')
            ]
    return found


@pytest.mark.parametrize(
    'path', sorted(UTILS.glob('*.py')), ids=lambda p: p.name)
def test_a_utility_imports_only_utilities(path: Path) -> None:
    outside = [
        name for name in package_imports(path)
        if not name.startswith('hexa_mm.utils')
    ]
    assert not outside, f'{path.name} imports {outside}'


def test_the_check_sees_an_import_of_the_package(tmp_path: Path) -> None:
    module = tmp_path / 'bad.py'
    module.write_text(
        'def f():\n    from ..engine import checkpoint\n'
        'from hexa_mm.models import MoCoV2\nfrom .errors import X\n')
    assert sorted(package_imports(module)) == [
        'hexa_mm.engine', 'hexa_mm.models', 'hexa_mm.utils.errors'
    ]
