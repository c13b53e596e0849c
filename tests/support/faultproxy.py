"""A fault-injecting TCP proxy for end-to-end tests: cuts, delays and throttles real connections.

It listens on 127.0.0.1 only and forwards each accepted connection to one target. What happens
to a connection is decided when it is accepted, by ``fault_for(n)`` (n counts connections from
0), so a test can script "the first push loses its answer, the rest pass" or draw random cut
offsets from a seeded generator.

A :class:`Link` (one :class:`TokenBucket` per direction, shared by every connection) makes the
proxy a slow link as a whole, the way a village uplink is shared by all of a laptop's requests;
``cut_all`` drops every open connection at once (the link going down for a moment). With
``record=True`` it keeps what each connection carried each way (:class:`Transcript`), for tests
that look at the bytes on the wire.
"""

from __future__ import annotations

import contextlib
import random
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

_CHUNK = 16 * 1024
#: Bytes forwarded at a time through a :class:`Link`: small, so the shaping is smooth.
_LINK_PIECE = 4 * 1024


@dataclass(frozen=True)
class Fault:
    """What to do to one connection. Offsets count bytes forwarded in that direction."""

    cut_upstream_after: int | None = None  # client -> server bytes before the cut
    cut_downstream_after: int | None = None  # server -> client bytes before the cut
    delay: float = 0.0  # seconds before each forwarded chunk
    throttle_bps: int | None = None  # bytes per second in each direction
    refuse: bool = False  # accept, then reset at once: "the link is down"


PASS = Fault()


def random_cuts(seed: int, max_offset: int, probability: float = 1.0) -> Callable[[int], Fault]:
    """A plan cutting each connection (with ``probability``) at a random offset and direction."""
    rng = random.Random(seed)
    lock = threading.Lock()

    def plan(_: int) -> Fault:
        with lock:
            if rng.random() >= probability:
                return PASS
            offset = rng.randrange(0, max_offset)
            if rng.random() < 0.5:
                return Fault(cut_upstream_after=offset)
            return Fault(cut_downstream_after=offset)

    return plan


class TokenBucket:
    """At most ``rate`` bytes per second, over every caller together, with bursts up to ``burst``.

    :meth:`take` reserves its bytes at once (the tokens may go below zero) and sleeps until they
    are paid for, so callers are served in the order they asked and none starves.
    """

    def __init__(self, rate: float, burst: int = _LINK_PIECE) -> None:
        if rate <= 0 or burst <= 0:
            raise ValueError("rate and burst must be positive")
        self.rate = float(rate)
        self.burst = burst
        self._tokens = float(burst)
        self._stamp = time.monotonic()
        self._lock = threading.Lock()

    def take(self, size: int) -> None:
        """Wait until ``size`` more bytes may go."""
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            self._tokens -= size
            wait = -self._tokens / self.rate if self._tokens < 0 else 0.0
        if wait > 0:
            time.sleep(wait)


@dataclass(frozen=True)
class Link:
    """A shared link: one token bucket for client -> server bytes, one for the way back."""

    up: TokenBucket
    down: TokenBucket

    @classmethod
    def symmetric(cls, rate: float, burst: int = _LINK_PIECE) -> Link:
        """``rate`` bytes per second in each direction."""
        return cls(TokenBucket(rate, burst), TokenBucket(rate, burst))


@dataclass
class Stats:
    """What the proxy did, for assertions."""

    connections: int = 0
    cuts: int = 0
    bytes_up: int = 0
    bytes_down: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **counts: int) -> None:
        with self._lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)


@dataclass
class Transcript:
    """The bytes one connection carried: client -> server (``up``) and back (``down``)."""

    up: bytearray = field(default_factory=bytearray)
    down: bytearray = field(default_factory=bytearray)


