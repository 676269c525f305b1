"""The new promise keys (issue 11) in the config: every problem with its line, and the
warning about an attribute that no configured source maps."""

from __future__ import annotations

import pytest

from qmon.promises.conditions import BusinessDays, DeadlineAttribute, Duration
from qmon.promises.promise import Role
from tests.clihelp import qmon
from tests.test_config import load, problems, write

HEAD = """\
version: 1
calendars:
  office-nl:
    hours: {mon-fri: ["09:00-17:00"]}
promises:
  - id: reply
    phase: sales
    start: case.opened
    stop: case.first_response
"""
# The promise's further keys start at line 10.

CASES = {
    "two allowances": (
        "    within: 4h\n    deadline: {attribute: promised_date}\n",
        [(11, "'deadline' and 'within' both given; a promise has exactly one of 'within', "
              "'targets' and 'deadline'")],
    ),
    "no allowance": (
        "    calendar: office-nl\n",
        [(6, "promise 'reply': needs one of 'within', 'targets' or 'deadline'")],
    ),
    "business days without a calendar": (
        "    within: 2 business days\n",
        [(10, "'2 business days' counts business days, which needs a 'calendar' on the "
              "promise")],
    ),
    "a target's business days without a calendar": (
        "    targets:\n      - {when: {priority: high}, within: 1 business day}\n"
        "      - {within: 8h}\n",
        [(11, "'1 business day' counts business days, which needs a 'calendar' on the "
              "promise")],
    ),
    "the default target not last": (
        "    targets:\n      - {within: 8h}\n      - {when: {priority: high}, within: 1h}\n",
        [(11, "target 1 has no 'when', so it is the default, and the default must be the "
              "last target")],
    ),
    "a when that is not a mapping": (
        "    within: 4h\n    when: priority\n",
        [(11, "when must be a mapping of attribute to value(s), like {priority: urgent}")],
    ),
    "a when with a nested list": (
        "    within: 4h\n    when: {priority: [[high]]}\n",
        [(11, "when: 'priority' must be a value, a list of values or {not: ...}, not list")],
    ),
    "a when with a misspelt not": (
        "    within: 4h\n    when: {priority: {nto: low}}\n",
        [(11, "when: 'priority' takes a value, a list, or {not: value(s)}; unknown key 'nto' "
              "(did you mean 'not'?)")],
    ),
    "an empty list of values": (
        "    within: 4h\n    when: {priority: []}\n",
        [(11, "when: 'priority' lists no values")],
    ),
    "a deadline without its attribute": (
        "    deadline: {field: promised_date}\n",
        [(10, "missing required key 'attribute'"), (10, "unknown key 'field'")],
    ),
    "business days spelt wrong": (
        "    within: 2 werkdagen\n",
        [(10, "not a duration: '2 werkdagen' (write e.g. '24h', '1h 30m', '90m', '2d' or "
              "'45s'; d is 24h)")],
    ),
    "an until type that is also a stop": (
        "    within: 4h\n    repeat: true\n    until: case.first_response\n",
        [(12, "event type 'case.first_response' is both 'stop' and 'until'; a type plays one "
              "role in a promise")],
    ),
    "retarget must be true or false": (
        "    within: 4h\n    retarget: sometimes\n",
        [(11, "'retarget': Input should be a valid boolean, unable to interpret input")],
    ),
}


@pytest.mark.parametrize("more, expected", CASES.values(), ids=CASES.keys())
def test_problem_messages_and_lines(tmp_path, more, expected):
    assert problems(tmp_path, HEAD + more) == expected


def test_every_form_becomes_its_runtime_object(tmp_path):
    config = load(tmp_path, HEAD + """\
    calendar: office-nl
    when: {channel: [Email, " web "], tier: {not: lost}}
    retarget: true
    targets:
      - {when: {priority: URGENT}, within: 1h}
      - {when: {priority: 1}, within: 2 business days}
      - {within: 0 business days}
  - id: on-date
    phase: sales
    start: order.confirmed
    stop: order.delivered
    deadline: {attribute: " promised_date "}
  - id: contact
    phase: sales
    start: account.became_key
    stop: call.logged
    until: account.lost
    repeat: true
    within: 30d
  - id: plain-until
    phase: sales
    start: account.became_key
    stop: call.logged
    until: account.lost
    within: 30d
""")
    reply, on_date, contact, plain = config.promises
    assert reply.within_us is None and not reply.plain and reply.retarget
    assert [m.values for m in reply.when.matches] == [{"email", "web"}, {"lost"}]
    assert [m.negate for m in reply.when.matches] == [False, True]
    assert [t.within for t in reply.targets] == [Duration(3_600_000_000), BusinessDays(2),
                                                 BusinessDays(0)]  # fmt: skip
    assert reply.targets[1].when.matches[0].values == {"1"}
    assert reply.attributes == ("channel", "priority", "tier")
    assert on_date.allowance == DeadlineAttribute("promised_date")
    assert on_date.timezone.key == "Europe/Amsterdam"  # the config's, without a calendar
    assert contact.roles["account.lost"] == Role.UNTIL and contact.repeat
    assert plain.roles["account.lost"] == Role.STOP  # without repeat: a further stop
    assert plain.plain and plain.within_us == 30 * 86_400_000_000
    assert config.kept_attributes >= {"channel", "priority", "tier", "promised_date"}


SOURCES = """\
sources:
  hubspot:
    access_token: token
"""


def test_validate_warns_about_an_attribute_no_source_maps(tmp_path):
    text = SOURCES + HEAD.removeprefix("version: 1\n") + """\
    within: 4h
    when: {priority: high, tier: key, channel: email}
"""
    path = write(tmp_path, "version: 1\n" + text)
    result = qmon("--config", path, "promises", "validate")
    assert result.exit_code == 0, result.output
    # priority is a HubSpot default, channel every source has; tier nobody maps
    assert f"{path}:14: warning: attribute 'tier' is not mapped by any configured source " \
           "(hubspot)" in result.stdout.replace("\n", " ")  # fmt: skip
    assert "'priority' is not mapped" not in result.stdout
    assert "1 warning(s)" in result.stdout


def test_no_warning_when_a_mapping_or_the_imports_name_it(tmp_path):
    mapped = SOURCES + "mappings:\n  hubspot:\n    attributes: {tier: company.customer_tier}\n"
    for extra in (mapped, SOURCES + "imports: {attributes: [tier]}\n", ""):
        text = "version: 1\n" + extra + HEAD.removeprefix("version: 1\n") + """\
    within: 4h
    when: {tier: key}
"""
        config = load(tmp_path, text)
        assert config.warnings == (), extra
