"""The fault proxy itself does what the end-to-end tests rely on."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from tests.support.faultproxy import Fault, FaultProxy, random_cuts


@pytest.fixture
def echo_server() -> Iterator[tuple[str, int]]:
    """A TCP echo server on loopback."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        with conn:
            try:
                while data := conn.recv(65536):
                    conn.sendall(data)
            except OSError:  # the proxy cut the connection: that is the point of the test
                pass

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()
    stop.set()
    thread.join()
    listener.close()


def roundtrip(port: int, payload: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
        return received


def test_passes_bytes_through(echo_server: tuple[str, int]) -> None:
    with FaultProxy(echo_server) as proxy:
        assert roundtrip(proxy.port, b"x" * 100_000) == b"x" * 100_000
        assert proxy.stats.bytes_up == 100_000
        assert proxy.stats.cuts == 0


@pytest.mark.parametrize("fault", [Fault(cut_upstream_after=10), Fault(cut_downstream_after=10)])
def test_cuts_at_the_offset(echo_server: tuple[str, int], fault: Fault) -> None:
    with FaultProxy(echo_server, lambda _: fault) as proxy:
        try:
            received = roundtrip(proxy.port, b"y" * 50_000)
        except ConnectionResetError:
            received = b""
        assert len(received) <= 10
        assert proxy.stats.cuts == 1


def test_refuse_resets(echo_server: tuple[str, int]) -> None:
    with FaultProxy(echo_server, lambda _: Fault(refuse=True)) as proxy:
        try:
            received = roundtrip(proxy.port, b"z")
        except OSError:
            received = b""
        assert received == b""
        assert proxy.stats.connections == 1
        assert proxy.stats.cuts == 1


def test_throttle_slows_the_link(echo_server: tuple[str, int]) -> None:
    with FaultProxy(echo_server, lambda _: Fault(throttle_bps=200_000)) as proxy:
        start = time.monotonic()
        assert roundtrip(proxy.port, b"t" * 40_000) == b"t" * 40_000
        assert time.monotonic() - start >= 0.2  # 40 KB up and down at 200 KB/s


def test_random_cuts_are_reproducible() -> None:
    plan_a, plan_b = random_cuts(7, 1000), random_cuts(7, 1000)
    first = [plan_a(n) for n in range(20)]
    second = [plan_b(n) for n in range(20)]
    assert first == second
    assert any(f.cut_upstream_after is not None for f in first)
    assert any(f.cut_downstream_after is not None for f in first)
