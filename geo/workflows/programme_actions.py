"""Records that need action (issue 16 point 3; 4182/QĐ-UBND appendix, task 3.2).

Four lists, each item naming its collection and feature id so a page links
``/collections/{collection}/items/{id}``:

- ``abolished_name``: villages whose recognition names a unit the 2025 reorganisation
  abolished, so their files must be renamed: every old district (``legacy_district``: the
  district level ended on 1/7/2025) and every old commune (``legacy_commune``) with no
  commune of the same name in the current scheme (names compared NFC, case and spacing
  normalised, within the village's present province where its commune is known). Only
  records recognised before 1/7/2025 or with no date (a recognition year of 2025 without a
  date counts: the decision may predate the reform). Revoked records are left out: their
  file is closed. The detail names what was abolished and the present commune.
- ``no_env_plan``: villages (not crafts; not lost or revoked) whose latest recorded
  ``env_plan`` (the latest ``village_stat`` year holding one, else the record's own field)
  is false, and, marked apart (``unknown`` True, its own words in the detail), those with
  none recorded anywhere.
- ``at_risk``: records whose status is ``at_risk``.
- ``expiring_certificate``: material zones whose ``certificate_expiry`` falls within
  ``expiring_within_days`` of ``today`` (that day included) or is already past; the
  detail says which, ``due`` is the expiry date. Sorted by that date.

The other lists are sorted by name, then code.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from geo.kernel import collections, vocab
from geo.kernel.errors import InvalidInput
from geo.kernel.text import date_format
from geo.store import models
from geo.store.db import Connection
from geo.workflows.indicators import LEGACY_SCHEME, name_order, normalise_name

# The district level ended and communes were merged on this day (NQ 1686/NQ-UBTVQH15).
REORGANISED_ON = dt.date(2025, 7, 1)
KINDS = tuple(kind.value for kind in vocab.ActionKind)

_village = models.table_of(models.Village)
_stat = models.table_of(models.VillageStat)
_unit = models.table_of(models.AdminUnit)
_zone = models.table_of(models.MaterialZone)


@dataclass(frozen=True)
class ActionItem:
    """One record that needs action, with a sentence in each language saying why."""

    kind: str  # vocab.ActionKind value
    collection: str  # geo.kernel.collections id of the record (villages, material-zones)
    feature_id: int
    code: str
    name: str
    detail: str  # English sentence
    detail_vi: str  # the same in Vietnamese
    due: dt.date | None  # e.g. the certificate's expiry
    unknown: bool = False  # the data the check needs is not recorded (no_env_plan)


@dataclass(frozen=True)
class ActionLists:
    """Every action list on one day, keyed by kind (every kind present, maybe empty)."""

    today: dt.date
    lists: dict[str, list[ActionItem]]


def records_needing_action(
    conn: Connection, *, today: dt.date, expiring_within_days: int = 180
) -> ActionLists:
    """The four action lists as of ``today`` (see the module's rules)."""
    if not 0 <= expiring_within_days <= 3650:
        raise InvalidInput("expiring_within_days must be from 0 to 3650")
    lists = {
        vocab.ActionKind.ABOLISHED_NAME.value: _by_name(_abolished_names(conn)),
        vocab.ActionKind.NO_ENV_PLAN.value: _by_name(_no_env_plan(conn)),
        vocab.ActionKind.AT_RISK.value: _by_name(_at_risk(conn)),
        vocab.ActionKind.EXPIRING_CERTIFICATE.value: _expiring(conn, today, expiring_within_days),
    }
    return ActionLists(today=today, lists=lists)


def actions_document(actions: ActionLists) -> dict[str, Any]:
    """The lists as plain JSON-ready values (dates as ISO text)."""
    return {
        "today": actions.today.isoformat(),
        "lists": {
            kind: [
                {**dataclasses.asdict(item), "due": item.due.isoformat() if item.due else None}
                for item in items
            ]
            for kind, items in actions.lists.items()
        },
    }


def _by_name(items: Iterable[ActionItem]) -> list[ActionItem]:
    return sorted(items, key=lambda item: (name_order(item.name), item.code))


def _abolished_names(conn: Connection) -> list[ActionItem]:
    current = conn.execute(
        sa.select(_unit.c.code, _unit.c.name, _unit.c.parent_code).where(
            _unit.c.level == vocab.AdminLevel.COMMUNE.value,
            _unit.c.valid_to.is_(None),
            _unit.c.scheme != LEGACY_SCHEME,
        )
    ).all()
    province_of = {code: parent for code, _name, parent in current}
    names_in: dict[str | None, set[str]] = {}
    every_name: set[str] = set()
    for _code, name, parent in current:
        names_in.setdefault(parent, set()).add(normalise_name(name))
        every_name.add(normalise_name(name))
    before = sa.or_(
        _village.c.recognition_date < REORGANISED_ON,
        sa.and_(
            _village.c.recognition_date.is_(None),
            sa.or_(
                _village.c.recognition_year.is_(None),
                _village.c.recognition_year <= REORGANISED_ON.year,
            ),
        ),
    )
    named = sa.or_(
        sa.func.coalesce(sa.func.btrim(_village.c.legacy_commune), "") != "",
        sa.func.coalesce(sa.func.btrim(_village.c.legacy_district), "") != "",
    )
    rows = conn.execute(
        sa.select(
            _village.c.id,
            _village.c.code,
            _village.c.name,
            _village.c.commune_code,
            _village.c.commune_name,
            _village.c.legacy_commune,
            _village.c.legacy_district,
        ).where(before, named, _village.c.status != vocab.VillageStatus.REVOKED.value)
    ).all()
    items = []
    for row in rows:
        abolished: list[str] = []
        commune = (row.legacy_commune or "").strip()
        if commune:
            province = province_of.get(row.commune_code or "")
            names = names_in.get(province, set()) if province is not None else every_name
            if normalise_name(commune) not in names:
                abolished.append(commune)
        district = (row.legacy_district or "").strip()
        if district:
            abolished.append(district)
        if not abolished:
            continue
        now = (row.commune_name or "").strip()
        named_en = " and ".join(abolished)
        named_vi = " và ".join(abolished)
        items.append(
            ActionItem(
                kind=vocab.ActionKind.ABOLISHED_NAME.value,
                collection=collections.VILLAGES,
                feature_id=row.id,
                code=row.code,
                name=row.name,
                detail=(
                    f"recognition names {named_en}, abolished 1/7/2025; "
                    + (f"now {now}" if now else "present commune not recorded")
                ),
                detail_vi=(
                    f"hồ sơ công nhận ghi {named_vi}, đã bãi bỏ từ 1/7/2025; "
                    + (f"nay thuộc {now}" if now else "chưa ghi xã, phường hiện nay")
                ),
                due=None,
            )
        )
    return items


def _no_env_plan(conn: Connection) -> list[ActionItem]:
    # The latest year holding an env_plan figure, per village (one grouped pass).
    known = (
        sa.select(_stat.c.village_id, sa.func.max(_stat.c.year).label("year"))
        .where(_stat.c.env_plan.is_not(None))
        .group_by(_stat.c.village_id)
        .subquery("known")
    )
    latest = (
        sa.select(_stat.c.village_id, _stat.c.year, _stat.c.env_plan)
        .join(
            known,
            sa.and_(known.c.village_id == _stat.c.village_id, known.c.year == _stat.c.year),
        )
        .subquery("latest")
    )
    kinds = (
        vocab.VillageKind.CRAFT_VILLAGE.value,
        vocab.VillageKind.TRADITIONAL_CRAFT_VILLAGE.value,
    )
    gone = (vocab.VillageStatus.LOST.value, vocab.VillageStatus.REVOKED.value)
    plan = sa.func.coalesce(latest.c.env_plan, _village.c.env_plan)
    rows = conn.execute(
        sa.select(
            _village.c.id,
            _village.c.code,
            _village.c.name,
            latest.c.year,
            plan.label("plan"),
        )
        .select_from(_village.outerjoin(latest, latest.c.village_id == _village.c.id))
        .where(_village.c.kind.in_(kinds), _village.c.status.not_in(gone), plan.is_not(True))
    ).all()
    items = []
    for row in rows:
        if row.plan is None:
            detail = "no environmental protection plan recorded (figures or record)"
            detail_vi = "chưa ghi nhận phương án bảo vệ môi trường (số liệu và hồ sơ)"
        elif row.year is not None:
            detail = f"no environmental protection plan ({row.year} figures)"
            detail_vi = f"chưa có phương án bảo vệ môi trường (số liệu năm {row.year})"
        else:
            detail = "no environmental protection plan (village record)"
            detail_vi = "chưa có phương án bảo vệ môi trường (hồ sơ làng nghề)"
        items.append(
            ActionItem(
                kind=vocab.ActionKind.NO_ENV_PLAN.value,
                collection=collections.VILLAGES,
                feature_id=row.id,
                code=row.code,
                name=row.name,
                detail=detail,
                detail_vi=detail_vi,
                due=None,
                unknown=row.plan is None,
            )
        )
    return items


def _at_risk(conn: Connection) -> list[ActionItem]:
    rows = conn.execute(
        sa.select(_village.c.id, _village.c.code, _village.c.name, _village.c.kind).where(
            _village.c.status == vocab.VillageStatus.AT_RISK.value
        )
    ).all()
    return [
        ActionItem(
            kind=vocab.ActionKind.AT_RISK.value,
            collection=collections.VILLAGES,
            feature_id=row.id,
            code=row.code,
            name=row.name,
            detail=f"{vocab.label('village_kind', str(row.kind), 'en')} at risk of being lost",
            detail_vi=f"{vocab.label('village_kind', str(row.kind), 'vi')} có nguy cơ mai một",
            due=None,
        )
        for row in rows
    ]


def _expiring(conn: Connection, today: dt.date, within_days: int) -> list[ActionItem]:
    until = today + dt.timedelta(days=within_days)
    rows = conn.execute(
        sa.select(
            _zone.c.id,
            _zone.c.code,
            _zone.c.name,
            _zone.c.certificate_no,
            _zone.c.certificate_expiry,
        )
        .where(_zone.c.certificate_expiry <= until)
        .order_by(_zone.c.certificate_expiry, _zone.c.code)
    ).all()
    items = []
    for row in rows:
        expiry: dt.date = row.certificate_expiry
        number = (row.certificate_no or "").strip()
        en_date, vi_date = expiry.strftime(date_format("en")), expiry.strftime(date_format("vi"))
        days = (expiry - today).days
        what_en = f"certificate {number}" if number else "certificate"
        what_vi = f"chứng chỉ {number}" if number else "chứng chỉ"
        if days < 0:
            detail = f"{what_en} expired on {en_date}, {-days} days ago"
            detail_vi = f"{what_vi} đã hết hạn ngày {vi_date}, cách đây {-days} ngày"
        else:
            detail = f"{what_en} expires on {en_date}, in {days} days"
            detail_vi = f"{what_vi} hết hạn ngày {vi_date}, còn {days} ngày"
        items.append(
            ActionItem(
                kind=vocab.ActionKind.EXPIRING_CERTIFICATE.value,
                collection=collections.MATERIAL_ZONES,
                feature_id=row.id,
                code=row.code,
                name=row.name,
                detail=detail,
                detail_vi=detail_vi,
                due=expiry,
            )
        )
    return items
