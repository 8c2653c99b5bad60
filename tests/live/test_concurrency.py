"""Real parallel requests against `smartvillage serve` (2 workers): races that must not
approve unseen data, neighbours that must not conflict, publishers that must queue."""

import asyncio
import copy
from collections import Counter
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import text

from api.seed.demo import BASE_VALUES
from tests.live.conftest import COMMUNE, VILLAGES, Live

V = "/api/v1"
ROUNDS = 100
RACE_PERIODS = ("2025Q1", "2025Q2")


def _values(fibre: int) -> dict[str, Any]:
    return {**BASE_VALUES, "households_with_fibre": fibre}


async def _race_round(
    client: httpx.AsyncClient, live: Live, village: str, period: str, use_if_match: bool
) -> str:
    """PUT revision n, then approve n while the head PUTs n+1; returns which won."""
    path = f"{V}/villages/{village}/submissions/{period}"
    head = live.heads[village]
    first = await client.put(path, json={"values": _values(150)}, headers=head)
    assert first.status_code in (200, 201), first.text
    seen = await client.get(path, headers=live.reviewer)
    etag, seen_revision = seen.headers["etag"], seen.json()["revision"]
    review_headers = {**live.reviewer, **({"If-Match": etag} if use_if_match else {})}
    approve, edit = await asyncio.gather(
        client.post(f"{path}/approve", headers=review_headers),
        client.put(path, json={"values": _values(151 + seen_revision)}, headers=head),
    )
    final = (await client.get(path, headers=live.reviewer)).json()
    for answer in (approve, edit):
        assert answer.status_code < 500, answer.text
    if approve.status_code == 200:
        approved = approve.json()
        assert (final["status"], final["revision"]) == ("approved", approved["revision"])
        await _reopen(client, live, path)
        if edit.status_code == 200:  # the edit landed first; approved what the answer says
            assert not use_if_match, "an If-Match approval applied to a revision never seen"
            assert approved["revision"] == seen_revision + 1
            return "edit first, then approved (no If-Match)"
        assert approved["revision"] == seen_revision
        assert edit.status_code == 409, edit.text
        return "approve first"
    assert approve.status_code == 412, approve.text
    assert edit.status_code == 200, edit.text
    assert final["status"] == "submitted"
    assert final["revision"] == seen_revision + 1
    return "edit first, approval refused (412)"


async def _reopen(client: httpx.AsyncClient, live: Live, path: str) -> None:
    reopened = await client.post(f"{path}/reopen", headers=live.reviewer)
    assert reopened.status_code == 200, reopened.text


def test_approve_racing_an_edit_never_approves_unseen(live: Live) -> None:
    async def run() -> Counter[str]:
        outcomes: Counter[str] = Counter()
        async with httpx.AsyncClient(base_url=live.base_url, timeout=60) as client:
            for n in range(ROUNDS):
                village = VILLAGES[n % len(VILLAGES)]
                period = RACE_PERIODS[n // len(VILLAGES) % len(RACE_PERIODS)]
                outcomes[await _race_round(client, live, village, period, n % 2 == 0)] += 1
        return outcomes

    outcomes = asyncio.run(run())
    print(f"\napprove vs edit, {ROUNDS} rounds: {dict(outcomes)}")
    assert sum(outcomes.values()) == ROUNDS
    _assert_audit_names_the_approved_revisions(live)


def _assert_audit_names_the_approved_revisions(live: Live) -> None:
    """Every approval's audit row names the revision that was current when it applied."""
    stmt = text(
        "SELECT a.after, (SELECT max(r.revision) FROM submission_revision r "
        " JOIN submission s ON s.id = r.submission_id JOIN unit u ON u.id = s.village_id "
        " WHERE u.code = a.unit_code AND s.period = a.period AND r.submitted_at <= a.at) "
        "FROM audit_event a WHERE a.action = 'submission.approve'"
    )
    with live.engine.connect() as conn:
        rows = conn.execute(stmt).all()
    assert rows, "no approval was audited"
    for after, current in rows:
        after = after if isinstance(after, dict) else __import__("json").loads(after)
        assert after["revision"] == current, (after, current)


def test_fifty_neighbours_saving_at_once_all_succeed_and_roll_up_exactly(live: Live) -> None:
    async def run() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=live.base_url, timeout=60) as client:
            return await asyncio.gather(
                *(
                    client.put(
                        f"{V}/villages/{code}/submissions/2025Q3",
                        json={"values": _values(140 + n)},
                        headers=live.heads[code],
                    )
                    for n, code in enumerate(VILLAGES)
                )
            )

    answers = asyncio.run(run())
    statuses = Counter(a.status_code for a in answers)
    print(f"\n50 neighbours at once: {dict(statuses)}")
    assert statuses == Counter({201: len(VILLAGES)})
    summary = httpx.get(
        f"{live.base_url}{V}/units/{COMMUNE}/summary?period=2025Q3", headers=live.reviewer
    ).json()
    assert summary["villages_reported"] == len(VILLAGES)
    assert _stored_rollups(live, "2025Q3") == _recounted_rollups(live, "2025Q3")
    assert summary["indicators"]
    assert {i["villages"] for i in summary["indicators"]} == {len(VILLAGES)}


