"""The CRM cards (crm/hubspot-card, crm/salesforce-card) from pytest.

- Their own JavaScript tests (`npm test`: vitest with HubSpot's test renderer, sfdx-lwc-jest),
  after `npm ci` when a folder has no (current) node_modules; skipped only without npm.
- The example JSON those tests answer with is the contract's example in docs/serve.md, and
  has the shape a real `qmon serve` answers (every key, every JSON type, every status), so
  the cards cannot drift from the contract.
- The Apex controller signs what qmon verifies: the same header names and algorithm as
  docs/serve.md, its canonical string (evaluated from the Apex source) accepted by qmon's
  verifier, and the Apex test's signature vector computed by qmon's own code.
- The two cards' configuration agrees with itself (permitted URL, object types, the named
  credential, the permission set).

Apex itself cannot run here (no org): its test class runs on deploy (docs/crm-card.md).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import shutil
import subprocess
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from qmon.web.cards import HUBSPOT_SUBJECTS, SALESFORCE_SUBJECTS
from qmon.web.signatures import hubspot_signature, qmon_signature, verify_qmon
from tests.test_web_helpers import PROMISES, ev, serve_section, serving, write_config

ROOT = Path(__file__).resolve().parent.parent
CRM = ROOT / "crm"
HUBSPOT = CRM / "hubspot-card"
SALESFORCE = CRM / "salesforce-card"
SF_DEFAULT = SALESFORCE / "force-app" / "main" / "default"
LWC = SF_DEFAULT / "lwc" / "qmonCard"
APEX = SF_DEFAULT / "classes" / "QmonCardController.cls"
APEX_TEST = SF_DEFAULT / "classes" / "QmonCardControllerTest.cls"
FIXTURES = {
    "hubspot": HUBSPOT / "test" / "fixtures",
    "salesforce": LWC / "__tests__" / "data",
}
EXAMPLES = ("card-example.json", "card-statuses.json")
MD = "{http://soap.sforce.com/2006/04/metadata}"

HUBSPOT_SECRET = "hubspot-app-client-secret-for-the-card"
SALESFORCE_SECRET = "salesforce-card-secret-for-the-card"
PUBLIC = "https://qmon.example.com"


# --- the cards' own tests ------------------------------------------------------------------


def _npm_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(CI="true", npm_config_update_notifier="false", npm_config_fund="false")
    return env


def _installed(folder: Path) -> bool:
    """node_modules is there and npm installed it from the lockfile as it is now."""
    hidden = folder / "node_modules" / ".package-lock.json"
    lock = folder / "package-lock.json"
    return hidden.is_file() and hidden.stat().st_mtime >= lock.stat().st_mtime


@pytest.mark.parametrize("folder", [HUBSPOT, SALESFORCE], ids=lambda p: p.name)
def test_the_cards_own_javascript_tests_pass(folder: Path) -> None:
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not on PATH: the cards' JavaScript tests need Node.js and npm")
    assert (folder / "package-lock.json").is_file(), "the lockfile is committed"
    if not _installed(folder):
        ci = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=folder, env=_npm_env(), capture_output=True, text=True, timeout=900,
        )  # fmt: skip
        assert ci.returncode == 0, f"npm ci in {folder.name} failed:\n{ci.stdout}\n{ci.stderr}"
    run = subprocess.run(
        [npm, "test"], cwd=folder, env=_npm_env(), capture_output=True, text=True, timeout=600
    )
    assert run.returncode == 0, f"npm test in {folder.name} failed:\n{run.stdout}\n{run.stderr}"


# --- the example JSON against the contract and a real qmon --------------------------------


def _contract_example() -> dict[str, Any]:
    text = (ROOT / "docs" / "serve.md").read_text(encoding="utf-8")
    section = text[text.index("## The CRM card API") :]
    block = re.search(r"```json\n(.*?)```", section, re.S)
    assert block, "docs/serve.md shows the card JSON"
    return json.loads(block.group(1))


def _fixture(card: str, name: str) -> dict[str, Any]:
    return json.loads((FIXTURES[card] / name).read_text(encoding="utf-8"))


def test_the_cards_tests_answer_with_the_contracts_example() -> None:
    example = _contract_example()
    for card in FIXTURES:
        assert _fixture(card, "card-example.json") == example, card
    for name in EXAMPLES:  # both cards are tested against the same answers
        assert _fixture("hubspot", name) == _fixture("salesforce", name), name


#: A promise with its deadline on the record, so that a record without it is not evaluated.
EXTRA_PROMISE = """\
  - id: delivery-promised-date
    title: Delivered on the promised date
    phase: after-sales
    start: order.confirmed
    stop: order.delivered
    deadline: {attribute: promised_date}
