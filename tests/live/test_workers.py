"""`smartvillage serve --workers 2`: each worker listens on a socket of its own
(SO_REUSEPORT), so new connections are spread across both; the parent stops them all on
SIGTERM and replaces one that dies. Which worker answered is read from the `pid` field of
the JSON access lines in the server's log."""

import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from api.infra.migrate import upgrade
from tests.accounts import TEST_SECRET
from tests.served import free_port, wait_until_up

pytestmark = pytest.mark.live

CONNECTIONS = 64
MIN_SHARE = 0.2  # of the connections, for each of the two workers
GRACEFUL_SECONDS = 10  # SERVER_LIMITS["timeout_graceful_shutdown"]
ACCESS = "smartvillage.access"
KEPT_ALIVE_REQUESTS = 20
NAGLE_SECONDS = 0.04
STARTED = re.compile(r"worker (\d+) started \(pid (\d+)\)")


@dataclass(frozen=True)
class Server:
    """A served API: its base URL, the parent process and its log."""

    base_url: str
    parent: subprocess.Popen[bytes]
    log: Path

    def lines(self) -> list[dict[str, object]]:
        text = self.log.read_text(errors="replace")
        return [json.loads(line) for line in text.splitlines() if line.startswith("{")]

    def workers(self) -> dict[int, int]:
        """The pid of each worker slot, as the supervisor last started it."""
        slots: dict[int, int] = {}
        for line in self.lines():
            if found := STARTED.fullmatch(str(line.get("message", ""))):
                slots[int(found.group(1))] = int(found.group(2))
        return slots

    def answered_by(self, since: int = 0) -> Counter[int]:
        """How many /healthz access lines each pid wrote, from the `since`-th log line."""
        access = [line for line in self.lines()[since:] if line.get("logger") == ACCESS]
        return Counter(int(str(line["pid"])) for line in access if line["route"] == "/healthz")


@contextmanager
def serve_two_workers(tmp_path: Path) -> Iterator[Server]:
    url = f"sqlite:///{tmp_path / 'workers.db'}"
    upgrade(url)
    port, log = free_port(), tmp_path / "serve.log"
    environment = {**os.environ, "DATABASE_URL": url, "SMARTVILLAGE_SECRET_KEY": TEST_SECRET,
                   "SMARTVILLAGE_LOG_LEVEL": "INFO", "SMARTVILLAGE_RATE_LIMIT": "0"}  # fmt: skip
    command = [sys.executable, "-m", "api.cli", "serve", "--host", "127.0.0.1",
               "--port", str(port), "--workers", "2", "--no-demo"]  # fmt: skip
    with log.open("wb") as out:
        parent = subprocess.Popen(command, env=environment, stdout=out, stderr=subprocess.STDOUT)
        server = Server(f"http://127.0.0.1:{port}", parent, log)
        try:
            wait_until_up(server.base_url)
            _until(lambda: len(server.workers()) == 2, "both workers started")
            yield server
        finally:
            _stop(parent, server)


def _stop(parent: subprocess.Popen[bytes], server: Server) -> None:
    workers = server.workers().values() if server.log.exists() else []
    parent.terminate()
    try:
        parent.wait(timeout=20)
    except subprocess.TimeoutExpired:
        parent.kill()
        parent.wait(timeout=5)
    for pid in workers:  # never leave a worker behind, whatever happened
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"  # a zombie has ended


def _until(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout} s: {what}")


def _new_connections(base_url: str, count: int) -> None:
    """`count` requests, each on a connection of its own."""
    for _ in range(count):
        with httpx.Client(timeout=10) as client:  # a new client: a new connection
            assert client.get(f"{base_url}/healthz").status_code == 200


def _assert_both_answer(server: Server, since: int = 0) -> Counter[int]:
    _until(lambda: server.answered_by(since).total() >= CONNECTIONS, "every access line")
    shares = server.answered_by(since)
    print(f"\n{CONNECTIONS} connections answered by worker pid: {dict(shares)}")
    assert set(shares) <= set(server.workers().values()), shares
    assert len(shares) == 2, shares
    assert min(shares.values()) >= MIN_SHARE * sum(shares.values()), shares
    return shares


def test_new_connections_are_spread_across_both_workers(tmp_path: Path) -> None:
    with serve_two_workers(tmp_path) as server:
        _new_connections(server.base_url, CONNECTIONS)
        _assert_both_answer(server)


def test_requests_on_a_kept_alive_connection_are_not_delayed(tmp_path: Path) -> None:
    """No Nagle delay: without TCP_NODELAY each answer after the first waits ~40 ms for
    the client's delayed ACK."""
    with serve_two_workers(tmp_path) as server, httpx.Client(timeout=10) as client:
        client.get(f"{server.base_url}/healthz")
        took = []
        for _ in range(KEPT_ALIVE_REQUESTS):
            started = time.perf_counter()
            assert client.get(f"{server.base_url}/healthz").status_code == 200
            took.append(time.perf_counter() - started)
        assert statistics.median(took) < NAGLE_SECONDS / 2, took


def test_sigterm_to_the_parent_stops_every_worker_gracefully(tmp_path: Path) -> None:
    with serve_two_workers(tmp_path) as server:
        workers = list(server.workers().values())
        started = time.monotonic()
        server.parent.send_signal(signal.SIGTERM)
        assert server.parent.wait(timeout=GRACEFUL_SECONDS) == 0
        took = time.monotonic() - started
        assert not [pid for pid in workers if _alive(pid)]
        finished = [line for line in server.lines() if line.get("logger") == "uvicorn.error"]
        assert sum(line["message"] == "Application shutdown complete." for line in finished) == 2
        print(f"\nSIGTERM: parent and both workers gone in {took:.1f} s")


def test_a_killed_worker_is_replaced(tmp_path: Path) -> None:
    with serve_two_workers(tmp_path) as server:
        before = server.workers()
        os.kill(before[0], signal.SIGKILL)
        _until(lambda: server.workers()[0] != before[0], "worker 0 restarted")
        replaced = server.workers()
        assert replaced[1] == before[1]
        assert not _alive(before[0])
        since = len(server.lines())

        def new_worker_answers() -> bool:
            _new_connections(server.base_url, 1)
            return replaced[0] in server.answered_by(since)

        _until(new_worker_answers, "the new worker answering")
        since = len(server.lines())
        _new_connections(server.base_url, CONNECTIONS)
        assert set(_assert_both_answer(server, since)) == set(replaced.values())


def _raw_get(base_url: str, header_bytes: int) -> bytes:
    """The start of the answer to a GET /healthz whose headers total about `header_bytes`."""
    host, port = base_url.removeprefix("http://").split(":")
    filler = b"".join(
        b"X-Filler-%d: %s\r\n" % (n, b"a" * 1000) for n in range(header_bytes // 1000)
    )
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + filler + b"\r\n")
        return sock.recv(64)


def test_a_request_head_over_64_kib_is_refused(tmp_path: Path) -> None:
    with serve_two_workers(tmp_path) as server:
        assert _raw_get(server.base_url, 60_000).startswith(b"HTTP/1.1 200")
        assert _raw_get(server.base_url, 70_000).startswith(b"HTTP/1.1 400")