class FaultProxy:
    """Forward 127.0.0.1:<port> to ``target`` while applying a :class:`Fault` per connection."""

    def __init__(
        self,
        target: tuple[str, int],
        fault_for: Callable[[int], Fault] = lambda _: PASS,
        link: Link | None = None,
        *,
        record: bool = False,
    ) -> None:
        self.target = target
        self.fault_for = fault_for
        #: Shared by every connection (may be set or changed while the proxy runs).
        self.link = link
        self.stats = Stats()
        #: With ``record``: one transcript per connection, in the order they were accepted.
        self.transcripts: list[Transcript] | None = [] if record else None
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port: int = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> FaultProxy:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def start(self) -> None:
        """Start accepting connections in a background thread."""
        thread = threading.Thread(target=self._accept_loop, name="faultproxy", daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self) -> None:
        """Stop accepting, reset every open connection and wait for the threads."""
        self._stop.set()
        self._listener.close()
        with self._open_lock:
            for sock in list(self._open):
                _reset(sock)
        for thread in self._threads:
            thread.join(timeout=5)

    def cut_all(self) -> int:
        """Reset every connection open right now (a link that drops mid-transfer); return how
        many connections were open."""
        with self._open_lock:
            for sock in list(self._open):
                _reset(sock)
                self.stats.add(cuts=1)
            return len(self._open) // 2

    def _accept_loop(self) -> None:
        index = 0
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            fault = self.fault_for(index)
            index += 1
            self.stats.add(connections=1)
            transcript = None
            if self.transcripts is not None:
                transcript = Transcript()
                self.transcripts.append(transcript)
            thread = threading.Thread(target=self._serve, args=(client, fault, transcript),
                                      daemon=True)
            thread.start()
            self._threads.append(thread)

    def _serve(self, client: socket.socket, fault: Fault,
               transcript: Transcript | None = None) -> None:
        if fault.refuse:
            self.stats.add(cuts=1)
            _reset(client)
            return
        try:
            upstream = socket.create_connection(self.target, timeout=10)
        except OSError:
            _reset(client)
            return
        for sock in (client, upstream):
            sock.settimeout(None)
        with self._open_lock:
            self._open.update((client, upstream))
        done = threading.Event()
        pumps = [
            threading.Thread(
                target=self._pump,
                args=(client, upstream, fault.cut_upstream_after, fault, "bytes_up", done,
                      None if transcript is None else transcript.up),
                daemon=True,
            ),
            threading.Thread(
                target=self._pump,
                args=(upstream, client, fault.cut_downstream_after, fault, "bytes_down", done,
                      None if transcript is None else transcript.down),
                daemon=True,
            ),
        ]
        for pump in pumps:
            pump.start()
        for pump in pumps:
            pump.join()
        with self._open_lock:
            self._open.difference_update((client, upstream))
        for sock in (client, upstream):
            sock.close()

    def _pump(
        self,
        source: socket.socket,
        sink: socket.socket,
        cut_after: int | None,
        fault: Fault,
        counter: str,
        done: threading.Event,
        kept: bytearray | None = None,
    ) -> None:
        sent = 0
        try:
            while not done.is_set():
                link = self.link
                data = source.recv(_LINK_PIECE if link else _CHUNK)
                if not data:
                    sink.shutdown(socket.SHUT_WR)
                    return
                if cut_after is not None and sent + len(data) >= cut_after:
                    sink.sendall(data[: cut_after - sent])
                    if kept is not None:
                        kept += data[: cut_after - sent]
                    self.stats.add(cuts=1, **{counter: cut_after - sent})
                    done.set()
                    _reset(source)
                    _reset(sink)
                    return
                self._pace(len(data), fault)
                if link is not None:
                    (link.up if counter == "bytes_up" else link.down).take(len(data))
                sink.sendall(data)
                if kept is not None:
                    kept += data
                sent += len(data)
                self.stats.add(**{counter: len(data)})
        except OSError:
            done.set()
            _reset(source)
            _reset(sink)

    @staticmethod
    def _pace(size: int, fault: Fault) -> None:
        if fault.delay:
            time.sleep(fault.delay)
        if fault.throttle_bps:
            time.sleep(size / fault.throttle_bps)


def _reset(sock: socket.socket) -> None:
    """Close with RST (SO_LINGER 0): the peer sees a broken connection, not a clean end."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()
