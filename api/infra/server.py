"""Several server processes on one address, each with a listening socket of its own.

With one socket shared by every worker (what `uvicorn --workers` does), whichever worker
is awake takes the connection, and under load one worker ends up answering nearly all of
them. Here every worker binds its own socket to the same host and port with SO_REUSEPORT,
so the kernel spreads new connections evenly across the workers' sockets. The parent only
supervises: it restarts a worker that dies, and on SIGTERM or SIGINT asks every worker to
shut down gracefully and waits for them.

This module knows processes and sockets, not the web server: what a worker runs on its
socket is the `serve` callable handed in (picklable, since workers are spawned afresh).
"""

import logging
import multiprocessing
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from multiprocessing.context import SpawnContext
from multiprocessing.process import BaseProcess
from types import FrameType

log = logging.getLogger("smartvillage.server")

Serve = Callable[[socket.socket], None]
Address = tuple[int, tuple[str, int]]  # socket family, (host, port)
BACKLOG = 2048  # uvicorn's default listen backlog
STARTUP_FAILURE = 3  # uvicorn's exit code when the app cannot start: restarting won't help
QUICK_DEATH_SECONDS = 5.0  # a worker dying sooner than this after its start is restarted...
RESTART_PAUSE_SECONDS = 1.0  # ...after this pause, so that a crashing worker cannot spin
STOP_MARGIN_SECONDS = 5.0  # beyond the graceful timeout before a worker is killed
POLL_SECONDS = 0.5  # how often the parent looks at its flags while waiting


def resolve(host: str, port: int) -> Address:
    """The family and socket address a listening socket for `host:port` binds to."""
    family, _, _, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    return family, (str(address[0]), int(address[1]))


def listening_socket(address: Address, *, listen: bool = True) -> socket.socket:
    """A TCP socket bound with SO_REUSEPORT to `address` (listening unless told not to):
    every worker's socket joins the same group, and the kernel balances among them."""
    family, sockaddr = address
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        # Inherited by accepted connections: no Nagle delay (40 ms with delayed ACKs) between
        # an answer's head and body. uvloop and asyncio set it on each connection as well.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind(sockaddr)
        if listen:
            sock.listen(BACKLOG)
    except BaseException:
        sock.close()
        raise
    return sock


def _exit_with_parent(parent: int) -> None:
    """Shut this worker down gracefully if its supervisor disappears (killed outright)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def worker_main(serve: Serve, address: Address, parent: int) -> None:
    """A worker's whole life: its own listening socket, then `serve` on it."""
    _exit_with_parent(parent)
    serve(listening_socket(address))


@dataclass
class Supervisor:
    """Keeps `workers` processes running `serve` on `address` until told to stop."""

    serve: Serve
    address: Address
    workers: int
    grace_seconds: float
    on_exit: Callable[[int], None] = lambda _pid: None
    stopping: bool = False
    processes: dict[int, BaseProcess] = field(default_factory=dict)  # by worker slot
    started_at: dict[int, float] = field(default_factory=dict)
    context: SpawnContext = field(default_factory=lambda: multiprocessing.get_context("spawn"))

    def start(self, slot: int) -> None:
        process = self.context.Process(
            target=worker_main,
            args=(self.serve, self.address, os.getpid()),
            name=f"smartvillage-worker-{slot}",
        )
        process.start()
        self.processes[slot], self.started_at[slot] = process, time.monotonic()
        log.info("worker %d started (pid %s)", slot, process.pid)

    def ask_to_stop(self, signum: int, _frame: FrameType | None) -> None:
        self.stopping = True

    def run(self) -> int:
        """Start the workers, keep them alive until SIGTERM/SIGINT, stop them; the exit code."""
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self.ask_to_stop)
        for slot in range(self.workers):
            self.start(slot)
        code = 0
        while not self.stopping and code == 0:
            code = self.tend()
        self.stop_all()
        return code

    def tend(self) -> int:
        """Wait a little for a worker to end; restart the ones that did (non-zero: give up)."""
        ended = wait([p.sentinel for p in self.processes.values()], timeout=POLL_SECONDS)
        for slot, process in list(self.processes.items()):
            if process.sentinel not in ended or self.stopping:
                continue
            process.join()
            self.on_exit(int(process.pid or 0))
            log.warning("worker %d (pid %s) ended with %s", slot, process.pid, process.exitcode)
            if process.exitcode == STARTUP_FAILURE:
                return STARTUP_FAILURE
            if time.monotonic() - self.started_at[slot] < QUICK_DEATH_SECONDS:
                time.sleep(RESTART_PAUSE_SECONDS)
            if not self.stopping:  # a signal may have come while pausing
                self.start(slot)
        return 0

    def stop_all(self) -> None:
        """SIGTERM every worker (uvicorn then finishes running requests), wait up to the
        graceful timeout and a margin, kill what is left."""
        alive = [p for p in self.processes.values() if p.is_alive()]
        for process in alive:
            if process.pid is not None:
                os.kill(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.grace_seconds + STOP_MARGIN_SECONDS
        for process in alive:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                log.warning("worker pid %s did not stop in time; killing it", process.pid)
                process.kill()
                process.join()
            self.on_exit(int(process.pid or 0))


def supervise(
    serve: Serve,
    *,
    host: str,
    port: int,
    workers: int,
    grace_seconds: float,
    on_exit: Callable[[int], None] | None = None,
) -> int:
    """Serve `host:port` from `workers` processes until SIGTERM/SIGINT; the exit code.

    The parent holds a bound (not listening) socket in the same SO_REUSEPORT group for its
    whole life: a port already taken fails here, at once, and nobody else can take the port
    while a worker restarts. It never accepts connections, only listening sockets do.
    """
    family, sockaddr = resolve(host, port)
    with listening_socket((family, sockaddr), listen=False) as reserved:
        address = (family, (sockaddr[0], int(reserved.getsockname()[1])))  # port 0: chosen now
        supervisor = Supervisor(serve, address, workers, grace_seconds)
        if on_exit is not None:
            supervisor.on_exit = on_exit
        log.info("serving http://%s:%d from %d workers", host, address[1][1], workers)
        return supervisor.run()
