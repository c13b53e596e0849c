"""The fault proxy as one slow link (bench/slowlink.py): a token bucket shared by every
connection, and every open connection cut at once."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from tests.e2e.test_faultproxy import echo_server, roundtrip
from tests.support.faultproxy import FaultProxy, Link, TokenBucket

__all__ = ["echo_server"]  # the fixture, used here by name


def test_the_bucket_paces_every_caller_together() -> None:
    bucket = TokenBucket(100_000, burst=1_000)
    start = time.monotonic()
    threads = [threading.Thread(target=lambda: [bucket.take(1_000) for _ in range(10)])
               for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # 20,000 bytes at 100,000 bytes/s, less the first burst: two takers share one rate.
    assert time.monotonic() - start >= 0.18


def test_the_bucket_refuses_a_rate_of_nothing() -> None:
    with pytest.raises(ValueError):
        TokenBucket(0)


def test_a_link_is_shared_by_all_connections(echo_server: tuple[str, int]) -> None:
    with FaultProxy(echo_server, link=Link.symmetric(200_000)) as proxy:
        results: list[bytes] = []
        start = time.monotonic()
        threads = [threading.Thread(target=lambda: results.append(
            roundtrip(proxy.port, b"s" * 40_000))) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        # 80 KB up through one 200 KB/s bucket (and back through the other): not 40 KB each.
        assert time.monotonic() - start >= 0.35
        assert results == [b"s" * 40_000] * 2
        assert (proxy.stats.bytes_up, proxy.stats.bytes_down) == (80_000, 80_000)


def test_cut_all_resets_every_open_connection(echo_server: tuple[str, int]) -> None:
    with FaultProxy(echo_server) as proxy:
        socks = [socket.create_connection(("127.0.0.1", proxy.port), timeout=5)
                 for _ in range(3)]
        for sock in socks:  # each connection is open end to end
            sock.sendall(b"ping")
            assert sock.recv(4) == b"ping"
        assert proxy.cut_all() == 3
        for sock in socks:
            with sock, pytest.raises(OSError):
                sock.sendall(b"x")
                if not sock.recv(1):
                    raise ConnectionResetError("closed")
        assert proxy.stats.cuts == 6  # both ends of each
        assert roundtrip(proxy.port, b"again") == b"again"  # the link is straight back