ROLLUP_COLUMNS = "indicator_code, villages, passed, value_sum, approved_villages, approved_passed"


def _stored_rollups(live: Live, period: str) -> dict[str, tuple[Any, ...]]:
    stmt = text(f"SELECT {ROLLUP_COLUMNS} FROM indicator_rollup WHERE period = :p AND villages > 0")
    with live.engine.connect() as conn:
        return {r[0]: _normal(r[1:]) for r in conn.execute(stmt, {"p": period})}


def _recounted_rollups(live: Live, period: str) -> dict[str, tuple[Any, ...]]:
    approved = "CASE WHEN s.submission_status = 'approved' THEN 1 ELSE 0 END"
    passed = "CASE WHEN f.passed THEN 1 ELSE 0 END"
    stmt = text(
        f"SELECT f.indicator_code, count(*), sum({passed}), sum(f.value), sum({approved}), "
        f"sum({approved} * {passed}) FROM score_indicator f "
        "JOIN score s ON s.submission_id = f.submission_id "
        "WHERE f.period = :p GROUP BY f.indicator_code"
    )
    with live.engine.connect() as conn:
        return {r[0]: _normal(r[1:]) for r in conn.execute(stmt, {"p": period})}


def _normal(row: Any) -> tuple[Any, ...]:
    return tuple(Decimal(str(v)).quantize(Decimal("0.0001")) for v in row)


def _next_version(live: Live, version: int) -> dict[str, Any]:
    from tests.api.conftest import reference_document

    document = copy.deepcopy(reference_document())
    document["version"] = version
    created = httpx.post(f"{live.base_url}{V}/criteria-sets", json=document, headers=live.admin)
    assert created.status_code == 201, created.text
    return document


def test_publishing_one_draft_twice_at_once_is_200_then_409(live: Live) -> None:
    _next_version(live, 2)
    path = f"{V}/criteria-sets/ttm-reference/versions/2/publish"

    async def run() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=live.base_url, timeout=120) as client:
            return await asyncio.gather(*(client.post(path, headers=live.admin) for _ in range(2)))

    statuses = sorted(a.status_code for a in asyncio.run(run()))
    print(f"\ntwo admins publishing one draft: {statuses}")
    assert statuses == [200, 409]


def test_publishing_two_versions_at_once_both_succeed(live: Live) -> None:
    for version in (3, 4):
        _next_version(live, version)

    async def run() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=live.base_url, timeout=120) as client:
            return await asyncio.gather(
                *(
                    client.post(f"{V}/criteria-sets/ttm-reference/versions/{v}/publish",
                                headers=live.admin)
                    for v in (3, 4)
                )
            )  # fmt: skip

    answers = asyncio.run(run())
    assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
    assert _stored_rollups(live, "2025Q3") == _recounted_rollups(live, "2025Q3")
