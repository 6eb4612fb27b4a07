"""TCP ports for the rendezvous of test runs, safe under pytest-xdist.

A port from ``bind(('', 0))`` (:func:`hexa_mm.utils.launch.free_port`) is
free when it is chosen, not when torchrun binds it a few seconds later: in
between, the kernel may hand the same port to another process asking for
one (a gloo pair, a store client, a second ``free_port``). With two xdist
workers each starting distributed runs, that other process is often the
other worker. So the tests draw their ports below the kernel's ephemeral
range (``net.ipv4.ip_local_port_range``, which the kernel never assigns by
itself), each xdist worker from a slice of its own, at random within it (two
pytest sessions on the same machine rarely draw the same port), and keep one
only if nothing listens on it.
"""
import os
import random

from ..utils.launch import check_port

__all__ = ['free_port', 'port_range']

#: The lowest port drawn (above the registered services most machines run).
LOWEST = 10000
#: How many ports :func:`free_port` tries.
DRAWS = 100
#: Where the kernel's ephemeral range starts when ``/proc`` does not say.
EPHEMERAL_START = 32768


def _ephemeral_start() -> int:
    """The first port the kernel assigns by itself (Linux), else 32768."""
    try:
        with open('/proc/sys/net/ipv4/ip_local_port_range') as file:
            return int(file.read().split()[0])
    except (OSError, ValueError, IndexError):
        return EPHEMERAL_START


def port_range(worker: str, workers: int) -> range:
    """The ports one xdist worker draws from.

    Args:
        worker (str): ``PYTEST_XDIST_WORKER`` (``gw0``, ``gw1``...); any
            other value (no xdist) is worker 0.
        workers (int): ``PYTEST_XDIST_WORKER_COUNT`` (1 without xdist).

    Returns:
        range: A slice of the ports from :data:`LOWEST` to the ephemeral
        range, the same for no two workers of a session.
    """
    index = int(worker[2:]) if worker[:2] == 'gw' and worker[2:].isdigit() \
        else 0
    workers = max(workers, index + 1)
    end = max(_ephemeral_start(), LOWEST + 1000 * workers)
    size = (end - LOWEST) // workers
    start = LOWEST + index * size
    return range(start, start + size)


def free_port() -> int:
    """A port nothing listens on now, that no other xdist worker of this
    session can be given (see the module's docstring).

    Returns:
        int: The port.

    Raises:
        RuntimeError: If :data:`DRAWS` ports drawn are all in use.
    """
    ports = port_range(os.environ.get('PYTEST_XDIST_WORKER', ''),
                       int(os.environ.get('PYTEST_XDIST_WORKER_COUNT', '1')))
    for port in random.Random().sample(ports, min(DRAWS, len(ports))):
        if check_port(port):
            return port
    raise RuntimeError(f'no free port in {ports}')
