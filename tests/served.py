"""A real `smartvillage serve` on 127.0.0.1 for live tests: spawned, awaited, stopped."""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.accounts import TEST_SECRET


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(base_url: str, *, timeout: float = 60.0, path: str = "/healthz") -> None:
    """Poll `path` until it answers 200, or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(base_url + path, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{base_url}{path} did not answer 200 within {timeout} s")


@contextmanager
def served(
    database_url: str,
    *,
    workers: int = 2,
    env: dict[str, str] | None = None,
    args: tuple[str, ...] = ("--no-demo",),
    log: Path | None = None,
    wait: bool = True,
) -> Iterator[str]:
    """Run `smartvillage serve` against `database_url`; yields its base URL."""
    port = free_port()
    environment = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SMARTVILLAGE_SECRET_KEY": TEST_SECRET,
        "SMARTVILLAGE_WEBHOOK_HOSTS": "127.0.0.1",
        "SMARTVILLAGE_LOG_LEVEL": "WARNING",
        **(env or {}),
    }
    command = [sys.executable, "-m", "api.cli", "serve", "--host", "127.0.0.1",
               "--port", str(port), "--workers", str(workers), *args]  # fmt: skip
    out = log.open("wb") if log else subprocess.DEVNULL
    proc = subprocess.Popen(command, env=environment, stdout=out, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}"
    try:
        if wait:
            wait_until_up(base_url)
        yield base_url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        if log:
            out.close()  # type: ignore[union-attr]
