"""A throw-away PostgreSQL cluster on a free 127.0.0.1 port, started and stopped at will.

The fault tests stop and start the database under a running API, so they own a cluster of
their own (never the server on 5432). initdb and postgres refuse to run as root: as root,
they run as the `postgres` OS user, in a temporary folder that user owns.
"""

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from tests.served import free_port

PG_BIN_GLOB = "/usr/lib/postgresql/*/bin"


def find_pg_bin() -> Path | None:
    """The folder holding initdb, pg_ctl and pg_isready, if PostgreSQL's server is installed."""
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).resolve().parent
    for folder in sorted(glob.glob(PG_BIN_GLOB), reverse=True):
        if (Path(folder) / "initdb").exists():
            return Path(folder)
    return None


class Cluster:
    """One PostgreSQL cluster: `init()` once, then `start()` / `stop()` as often as needed."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="sv-fault-pg-"))
        self.datadir = self.root / "data"
        self.logfile = self.root / "postgres.log"
        self.port = free_port()
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            account = pwd.getpwnam("postgres")
            os.chown(self.root, account.pw_uid, account.pw_gid)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        command = [str(self.bindir / tool), *args]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, check=False, cwd=self.root
        )

    def _check(self, tool: str, *args: str, timeout: float = 60) -> None:
        done = self._run(tool, *args, timeout=timeout)
        if done.returncode != 0:
            log = self.logfile.read_text() if self.logfile.exists() else ""
            raise RuntimeError(f"{tool} failed: {done.stdout}{done.stderr}\n{log[-2000:]}")

    def init(self) -> None:
        self._check("initdb", "-D", str(self.datadir), "-U", "postgres", "--auth=trust",
                    "-E", "UTF8", "--no-sync", "--no-instructions")  # fmt: skip

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
        self._check("pg_ctl", "-D", str(self.datadir), "-l", str(self.logfile), "-o", options,
                    "-w", "-t", "30", "start")  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self._check("pg_ctl", "-D", str(self.datadir), "-m", mode, "-w", "-t", "30", "stop")

    def is_running(self) -> bool:
        return self._run("pg_ctl", "-D", str(self.datadir), "status").returncode == 0

    def is_ready(self) -> bool:
        """What `pg_isready` says: the server accepts connections."""
        done = self._run("pg_isready", "-h", "127.0.0.1", "-p", str(self.port), "-t", "1")
        return done.returncode == 0

    def wait_ready(self, timeout: float = 30) -> float:
        """Poll `pg_isready` until it says ready; returns that moment (time.monotonic)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.is_ready():
                return time.monotonic()
            time.sleep(0.05)
        raise TimeoutError(f"PostgreSQL on port {self.port} not ready within {timeout} s")

    def destroy(self) -> None:
        """Stop the server if it runs (fast, else immediate) and delete its files."""
        try:
            if self.datadir.exists() and self.is_running():
                try:
                    self.stop("fast")
                except (RuntimeError, subprocess.TimeoutExpired):
                    self.stop("immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
