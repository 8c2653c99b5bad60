"""Steady mixed traffic against a served API, every answer recorded with its timing."""

import itertools
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx

from api.seed.demo import BASE_VALUES

VILLAGES = ["37-13402-DONG", "37-13402-BAC", "37-13393-01", "15-04000-01"]
PERIODS = ["2025Q1", "2025Q2", "2025Q3", "2025Q4", "2026Q1", "2026Q2"]
KEYS = [(v, p) for v in VILLAGES for p in PERIODS]


@dataclass(frozen=True)
class Answer:
    """One request: what was asked, when, and what came back (status 0: no answer)."""

    kind: str
    sent: float
    done: float
    status: int
    retry_after: str | None
    note: str | None = None
    error: str | None = None


@dataclass
class Load:
    """Sends `rate` requests a second (one PUT in three) from a thread pool until stopped."""

    base_url: str
    headers: dict[str, str]
    rate: float = 20.0
    answers: list[Answer] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _local: threading.local = field(default_factory=threading.local)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _clients: list[httpx.Client] = field(default_factory=list)

    def _client(self) -> httpx.Client:
        if not hasattr(self._local, "client"):
            # Idle connections are dropped well before the server's 5 s keep-alive ends, so
            # a reused connection is never one the server is closing at that moment.
            self._local.client = httpx.Client(
                base_url=self.base_url,
                headers=self.headers,
                timeout=15,
                limits=httpx.Limits(keepalive_expiry=2.0),
            )
            with self._lock:
                self._clients.append(self._local.client)
        client: httpx.Client = self._local.client
        return client

    def _request(self, n: int) -> tuple[str, str | None, httpx.Response]:
        # A read asks for the submission the write just before it sent.
        village, period = KEYS[(n - n % 3) // 3 % len(KEYS)]
        path = f"/api/v1/villages/{village}/submissions/{period}"
        if n % 3 == 0:
            # Values differ on every PUT of a key, so each success is a new revision.
            values = dict(BASE_VALUES, households_with_fibre=n // (3 * len(KEYS)) % 200)
            note = f"load-{n}"
            return "put", note, self._client().put(path, json={"values": values, "note": note})
        if n % 3 == 1:
            return "get", None, self._client().get(path)
        return "list", None, self._client().get("/api/v1/units", params={"limit": 5})

    def _one(self, n: int) -> None:
        sent = time.monotonic()
        try:
            kind, note, response = self._request(n)
            answer = Answer(kind, sent, time.monotonic(), response.status_code,
                            response.headers.get("retry-after"), note)  # fmt: skip
            if response.status_code >= 500:
                answer = Answer(**{**answer.__dict__, "error": response.text[:300]})
        except httpx.HTTPError as exc:
            answer = Answer("?", sent, time.monotonic(), 0, None, None, repr(exc))
        with self._lock:
            self.answers.append(answer)

    def run(self) -> None:
        """Send until `stop()`; returns when every request sent has been answered."""
        with ThreadPoolExecutor(max_workers=48) as pool:
            started = time.monotonic()
            for n in itertools.count():
                if self._stop.is_set():
                    break
                pool.submit(self._one, n)
                time.sleep(max(0.0, started + (n + 1) / self.rate - time.monotonic()))
        for client in self._clients:
            client.close()

    def stop(self) -> None:
        self._stop.set()


def status_counts(answers: list[Answer]) -> dict[str, int]:
    """Answers by status, with 503s split by whether they carried Retry-After."""
    counts: Counter[str] = Counter()
    for answer in answers:
        label = str(answer.status) if answer.status else "no answer"
        if answer.status == 503 and not answer.retry_after:
            label = "503 without Retry-After"
        counts[label] += 1
    return dict(sorted(counts.items()))


def bad_answers(answers: list[Answer]) -> list[Answer]:
    """Answers the SPEC forbids: no answer at all, or a 5xx that is not 503 + Retry-After."""
    return [
        a
        for a in answers
        if a.status == 0 or (a.status >= 500 and not (a.status == 503 and a.retry_after))
    ]


def first_success_after(answers: list[Answer], moment: float) -> float | None:
    """When the first 2xx that completed after `moment` came back."""
    times = [a.done for a in answers if 200 <= a.status < 300 and a.done >= moment]
    return min(times) if times else None


def summary(answers: list[Answer]) -> dict[str, Any]:
    return {"requests": len(answers), "by status": status_counts(answers)}


def timeline(answers: list[Answer], zero: float) -> dict[int, str]:
    """Per second since `zero` (by send time): how many answers were 2xx and 503."""
    seconds: dict[int, Counter[str]] = {}
    for answer in answers:
        label = "ok" if 200 <= answer.status < 300 else str(answer.status)
        seconds.setdefault(int(answer.sent - zero), Counter())[label] += 1
    return {
        second: " ".join(f"{k}={v}" for k, v in sorted(c.items()))
        for second, c in sorted(seconds.items())
    }