"""


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    return type(value).__name__


@pytest.fixture(scope="module")
def real_answers(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """What a real qmon serve answers the two cards for records in every state."""
    from qmon.config import load_config
    from qmon.store import Store

    tmp = tmp_path_factory.mktemp("cards")
    (tmp / "hubspot.secret").write_text(HUBSPOT_SECRET)
    (tmp / "card.secret").write_text(SALESFORCE_SECRET)
    config = write_config(
        tmp,
        serve_section(
            f"  public_url: {PUBLIC}\n"
            "  hubspot_card: {client_secret_file: hubspot.secret}\n"
            "  salesforce_card: {secret_file: card.secret}\n"
        ),
        promises=PROMISES + EXTRA_PROMISE,
    )
    store = Store.open(load_config(config).database_url)
    store.ingest(
        [
            ev("1001", -30, "quote.requested", link="https://crm.example/deal/1001"),  # broken
            ev("1002", -15, "quote.requested"),  # at risk
            ev("1003", -5, "quote.requested"),
            ev("1003", -2, "quote.sent"),  # kept
            ev("1003", -1, "quote.requested", n=1),  # open, cycle 2
            ev("1004", -3, "case.opened", kind="case"),
            ev("1004", -2, "case.waiting_on_customer", kind="case"),  # paused
            ev("1005", -4, "order.confirmed"),  # no promised_date: not evaluated
            ev("0065g00000AbCdEAAV", -2, "quote.requested"),
        ]
    )
    store.close()
    answers = []
    with serving(config) as app, app.client() as client:
        for object_id, type_id in (
            ("1001", "0-3"), ("1002", "0-3"), ("1003", "0-3"), ("1004", "0-5"), ("1005", "0-3"),
            ("1006", "0-3"),
        ):  # fmt: skip
            target = f"/api/crm/hubspot/card?objectId={object_id}&objectTypeId={type_id}"
            stamp = str(int(time.time() * 1000))
            signature = hubspot_signature(HUBSPOT_SECRET, "GET", PUBLIC + target, b"", stamp)
            answer = client.get(
                target,
                headers={
                    "X-HubSpot-Signature-v3": signature,
                    "X-HubSpot-Request-Timestamp": stamp,
                },
            )
            assert answer.status_code == 200, answer.text
            answers.append(answer.json())
        target = "/api/crm/salesforce/card?recordId=0065g00000AbCdEAAV"
        stamp = str(int(time.time() * 1000))
        answer = client.get(
            target,
            headers={
                "X-Qmon-Signature": "v1="
                + qmon_signature(SALESFORCE_SECRET, "GET", target, b"", stamp),
                "X-Qmon-Timestamp": stamp,
            },
        )
        assert answer.status_code == 200, answer.text
        answers.append(answer.json())
    return answers


def _types(documents: list[dict[str, Any]]) -> dict[str, set[str]]:
    """Every JSON type seen, per key path (`version`, `record.url`, `promises[].deadline`)."""
    seen: dict[str, set[str]] = {}
    for doc in documents:
        for key, value in doc.items():
            if key == "record":
                for rkey, rvalue in value.items():
                    seen.setdefault(f"record.{rkey}", set()).add(_json_type(rvalue))
            elif key == "promises":
                seen.setdefault("promises", set()).add("list")
                for promise in value:
                    for pkey, pvalue in promise.items():
                        seen.setdefault(f"promises[].{pkey}", set()).add(_json_type(pvalue))
            else:
                seen.setdefault(key, set()).add(_json_type(value))
    return seen


def test_the_real_answers_cover_every_state_the_examples_show(real_answers) -> None:
    statuses = {p["status"] for a in real_answers for p in a["promises"]}
    assert statuses == {"met", "breached", "open", "not_evaluated"}
    promises = [p for a in real_answers for p in a["promises"]]
    assert any(p["at_risk"] for p in promises) and any(p["paused"] for p in promises)
    assert any(not a["promises"] for a in real_answers), "an empty record too"


@pytest.mark.parametrize("name", EXAMPLES)
def test_the_cards_examples_have_the_shape_qmon_answers(real_answers, name) -> None:
    example = _fixture("hubspot", name)
    real = real_answers
    assert {frozenset(a) for a in real} == {frozenset(example)}
    assert {frozenset(a["record"]) for a in real} == {frozenset(example["record"])}
    real_promise_keys = {frozenset(p) for a in real for p in a["promises"]}
    assert len(real_promise_keys) == 1
    for promise in example["promises"]:
        assert frozenset(promise) in real_promise_keys, promise["promise_id"]
    seen, shown = _types(real), _types([example])
    for path, types in shown.items():
        assert types <= seen[path], f"{name}: {path} is {types}, qmon answers {seen[path]}"
    assert {p["status"] for p in example["promises"]} <= {"met", "breached", "open",
                                                          "not_evaluated"}  # fmt: skip
    # The same formats: instants, links.
    local = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d")
    for doc in [example, *real]:
        # qmon writes fractional seconds when they are not zero (qmon.timeutil.iso_z).
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z", doc["as_of"])
        record = doc["record"]
        base = record["url"].split("/record/")[0]
        assert record["url"] == f"{base}/record/{record['subject_type']}/{record['subject_id']}"
        for p in doc["promises"]:
            for key in ("started_at", "stopped_at", "deadline"):
                assert p[key] is None or local.fullmatch(p[key]), (key, p[key])
            assert p["instance_url"] == (
                f"{base}/instance/{p['promise_id']}/{record['subject_type']}/"
                f"{record['subject_id']}/{p['cycle']}"
            )


# --- the Apex signs what qmon verifies ------------------------------------------------------


def _apex_constant(source: str, name: str) -> str:
    found = re.search(rf"\bstatic final String {name}\s*=\s*'([^']*)';", source)
    assert found, f"{name} in the Apex source"
    return found.group(1)


_APEX_TOKEN = re.compile(r"\s*(?:'((?:[^'\\]|\\.)*)'|([A-Za-z_]\w*)|(\+))")
_APEX_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "'": "'", "\\": "\\", '"': '"'}


def _evaluate_apex_concatenation(expression: str, names: dict[str, str]) -> str:
    """An Apex expression of string literals and names joined by `+`, evaluated."""
    out, pos, expect_operand = [], 0, True
    expression = expression.strip()
    while pos < len(expression):
        token = _APEX_TOKEN.match(expression, pos)
        assert token and token.end() > pos, f"cannot read the Apex at: {expression[pos:]!r}"
        literal, name, plus = token.groups()
        if plus:
            assert not expect_operand, expression
        else:
            assert expect_operand, expression
            if name is not None:
                out.append(names[name])
            else:
                out.append(re.sub(r"\\(.)", lambda m: _APEX_ESCAPES[m.group(1)], literal))
        expect_operand = bool(plus)
        pos = token.end()
    assert not expect_operand, expression
    return "".join(out)


def test_the_apex_names_the_headers_and_algorithm_docs_serve_md_names() -> None:
    docs = (ROOT / "docs" / "serve.md").read_text(encoding="utf-8")
    section = docs[docs.index("### Salesforce:") : docs.index("## Security")]
    apex = APEX.read_text(encoding="utf-8")
    doc_headers = set(re.findall(r"setHeader\('(X-Qmon-[\w-]+)'", section))
    assert doc_headers == {"X-Qmon-Timestamp", "X-Qmon-Signature"}
    assert {_apex_constant(apex, "TIMESTAMP_HEADER"), _apex_constant(apex, "SIGNATURE_HEADER")} == (
        doc_headers
    )
    assert "X-Qmon-Timestamp:" in section and "X-Qmon-Signature: v1=" in section
    (doc_algorithm,) = re.findall(r"Crypto\.generateMac\('(\w+)'", section)
    apex_algorithm = _apex_constant(apex, "ALGORITHM")
    assert "Crypto.generateMac(\n            ALGORITHM," in apex
    # Apex's algorithm names are case-insensitive (Salesforce documents 'hmacSHA256').
    assert apex_algorithm.lower() == doc_algorithm.lower() == "hmacsha256"
    assert "hashlib.sha256" in (ROOT / "qmon" / "web" / "signatures.py").read_text()
    assert "'v1=' + EncodingUtil.base64Encode(mac)" in apex
    assert "request.setEndpoint('callout:Qmon' + target);" in apex
    assert "PATH = '/api/crm/salesforce/card';" in apex
    assert "String target = PATH + '?recordId=' + String.valueOf(recordId);" in apex


def test_the_apex_canonical_string_is_the_one_qmon_verifies() -> None:
    apex = APEX.read_text(encoding="utf-8")
    found = re.search(
        r"static String canonical\(String method, String target, String stamp, String body\)"
        r"\s*\{\s*return (.*?);\s*\}",
        apex,
        re.S,
    )
    assert found, "QmonCardController.canonical"
    target = "/api/crm/salesforce/card?recordId=0065g00000AbCdEAAV"
    stamp = str(int(time.time() * 1000))
    names = {"method": "GET", "target": target, "stamp": stamp, "body": ""}
    canonical = _evaluate_apex_concatenation(found.group(1), names)
    assert canonical == f"GET\n{target}\n{stamp}\n"
    # docs/crm-card.md shows it too.
    assert "GET\\n/api/crm/salesforce/card?recordId=0065g00000AbCdEAAV\\n1700000000000\\n" in (
        (ROOT / "docs" / "crm-card.md").read_text(encoding="utf-8")
    )
    # What the Apex computes over it (HMAC-SHA256, base64, 'v1='), qmon accepts.
    mac = hmac.new(SALESFORCE_SECRET.encode(), canonical.encode("utf-8"), hashlib.sha256)
    header = "v1=" + base64.b64encode(mac.digest()).decode()
    headers = {"x-qmon-signature": header, "x-qmon-timestamp": stamp}
    verify_qmon(SALESFORCE_SECRET, "GET", target, b"", headers, int(stamp))
    # ...and so the header with a second secret in it (rotation), as signatureHeader joins.
    other = hmac.new(b"old-secret", canonical.encode("utf-8"), hashlib.sha256)
    joined = "v1=" + base64.b64encode(other.digest()).decode() + "," + header
    verify_qmon(SALESFORCE_SECRET, "GET", target, b"", {**headers, "x-qmon-signature": joined},
                int(stamp))  # fmt: skip
    assert "String.join(values, ',')" in apex


def test_the_apex_tests_vector_is_qmons_own_signature() -> None:
    source = APEX_TEST.read_text(encoding="utf-8")
    target = _apex_constant(source, "VECTOR_TARGET")
    stamp = _apex_constant(source, "VECTOR_STAMP")
    for secret_name, signature_name in (("SECRET", "VECTOR_SIGNATURE"),
                                        ("NEXT_SECRET", "VECTOR_NEXT_SIGNATURE")):  # fmt: skip
        secret = _apex_constant(source, secret_name)
        expected = "v1=" + qmon_signature(secret, "GET", target, b"", stamp)
        assert _apex_constant(source, signature_name) == expected
        headers = {"x-qmon-signature": expected, "x-qmon-timestamp": stamp}
        verify_qmon(secret, "GET", target, b"", headers, int(stamp) + 1000)
    assert "implements HttpCalloutMock" in source


# --- the cards' configuration --------------------------------------------------------------


def test_the_hubspot_project_is_consistent() -> None:
    project = json.loads((HUBSPOT / "hsproject.json").read_text())
    assert project["srcDir"] == "src" and project["platformVersion"] >= "2025.2"
    app = json.loads((HUBSPOT / "src" / "app" / "app-hsmeta.json").read_text())
    assert app["type"] == "app"
    card = json.loads((HUBSPOT / "src" / "app" / "cards" / "qmon-card-hsmeta.json").read_text())
    assert card["type"] == "card"
    assert card["config"]["location"] in {"crm.record.tab", "crm.record.sidebar"}
    assert set(card["config"]["objectTypes"]) == {"deals", "tickets"}
    entry = card["config"]["entrypoint"]
    assert (HUBSPOT / "src" / entry.lstrip("/")).is_file(), entry
    # The card's URL is one HubSpot permits it to fetch.
    url_js = (HUBSPOT / "src" / "app" / "cards" / "qmon-url.js").read_text()
    (qmon_url,) = re.findall(r"export const QMON_URL = '([^']*)';", url_js)
    assert qmon_url in app["config"]["permittedUrls"]["fetch"]
    assert qmon_url.startswith("https://") and not qmon_url.endswith("/")
    # It asks for the object types qmon maps.
    qmon_js = (HUBSPOT / "src" / "app" / "cards" / "qmon.js").read_text()
    (types,) = re.findall(r"export const OBJECT_TYPES = (\{[^}]*\});", qmon_js)
    assert set(re.findall(r"'(\d-\d+)'", types)) == set(HUBSPOT_SUBJECTS)
    # The card package HubSpot builds gets the versions the tests ran with.
    cards_package = json.loads((HUBSPOT / "src" / "app" / "cards" / "package.json").read_text())
    lock = json.loads((HUBSPOT / "package-lock.json").read_text())
    for name, version in cards_package["dependencies"].items():
        assert lock["packages"][f"node_modules/{name}"]["version"] == version, name


def _xml(path: Path) -> ET.Element:
    return ET.parse(path).getroot()


def test_the_salesforce_source_is_consistent() -> None:
    project = json.loads((SALESFORCE / "sfdx-project.json").read_text())
    assert [d["path"] for d in project["packageDirectories"]] == ["force-app"]
    bundle = _xml(LWC / "qmonCard.js-meta.xml")
    assert bundle.findtext(f"{MD}isExposed") == "true"
    assert [t.text for t in bundle.iter(f"{MD}target")] == ["lightning__RecordPage"]
    assert {o.text for o in bundle.iter(f"{MD}object")} == {"Opportunity", "Case"}
    assert set(SALESFORCE_SUBJECTS) == {"006", "500"}  # Opportunity, Case
    lwc = (LWC / "qmonCard.js").read_text()
    assert "import card from '@salesforce/apex/QmonCardController.card';" in lwc
    apex = APEX.read_text()
    assert "@AuraEnabled(cacheable=false)\n    public static String card(Id recordId)" in apex
    # The named credential the Apex calls, its external credential, and the permission set.
    named = _xml(SF_DEFAULT / "namedCredentials" / "Qmon.namedCredential-meta.xml")
    assert "callout:Qmon" in apex
    assert named.findtext(f".//{MD}externalCredential") == "Qmon"
    external = _xml(SF_DEFAULT / "externalCredentials" / "Qmon.externalCredential-meta.xml")
    principals = [
        p.findtext(f"{MD}parameterName")
        for p in external.iter(f"{MD}externalCredentialParameters")
        if p.findtext(f"{MD}parameterType") == "NamedPrincipal"
    ]
    permset = _xml(SF_DEFAULT / "permissionsets" / "Qmon_Card_User.permissionset-meta.xml")
    assert [a.findtext(f"{MD}apexClass") for a in permset.iter(f"{MD}classAccesses")] == [
        "QmonCardController"
    ]
    granted = [e.text for e in permset.iter(f"{MD}externalCredentialPrincipal")]
    assert granted == [f"Qmon-{p}" for p in principals] and principals
    assert not list(permset.iter(f"{MD}customMetadataTypeAccesses")), "the secret stays hidden"
    # The secret's custom metadata type is protected, and no secret is in the source.
    secret_type = _xml(SF_DEFAULT / "objects" / "Qmon_Card_Secret__mdt" /
                       "Qmon_Card_Secret__mdt.object-meta.xml")  # fmt: skip
    assert secret_type.findtext(f"{MD}visibility") == "Protected"
    assert "Qmon_Card_Secret__mdt.getAll()" in apex
    assert not (SF_DEFAULT / "customMetadata").exists()
    assert "**/__tests__/**" in (SALESFORCE / ".forceignore").read_text()
