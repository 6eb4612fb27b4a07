"""hexa_mm.testing.free_port: one slice of ports per xdist worker, below the
ports the kernel hands out by itself."""
import socket

import pytest

from hexa_mm.testing import free_port
from hexa_mm.testing.ports import port_range


def ephemeral_start() -> int:
    with open('/proc/sys/net/ipv4/ip_local_port_range') as file:
        return int(file.read().split()[0])


@pytest.mark.parametrize('workers', [1, 2, 3, 8])
def test_the_workers_ranges_are_disjoint_and_below_the_kernels(
        workers: int) -> None:
    ranges = [port_range(f'gw{index}', workers) for index in range(workers)]
    ports = [port for each in ranges for port in each]
    assert len(set(ports)) == len(ports)
    assert all(len(each) >= 1000 for each in ranges)
    assert max(ports) < ephemeral_start()
    assert min(ports) >= 1024


def test_no_xdist_is_worker_0_of_1() -> None:
    assert port_range('', 1) == port_range('gw0', 1)
    assert port_range('master', 1) == port_range('gw0', 1)


def test_free_port_is_in_this_workers_range_and_free(monkeypatch) -> None:
    monkeypatch.setenv('PYTEST_XDIST_WORKER', 'gw1')
    monkeypatch.setenv('PYTEST_XDIST_WORKER_COUNT', '2')
    ports = {free_port() for _ in range(20)}
    assert ports <= set(port_range('gw1', 2))
    assert len(ports) > 1  # drawn at random, not a fixed sequence
    for port in ports:
        with socket.socket() as sock:
            sock.bind(('', port))


def test_a_busy_port_is_never_given(monkeypatch) -> None:
    monkeypatch.setattr('hexa_mm.testing.ports.port_range',
                        lambda worker, workers: range(40000, 40002))
    with socket.socket() as sock:
        sock.bind(('', 40000))
        sock.listen()
        assert {free_port() for _ in range(10)} == {40001}


def test_no_free_port_is_an_error(monkeypatch) -> None:
    with socket.socket() as sock:
        sock.bind(('', 0))
        sock.listen()
        busy = sock.getsockname()[1]
        monkeypatch.setattr('hexa_mm.testing.ports.port_range',
                            lambda worker, workers: range(busy, busy + 1))
        with pytest.raises(RuntimeError, match='no free port'):
            free_port()
