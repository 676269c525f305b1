"""The demo company's data: deterministic, inside its window, and fit for its own config."""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import holidays
import pytest
import yaml

from qmon.config.spec import QmonSpec
from qmon.demo import generate_events, write_demo
from qmon.demo.generator import CSV_COLUMNS, SLOW_OWNER, TZ, window_start
from qmon.events import Event
from qmon.promises.calendar import WALL_CLOCK
from qmon.promises.duration import parse_duration
from qmon.promises.engine import evaluate_subject
from qmon.promises.promise import Promise, Role
from qmon.timeutil import from_us, parse_instant, to_us

END = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
TEMPLATE = Path(__file__).parent.parent / "qmon" / "demo" / "qmon.yaml"
ROLES = {"start": Role.START, "pause": Role.PAUSE, "resume": Role.RESUME, "stop": Role.STOP}
#: What customers (or their web forms) do; everything else is done by staff.
CUSTOMER_TYPES = {
    "deal.created",
    "callback.requested",
    "quote.requested",
    "order.placed",
    "case.opened",
    "case.customer_replied",
    "case.reopened",
}


@pytest.fixture(scope="module")
def events() -> list[Event]:
    return list(generate_events(end=END))


@pytest.fixture(scope="module")
def config() -> dict:
    return yaml.safe_load(TEMPLATE.read_text(encoding="utf-8"))


def types_by_role(promise: dict) -> dict[str, list[str]]:
    """A promise's event types per role, a single type read as a list of one."""
    out = {}
    for role in ROLES:
        value = promise.get(role) or []
        out[role] = [value] if isinstance(value, str) else value
    return out


def test_same_arguments_give_the_same_events(events):
    assert list(generate_events(end=END)) == events
    assert list(generate_events(end=END, seed=8)) != events


def test_ids_are_unique_and_the_source_is_demo(events):
    assert len({e.id for e in events}) == len(events)
    assert {e.source for e in events} == {"demo"}


def test_six_months_are_a_plausible_volume():
    count = sum(1 for _ in generate_events(end=END))
    assert 15_000 <= count <= 30_000


def test_everything_happens_inside_the_window(events):
    start = to_us(datetime(2026, 5, 20, 9, 30, tzinfo=UTC))
    assert window_start(END, 6) == from_us(start)
    assert all(start <= e.occurred_us <= to_us(END) for e in events)
    assert events == sorted(events, key=lambda e: e.occurred_us)
    assert events[-1].occurred_us > to_us(END - timedelta(days=1))  # the last day is not empty


def test_an_end_in_another_zone_is_the_same_instant():
    local_end = END.astimezone(timezone(timedelta(hours=1)))
    assert list(generate_events(end=local_end, months=1)) == list(
        generate_events(end=END, months=1)
    )


def test_window_start_counts_calendar_months():
    assert window_start(datetime(2026, 8, 31, 12, tzinfo=UTC), 6) == datetime(
        2026, 2, 28, 12, tzinfo=UTC
    )
    assert window_start(datetime(2026, 3, 15, tzinfo=UTC), 3) == datetime(2025, 12, 15, tzinfo=UTC)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"end": datetime(2026, 11, 20, 9, 30)}, "no UTC offset"),  # noqa: DTZ001
        ({"end": END, "months": 0}, "at least 1"),
    ],
)
def test_bad_arguments_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        generate_events(**kwargs)


def test_records_look_like_a_crm_export(events):
    prefixes = {"deal": "D-", "case": "C-", "order": "O-", "company": "K-"}
    plural = {"company": "companies"}
    for e in events:
        assert e.subject_id.startswith(prefixes[e.subject_type])
        kind = plural.get(e.subject_type, f"{e.subject_type}s")
        assert e.link == f"https://crm.example.nl/{kind}/{e.subject_id}"
        assert e.account and e.owner
        assert e.channel in {None, "email", "phone", "web", "chat"}
    assert {type(e.attributes.get("amount")) for e in events if e.type == "quote.sent"} == {int}
    priorities = {e.attributes["priority"] for e in events if e.type == "case.opened"}
    assert priorities == {"low", "normal", "high"}
    assert len({e.owner for e in events}) == 9
    accounts = Counter(e.account for e in events)
    assert len(accounts) >= 30
    assert accounts.most_common()[0][1] > 5 * accounts.most_common()[-1][1]
    assert {"note.added", "deal.created", "deal.stage_changed"} <= {e.type for e in events}


