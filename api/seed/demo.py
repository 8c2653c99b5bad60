"""Demo data for a fresh database: the reference sets and one province with reported figures.

Thôn Đông (formerly xã Hoàng Tây, Hà Nam; since 07/2025 under Phường Kim Thanh, Ninh Bình)
carries the figures a 2024 newspaper account reported for it (85 % fibre, 92.5 %
smartphones, 100 % digital addresses, wifi at the cultural house, QR payment at every
outlet, 3 Zalo groups). The other villages are made up, with figures spread around the
thresholds so that rankings, gaps and summaries have something to show.
"""

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from api.core.caller import Caller
from api.services import accounts, criteria_sets, submissions
from api.services.import_common import ImportBody
from api.services.unit_import import import_units
from api.services.units import get_village
from criteria.loader import bundled_sets, load_document_file
from criteria.periods import Period, today_vn
from models.accounts import AccountRole, UserCreate
from models.scores import Score
from models.submissions import SubmissionIn
from models.units import Unit

DEMO_OPERATOR = Caller(username="demo-loader", role="admin")
PROVINCE = ("37", "Ninh Bình")
COMMUNES = {
    "13402": "Phường Kim Thanh",
    "13393": "Phường Lê Hồ",
    "13420": "Phường Tam Chúc",
    "13384": "Phường Kim Bảng",
}
HA_NAM_VILLAGE = "13402-01"
# Demo accounts exist only in demo mode; their passwords are printed by `serve`.
DEMO_ACCOUNTS: list[tuple[str, str, AccountRole, str | None]] = [
    ("admin", "demo-admin-pass", "admin", None),
    ("reviewer.ninhbinh", "demo-reviewer-pass", "reviewer", PROVINCE[0]),
    ("head.thondong", "demo-head-pass", "village_head", HA_NAM_VILLAGE),
]

# Thôn Đông as reported, with plausible passing figures for what the account did not give.
BASE_VALUES: dict[str, Any] = {
    "households_total": 200,
    "households_with_fibre": 170,
    "households_with_4g5g_coverage": 200,
    "cultural_house_wifi": True,
    "camera_points_installed": 4,
    "solar_street_lighting": True,
    "households_with_digital_address": 200,
    "tcns_team_active": True,
    "team_members": 5,
    "active_village_groups": 3,
    "households_in_group": 160,
    "village_info_qr": True,
    "cultural_house_online_meeting": True,
    "residents_working_age": 420,
    "residents_vneid_level2": 300,
    "outlets_total": 12,
    "outlets_accepting_qr": 12,
    "households_with_epayment": 184,
    "ecommerce_listings": 2,
    "digital_production_models": 1,
    "adults_total": 400,
    "adults_with_smartphone": 370,
    "residents_total": 700,
    "residents_with_ehr": 600,
}

# (code, name, changes from BASE_VALUES for the current quarter); None removes a measure.
VILLAGES: list[tuple[str, str, dict[str, Any]]] = [
    (HA_NAM_VILLAGE, "Thôn Đông", {}),
    ("13402-02", "Thôn Tây", {"households_with_fibre": 150}),
    (
        "13402-03",
        "Thôn Nam",
        {
            "households_total": 310,
            "households_with_fibre": 240,
            "households_with_4g5g_coverage": 310,
            "households_with_digital_address": 280,
            "households_in_group": 230,
            "households_with_epayment": 285,
        },
    ),
    ("13402-04", "Thôn Bắc", {"outlets_total": 0, "outlets_accepting_qr": 0}),
    ("13402-05", "Thôn Trung", {"cultural_house_wifi": False, "team_members": 2}),
    ("13393-01", "Thôn Văn Lâm", {"adults_with_smartphone": 340}),
    ("13393-02", "Thôn Bút Sơn", {"outlets_accepting_qr": 9}),
    ("13393-03", "Thôn Phù Đê", {"households_with_epayment": 150, "households_with_fibre": 120}),
    ("13393-04", "Thôn Lạc Nhuế", {"cultural_house_wifi": None}),
    ("13393-05", "Thôn Đồng Thủy", {"camera_points_installed": 0, "solar_street_lighting": False}),
    (
        "13420-01",
        "Thôn Kim Lũ",
        {
            "households_total": 95,
            "households_with_fibre": 80,
            "households_with_4g5g_coverage": 95,
            "households_with_digital_address": 95,
            "households_in_group": 70,
            "households_with_epayment": 88,
        },
    ),
    ("13420-02", "Thôn Quyết Thành", {"households_with_4g5g_coverage": 190}),
    ("13420-03", "Thôn Tân Lang", {"tcns_team_active": False, "active_village_groups": 0}),
    ("13420-04", "Thôn Đạo Truyền", {"households_with_fibre": 120, "adults_with_smartphone": 300}),
    ("13420-05", "Thôn Bồng Lạng", {}),
    ("13384-01", "Thôn Thịnh Châu", {"residents_vneid_level2": 150, "residents_with_ehr": 300}),
    ("13384-02", "Thôn Thượng", {"households_with_fibre": 159}),
    (
        "13384-03",
        "Thôn Hạ",
        {"outlets_total": 8, "outlets_accepting_qr": 8, "ecommerce_listings": 0},
    ),
    ("13384-04", "Thôn Ngọc Lũ", {"households_in_group": 100}),
    (
        "13384-05",
        "Thôn An Lão",
        {
            "households_with_fibre": 100,
            "households_with_epayment": 120,
            "adults_with_smartphone": 250,
        },
    ),
]


