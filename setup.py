"""Install hexa_mm: ``pip install -e .`` (see the Makefile for the stack)."""
import os.path as osp

from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))


def read_requirements(name: str) -> list:
    """Requirement lines of ``requirements/{name}.txt``.

    Args:
        name (str): The file's stem.

    Returns:
        list[str]: The requirements, comments dropped.
    """
    with open(osp.join(HERE, 'requirements', f'{name}.txt')) as f:
        lines = [line.split('#')[0].strip() for line in f]
    return [line for line in lines if line]


def version() -> str:
    """The version in ``hexa_mm/version.py``.

    Returns:
        str: The version.
    """
    scope: dict = {}
    with open(osp.join(HERE, 'hexa_mm', 'version.py')) as f:
        exec(f.read(), scope)
    return scope['__version__']


setup(
    name='hexa_mm',
    version=version(),
    description='Self-supervised visual pre-training with hard examples '
    '(HEXA), OpenMMLab style',
    packages=find_packages(include=['hexa_mm', 'hexa_mm.*']),
    python_requires='>=3.9',
    install_requires=read_requirements('runtime'),
    extras_require=dict(
        mim=read_requirements('mminstall'),
        tests=read_requirements('tests'),
        optional=read_requirements('optional')),
    license='Apache License 2.0',
    zip_safe=False)