def test_the_config_is_valid_and_uses_only_generated_types(config, events):
    spec = QmonSpec.model_validate(config)
    assert config["version"] == 1
    assert spec.phases == ["pre-sales", "sales", "after-sales", "loyalty"]
    assert {p.phase for p in spec.promises} == set(spec.phases)
    assert {p.calendar for p in spec.promises} <= {None, *spec.calendars}
    assert sum(p.objective is not None for p in spec.promises) > len(spec.promises) / 2
    generated = Counter(e.type for e in events)
    for promise in config["promises"]:
        roles = types_by_role(promise)
        every = [t for types in roles.values() for t in types]
        assert len(every) == len(set(every)), f"{promise['id']}: a type in two roles"
        for role, types in roles.items():
            for kind in types:
                assert generated[kind] > 0, f"{promise['id']}: no {kind} ({role})"


def test_a_cycle_repeats_and_cases_wait_and_reopen(events):
    per_deal = Counter(e.subject_id for e in events if e.type == "quote.sent")
    assert sum(n > 1 for n in per_deal.values()) > 20
    kinds = Counter(e.type for e in events)
    assert kinds["case.waiting_on_customer"] > 0.1 * kinds["case.opened"]
    assert 0 < kinds["case.reopened"] < 0.1 * kinds["case.opened"]


def test_staff_rarely_work_at_weekends_or_on_holidays(events):
    dutch = holidays.country_holidays("NL", years=[2026])
    staff = [e for e in events if e.type not in CUSTOMER_TYPES]
    off = [
        e
        for e in staff
        if (day := from_us(e.occurred_us).astimezone(TZ).date()).weekday() >= 5 or day in dutch
    ]
    assert len(off) < 0.02 * len(staff)
    customers = [e for e in events if e.type in CUSTOMER_TYPES]
    weekend = [e for e in customers if from_us(e.occurred_us).astimezone(TZ).weekday() >= 5]
    assert 0 < len(weekend) < 0.1 * len(customers)


def wall_clock_instances(config: dict, events: list[Event], promise_id: str):
    """The instances of a round-the-clock promise of the demo config, by the real engine."""
    spec = next(p for p in config["promises"] if p["id"] == promise_id)
    assert "calendar" not in spec
    roles = {t: ROLES[role] for role, types in types_by_role(spec).items() for t in types}
    promise = Promise(
        spec["id"], spec["title"], spec["phase"], roles, parse_duration(spec["within"]), WALL_CLOCK
    )
    subjects = defaultdict(list)
    for e in events:
        subjects[e.subject_type, e.subject_id].append(
            (e.occurred_us, e.type, e.owner, e.channel, e.account)
        )
    for (kind, sid), evs in subjects.items():
        yield from evaluate_subject(promise, kind, sid, evs, to_us(END))


def compliance(instances) -> float:
    status = Counter(i.status for i in instances)
    return status["met"] / (status["met"] + status["breached"])


@pytest.mark.parametrize("promise_id", ["callback-90m", "quote-24h", "delivery-followup-2d"])
def test_most_promises_are_kept_but_not_all(config, events, promise_id):
    instances = list(wall_clock_instances(config, events, promise_id))
    assert 0.7 <= compliance(instances) <= 0.97


@pytest.mark.parametrize("promise_id", ["quote-24h", "delivery-followup-2d"])
def test_one_owner_is_slower(config, events, promise_id):
    instances = list(wall_clock_instances(config, events, promise_id))
    slow = [i for i in instances if i.owner == SLOW_OWNER]
    others = [i for i in instances if i.owner != SLOW_OWNER]
    assert compliance(slow) < compliance(others) - 0.05


def test_quotes_get_faster_over_the_months(config, events):
    instances = list(wall_clock_instances(config, events, "quote-24h"))
    middle = to_us(END - timedelta(days=91))
    early = compliance(i for i in instances if i.started_us < middle)
    late = compliance(i for i in instances if i.started_us >= middle)
    assert late > early + 0.05


def test_write_demo_writes_the_template_and_the_events(tmp_path, events):
    files = write_demo(tmp_path / "demo", end=END)
    assert files.config_path == tmp_path / "demo" / "qmon.yaml"
    assert files.config_path.read_text(encoding="utf-8") == TEMPLATE.read_text(encoding="utf-8")
    with files.events_path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert len(rows) == len(events)
    first, last = rows[0], rows[-1]
    assert first["occurred_at"].endswith("Z")
    assert parse_instant(last["occurred_at"]) == events[-1].occurred_us
    assert (first["id"], first["type"], first["subject_id"]) == (
        events[0].id,
        events[0].type,
        events[0].subject_id,
    )
    quote = next(row for row in rows if row["type"] == "quote.sent")
    assert quote["amount"].isdigit() and quote["priority"] == ""