@dataclass
class DemoReport:
    """What `load_demo` put in the database."""

    criteria_sets: list[str] = field(default_factory=list)
    units: int = 0
    submissions: int = 0
    periods: list[str] = field(default_factory=list)
    ha_nam_status: str | None = None
    accounts: list[tuple[str, str, AccountRole, str | None]] = field(default_factory=list)


async def is_empty(session: AsyncSession) -> bool:
    """True when the database has no units (demo data goes only into such a database)."""
    return (await session.scalar(select(func.count()).select_from(Unit))) == 0


def _units_json() -> bytes:
    rows = [{"code": PROVINCE[0], "name": PROVINCE[1], "level": "province"}]
    rows += [{"code": c, "name": n, "level": "commune", "parent_code": PROVINCE[0]}
             for c, n in COMMUNES.items()]  # fmt: skip
    rows += [{"code": code, "name": name, "level": "village", "parent_code": code.split("-")[0]}
             for code, name, _ in VILLAGES]  # fmt: skip
    return json.dumps(rows, ensure_ascii=False).encode()


def _values(changes: dict[str, Any], *, earlier: bool) -> dict[str, Any]:
    values = {**BASE_VALUES, **changes}
    if earlier:  # the previous quarter: fewer households on fibre, the usual trend
        values["households_with_fibre"] = max(0, int(values["households_with_fibre"]) - 15)
    return {k: v for k, v in values.items() if v is not None}


def demo_periods(today: Any = None) -> list[Period]:
    """The previous and the current quarter (Asia/Ho_Chi_Minh)."""
    now = today or today_vn()
    current = Period(now.year, (now.month - 1) // 3 + 1)
    q = current.quarter or 1
    previous = Period(current.year - 1, 4) if q == 1 else Period(current.year, q - 1)
    return [previous, current]


async def load_demo(session: AsyncSession) -> DemoReport:
    """Publish the bundled criteria sets, import the demo province and submit its figures."""
    report = DemoReport()
    for path in bundled_sets():
        row, _ = await criteria_sets.load_and_publish(session, data=load_document_file(path))
        report.criteria_sets.append(f"{row.code} v{row.version}")
    units = ImportBody("application/json", None, _units_json())
    imported = await import_units(session, body=units, dry_run=False, actor=DEMO_OPERATOR)
    report.units = imported.created
    periods = demo_periods()
    report.periods = [str(p) for p in periods]
    operator = DEMO_OPERATOR
    for code, _name, changes in VILLAGES:
        village = await get_village(session, code=code)
        for period in periods:
            body = SubmissionIn(values=_values(changes, earlier=period != periods[-1]))
            await submissions.put(
                session, village=village, period=period, body=body, actor=operator
            )
            report.submissions += 1
    report.ha_nam_status = await _status(session, HA_NAM_VILLAGE, periods[-1])
    for username, password, role, unit in DEMO_ACCOUNTS:
        account = UserCreate(username=username, password=password, role=role, unit_code=unit)
        await accounts.create_user(session, body=account, actor=operator)
    report.accounts = DEMO_ACCOUNTS
    return report


async def _status(session: AsyncSession, village_code: str, period: Period) -> str | None:
    stmt = select(col(Score.status)).where(
        col(Score.village_code) == village_code, col(Score.period) == str(period)
    )
    status: str | None = await session.scalar(stmt)
    return status
