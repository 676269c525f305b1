"""A local, in-memory Salesforce org that speaks the REST wire format over real TLS.

Why a server and not mocks: the Salesforce connector is built on simple-salesforce, and what
can break is the contract between that library and the org -- the URLs it builds, the headers
it reads (``Sforce-Limit-Info``, ``Sforce-Locator``), how it follows ``nextRecordsUrl``, which
exception it raises for which status. Patching the library away would test nothing of that.
So this fake is a real HTTPS server on 127.0.0.1 with a throwaway ``trustme`` CA, and the
real library talks to it through an ordinary ``requests.Session``::

    with FakeSalesforce() as fake:
        opp = fake.add_record("Opportunity", {"Name": "Big deal", "StageName": "Prospecting"})
        sf = Salesforce(instance=fake.instance, session_id=fake.session_id,
                        session=fake.make_session())
        sf.query_all("SELECT Id, Name FROM Opportunity ORDER BY SystemModstamp, Id")

The wire format follows Salesforce's own documentation (REST API Developer Guide: Query,
QueryAll, Query More Results, Limits, sObject Describe, Limit Info Header, Status Codes and
Error Responses; Bulk API 2.0: create / get info / get results of a query job; SOQL: date
formats, quoted string escapes). Where a detail is not documented the docstring says what the
fake assumes, so a test that depends on it knows it is leaning on an assumption.

Writes through the API (sObject Collections update, record create and update, the Tooling
API's CustomField, the permission-set objects that grant field-level security, and the
UserInfo endpoint that gives the API user's id) live in :mod:`tests.fakes.salesforce_writes`,
a mixin this class inherits; its docstring lists their sources and assumptions.

What is deliberately *not* modelled: writes beyond those (collection create, upsert and
delete; record GET and DELETE; composite requests), SOQL beyond the subset an incremental sync
needs, sharing, profiles, per-app usage, SOAP login.

Nothing here reaches the network: the server binds 127.0.0.1 and the sessions made by
``make_session`` refuse every URL that is not the fake (``*.salesforce.com`` is rerouted to it,
so simple-salesforce's hard-wired login hosts land here too).
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
import re
import secrets
import socket
import ssl
import tempfile
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import cmp_to_key
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

import requests
import trustme
from requests.adapters import HTTPAdapter

from tests.fakes.salesforce_writes import SalesforceWrites
from tests.fakes.server import FakeHandler, PagingFault, Reply

DEFAULT_API_VERSION = "59.0"
"""The version simple-salesforce 1.12 puts in its URLs; the fake answers any ``vNN.N``."""

DEFAULT_BATCH_SIZE = 2000
"""REST query batch size: "up to 2,000 records can be returned at a time" (QueryAll docs)."""

DEFAULT_DAILY_API_LIMIT = 15000
"""Matches the ``DailyApiRequests`` Max in the documented ``/limits`` example."""

DEFAULT_BULK_PAGE_SIZE = 50000
"""Bulk results page size when the client sends no ``maxRecords`` (simple-salesforce's own)."""

QUERY_OPTIONS_MIN_BATCH = 200
QUERY_OPTIONS_MAX_BATCH = 2000
"""Bounds for ``Sforce-Query-Options: batchSize=N`` per the Query Options header docs."""

JSON_CONTENT_TYPE = "application/json;charset=UTF-8"


# --- schema -----------------------------------------------------------------------------------

STRING_TYPES = frozenset(
    {"string", "picklist", "combobox", "textarea", "email", "phone", "url", "anyType"}
)
ID_TYPES = frozenset({"id", "reference"})
NUMBER_TYPES = frozenset({"currency", "double", "percent", "int"})
FIELD_TYPES = STRING_TYPES | ID_TYPES | NUMBER_TYPES | {"boolean", "date", "datetime", "base64"}

_SOAP_TYPES = {
    "id": "tns:ID",
    "reference": "tns:ID",
    "boolean": "xsd:boolean",
    "date": "xsd:date",
    "datetime": "xsd:dateTime",
    "currency": "xsd:double",
    "double": "xsd:double",
    "percent": "xsd:double",
    "int": "xsd:int",
    "anyType": "xsd:anyType",
    "base64": "xsd:base64Binary",
}


@dataclass(frozen=True)
class FieldSpec:
    """One field as ``describe`` reports it and as SOQL is allowed to use it.

    ``filterable`` and ``sortable`` matter because Salesforce refuses a WHERE or ORDER BY on
    fields without them (history ``OldValue``/``NewValue`` are ``anyType``: sortable, not
    filterable, per the CaseHistory object reference).
    """

    name: str
    type: str
    filterable: bool = True
    sortable: bool = True
    nillable: bool = True

    @property
    def custom(self) -> bool:
        return self.name.endswith("__c")


@dataclass
class SObjectSpec:
    """The shape of one sObject: name, 3-character key prefix and fields (case-insensitive)."""

    name: str
    key_prefix: str
    fields: dict[str, FieldSpec] = field(default_factory=dict)

    def add(self, spec: FieldSpec) -> None:
        if spec.type not in FIELD_TYPES:
            raise ValueError(f"unknown field type {spec.type!r} for {self.name}.{spec.name}")
        self.fields[spec.name.lower()] = spec

    def field(self, name: str) -> FieldSpec | None:
        return self.fields.get(name.lower())

    @property
    def custom(self) -> bool:
        return self.name.endswith("__c")


_AUDIT_FIELDS = {
    "Id": "id",
    "IsDeleted": "boolean",
    "CreatedDate": "datetime",
    "CreatedById": "reference",
    "LastModifiedDate": "datetime",
    "LastModifiedById": "reference",
    "SystemModstamp": "datetime",
}
# History rows are immutable, so these objects carry only the creation half of the audit set.
_HISTORY_AUDIT = {"Id": "id", "IsDeleted": "boolean", "CreatedDate": "datetime",
                  "CreatedById": "reference"}


def make_sobject(name: str, key_prefix: str, fields: Mapping[str, str],
                 *, audit: Mapping[str, str] = _AUDIT_FIELDS) -> SObjectSpec:
    """Build an sObject spec from ``{field: type}``, with the standard audit fields first.

    ``anyType`` fields are made non-filterable and ``base64`` fields neither filterable nor
    sortable, as the object reference lists them; everything else is both.
    """
    spec = SObjectSpec(name, key_prefix)
    for field_name, field_type in {**audit, **fields}.items():
        spec.add(FieldSpec(
            field_name,
            field_type,
            filterable=field_type not in ("anyType", "base64"),
            sortable=field_type != "base64",
            nillable=field_name not in ("Id", "IsDeleted", "CreatedDate", "SystemModstamp"),
        ))
    return spec


def default_sobjects() -> list[SObjectSpec]:
    """The objects the connector syncs, each with a representative (not complete) field list.

    Field names and types for OpportunityHistory, QuoteDocument, CaseComment and EmailMessage
    follow Salesforce's Field Reference pages; CaseHistory follows the CaseHistory object
    reference plus the StandardObjectNameHistory model (as does OpportunityFieldHistory, per
    its Field Reference page): it has *no* ``SystemModstamp`` and no
    ``LastModifiedDate`` (history rows never change), so an incremental sync must use
    ``CreatedDate`` there. OpportunityHistory, unlike field history, does have
    ``SystemModstamp``. Tests can add fields with :meth:`FakeSalesforce.add_field`.
    """
    return [
        make_sobject("Opportunity", "006", {
            "Name": "string", "AccountId": "reference", "OwnerId": "reference",
            "StageName": "picklist", "Amount": "currency", "CloseDate": "date",
            "Probability": "percent", "Type": "picklist", "LeadSource": "picklist",
            "IsClosed": "boolean", "IsWon": "boolean",
        }),
        make_sobject("OpportunityHistory", "008", {
            "SystemModstamp": "datetime", "OpportunityId": "reference",
            "StageName": "picklist", "Amount": "currency", "ExpectedRevenue": "currency",
            "CloseDate": "date", "Probability": "percent", "ForecastCategory": "picklist",
            "PrevAmount": "currency", "PrevCloseDate": "date",
        }, audit=_HISTORY_AUDIT),
        make_sobject("Quote", "0Q0", {
            "Name": "string", "QuoteNumber": "string", "OpportunityId": "reference",
            "AccountId": "reference", "ContactId": "reference", "OwnerId": "reference",
            "Status": "picklist", "ExpirationDate": "date", "GrandTotal": "currency",
            "IsSyncing": "boolean",
        }),
        make_sobject("QuoteDocument", "0QD", {
            "Name": "string", "QuoteId": "reference", "ContentVersionDocumentId": "reference",
            "Document": "base64", "GrandTotal": "currency", "Discount": "percent",
        }),
        make_sobject("Case", "500", {
            "CaseNumber": "string", "Subject": "string", "Status": "picklist",
            "Priority": "picklist", "Origin": "picklist", "Type": "picklist",
            "Reason": "picklist", "AccountId": "reference", "ContactId": "reference",
            "OwnerId": "reference", "IsClosed": "boolean", "ClosedDate": "datetime",
            "IsEscalated": "boolean",
        }),
        make_sobject("CaseHistory", "017", {
            "CaseId": "reference", "Field": "picklist", "DataType": "picklist",
            "OldValue": "anyType", "NewValue": "anyType",
        }, audit=_HISTORY_AUDIT),
        make_sobject("OpportunityFieldHistory", "017", {
            "OpportunityId": "reference", "Field": "picklist", "DataType": "picklist",
            "OldValue": "anyType", "NewValue": "anyType",
        }, audit=_HISTORY_AUDIT),
        # Present in every org; an object has a RecordTypeId field only once record types
        # are defined for it, so tests that use them add Opportunity.RecordTypeId.
        make_sobject("RecordType", "012", {
            "Name": "string", "DeveloperName": "string", "SobjectType": "picklist",
            "IsActive": "boolean",
        }),
        make_sobject("CaseComment", "00a", {
            "ParentId": "reference", "CommentBody": "textarea", "IsPublished": "boolean",
        }),
        make_sobject("EmailMessage", "02s", {
            "ParentId": "reference", "ActivityId": "reference", "RelatedToId": "reference",
            "ReplyToEmailMessageId": "reference", "Subject": "string",
            "FromAddress": "email", "FromName": "string", "ToAddress": "string",
            "CcAddress": "string", "MessageDate": "datetime", "Incoming": "boolean",
            "Status": "picklist", "HasAttachment": "boolean", "TextBody": "textarea",
        }),
        make_sobject("Task", "00T", {
            "Subject": "combobox", "Status": "picklist", "Priority": "picklist",
            "Type": "picklist", "TaskSubtype": "picklist", "OwnerId": "reference",
            "WhoId": "reference", "WhatId": "reference", "ActivityDate": "date",
            "CompletedDateTime": "datetime", "IsClosed": "boolean", "IsArchived": "boolean",
            "Description": "textarea",  # "Comments" in the UI (the Task reference)
        }),
        make_sobject("Event", "00U", {
            "Subject": "combobox", "Type": "picklist", "EventSubtype": "picklist",
            "OwnerId": "reference", "WhoId": "reference", "WhatId": "reference",
            "StartDateTime": "datetime", "EndDateTime": "datetime",
            "ActivityDateTime": "datetime", "ActivityDate": "date",
            "DurationInMinutes": "int", "IsAllDayEvent": "boolean", "IsArchived": "boolean",
        }),
    ]


# --- ids and timestamps -----------------------------------------------------------------------

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SUFFIX_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def salesforce_id(key_prefix: str, number: int) -> str:
    """An 18-character id: prefix, pod ``Fk``, reserved ``0``, base62 counter, case suffix.

    The last three characters are the real case-insensitivity checksum (one character per
    five-character chunk, encoding which of its characters are upper-case), so ids look and
    validate like the ones a connector will see in production.
    """
    if len(key_prefix) != 3:
        raise ValueError(f"key prefix must have 3 characters, got {key_prefix!r}")
    digits = ""
    while True:
        number, rest = divmod(number, 62)
        digits = _BASE62[rest] + digits
        if number == 0:
            break
    if len(digits) > 9:
        raise ValueError("id counter overflow")
    id15 = f"{key_prefix}Fk0{digits.rjust(9, '0')}"
    return id15 + id_checksum(id15)


def id_checksum(id15: str) -> str:
    """The 3-character suffix that turns a case-sensitive 15-character id into 18 characters."""
    if len(id15) != 15:
        raise ValueError(f"expected a 15-character id, got {id15!r}")
    suffix = ""
    for chunk in range(3):
        bits = 0
        for position, char in enumerate(id15[chunk * 5:chunk * 5 + 5]):
            if "A" <= char <= "Z":
                bits |= 1 << position
        suffix += _SUFFIX_ALPHABET[bits]
    return suffix


def to_utc_datetime(value: datetime | str) -> datetime:
    """Accept an aware datetime or an ISO string; store whole seconds in UTC.

    Whole seconds because Salesforce returns audit timestamps with ``.000`` milliseconds, and
    a fake with sub-second stamps would hide the same-second ties a real incremental sync has
    to survive. Naive datetimes are refused: guessing their zone is how sync bugs are born.
    """
    if isinstance(value, str):
        text = value.strip()
        text = re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", text.replace("Z", "+00:00"))
        value = datetime.fromisoformat(text)
    if not isinstance(value, datetime):
        raise TypeError(f"expected a datetime or ISO string, got {value!r}")
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: give a timezone")
    return value.astimezone(UTC).replace(microsecond=0)


def to_date(value: date | str) -> date:
    if isinstance(value, datetime):
        raise TypeError(f"expected a date, got the datetime {value!r}")
    if isinstance(value, str):
        return date.fromisoformat(value)
    if isinstance(value, date):
        return value
    raise TypeError(f"expected a date or ISO string, got {value!r}")


def rest_datetime(value: datetime) -> str:
    """REST JSON format, e.g. ``2013-05-20T20:49:32.000+0000`` (Limit Info Header example)."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def bulk_datetime(value: datetime) -> str:
    """Bulk CSV format. Assumption: ``2013-05-20T20:49:32.000Z`` (not shown in the docs)."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.000Z")


# --- SOQL subset ------------------------------------------------------------------------------


class SoqlError(Exception):
    """A query Salesforce would refuse; becomes a 400 with ``[{"message", "errorCode"}]``."""

    def __init__(self, error_code: str, message: str) -> None:
        super().__init__(f"{error_code}: {message}")
        self.error_code = error_code
        self.message = message


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    column: int


_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
    | (?P<string>'(?:[^'\\]|\\.)*')
    | (?P<unterminated>')
    | (?P<datetime>\d{4}-\d{2}-\d{2}T[0-9:.]+(?:Z|[+-]\d{2}:?\d{2})?)
    | (?P<date>\d{4}-\d{2}-\d{2})
    | (?P<number>-?\d+(?:\.\d+)?)
    | (?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
    | (?P<op><=|>=|!=|<>|=|<|>)
    | (?P<punct>[,()])
    """,
    re.VERBOSE | re.DOTALL,
)
# Documented SOQL dateTime formats only: YYYY-MM-DDThh:mm:ssZ and YYYY-MM-DDThh:mm:ss+/-hh:mm.
# The REST output format (".000+0000") is deliberately *not* accepted: feeding a returned
# SystemModstamp straight back into SOQL is a bug the fake should surface.
_SOQL_DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:Z|[+-]\d{2}:\d{2})$")
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", '"': '"', "'": "'",
            "\\": "\\"}
_UNSUPPORTED_KEYWORDS = frozenset({
    "OR", "NOT", "LIKE", "INCLUDES", "EXCLUDES", "GROUP", "HAVING", "OFFSET", "WITH",
    "FOR", "USING", "TYPEOF", "FIELDS", "COUNT",
})
_KEYWORDS = frozenset({"SELECT", "FROM", "WHERE", "AND", "ORDER", "BY", "ASC", "DESC",
                       "NULLS", "FIRST", "LAST", "LIMIT", "TRUE", "FALSE", "NULL"})


@dataclass(frozen=True)
class Condition:
    """``field op literal``; ``kind`` is the literal's SOQL type (string, datetime, ...)."""

    field: str
    op: str
    kind: str
    value: Any


@dataclass(frozen=True)
class OrderKey:
    field: str
    descending: bool = False
    nulls_first: bool = True


@dataclass(frozen=True)
class SoqlQuery:
    """A parsed query, with names already resolved to their canonical spelling."""

    sobject: str
    fields: tuple[str, ...]
    conditions: tuple[Condition, ...] = ()
    order_by: tuple[OrderKey, ...] = ()
    limit: int | None = None


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN_RE.match(text, position)
        if match is None:
            raise _syntax_error(text, position + 1, f"unexpected character: '{text[position]}'")
        kind = match.lastgroup or ""
        if kind == "unterminated":
            raise _syntax_error(text, position + 1, "unterminated quoted string")
        if kind != "ws":
            tokens.append(_Token(kind, match.group(), position + 1))
        position = match.end()
    tokens.append(_Token("eof", "", len(text) + 1))
    return tokens


def _locate(text: str, column: int, detail: str) -> str:
    """Shape messages like Salesforce's: the query, a caret, ``ERROR at Row:1:Column:N``."""
    flat = text.replace("\n", " ")
    return f"\n{flat}\n{' ' * (column - 1)}^\nERROR at Row:1:Column:{column}\n{detail}"


def _syntax_error(text: str, column: int, detail: str) -> SoqlError:
    return SoqlError("MALFORMED_QUERY", _locate(text, column, detail))


def _unescape(token: _Token, text: str) -> str:
    body = token.text[1:-1]
    out: list[str] = []
    index = 0
    while index < len(body):
        char = body[index]
        if char != "\\":
            out.append(char)
            index += 1
            continue
        nxt = body[index + 1]
        if nxt.lower() in _ESCAPES and nxt not in "\"'\\":
            out.append(_ESCAPES[nxt.lower()])
            index += 2
        elif nxt in "\"'\\":
            out.append(nxt)
            index += 2
        elif nxt == "u" and re.fullmatch(r"[0-9A-Fa-f]{4}", body[index + 2:index + 6]):
            out.append(chr(int(body[index + 2:index + 6], 16)))
            index += 6
        else:
            raise _syntax_error(text, token.column + index + 1,
                                f"Invalid string literal {token.text}. Illegal character "
                                f"sequence '\\{nxt}' in string literal.")
    return "".join(out)


class _Parser:
    """Recursive-descent parser for ``SELECT .. FROM .. [WHERE a AND b] [ORDER BY] [LIMIT]``."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.index = 0

    def peek(self) -> _Token:
        return self.tokens[self.index]

    def advance(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def keyword(self, token: _Token) -> str | None:
        return token.text.upper() if token.kind == "ident" else None

    def fail(self, token: _Token, detail: str | None = None) -> SoqlError:
        shown = token.text or "<EOF>"
        return _syntax_error(self.text, token.column, detail or f"unexpected token: '{shown}'")

    def unsupported(self, token: _Token) -> SoqlError:
        return self.fail(token, f"FakeSalesforce does not support '{token.text}' (only SELECT "
                                "fields FROM object [WHERE a AND b ...] [ORDER BY ...] "
                                "[LIMIT n] is modelled)")

    def expect_keyword(self, word: str) -> _Token:
        token = self.advance()
        if self.keyword(token) != word:
            raise self.fail(token)
        return token

    def name(self) -> _Token:
        token = self.advance()
        word = self.keyword(token)
        if word in _UNSUPPORTED_KEYWORDS or (token.kind == "ident" and "." in token.text):
            raise self.unsupported(token)
        if token.kind != "ident" or word in _KEYWORDS:
            raise self.fail(token)
        if self.peek().text == "(":
            raise self.unsupported(token)
        return token

    def parse(self) -> tuple[list[_Token], _Token, list[tuple[_Token, str, str, Any]],
                             list[tuple[_Token, bool, bool]], int | None]:
        self.expect_keyword("SELECT")
        fields = [self.name()]
        while self.peek().text == ",":
            self.advance()
            fields.append(self.name())
        self.expect_keyword("FROM")
        sobject = self.name()
        conditions = []
        if self.keyword(self.peek()) == "WHERE":
            self.advance()
            conditions.append(self.condition())
            while self.keyword(self.peek()) == "AND":
                self.advance()
                conditions.append(self.condition())
        order_by = []
        if self.keyword(self.peek()) == "ORDER":
            self.advance()
            self.expect_keyword("BY")
            order_by.append(self.order_key())
            while self.peek().text == ",":
                self.advance()
                order_by.append(self.order_key())
        limit = None
        if self.keyword(self.peek()) == "LIMIT":
            self.advance()
            token = self.advance()
            if token.kind != "number" or not token.text.isdigit():
                raise self.fail(token)
            limit = int(token.text)
        token = self.peek()
        if token.kind != "eof":
            if self.keyword(token) in _UNSUPPORTED_KEYWORDS or token.text in ("(", ")"):
                raise self.unsupported(token)
            raise self.fail(token)
        return fields, sobject, conditions, order_by, limit

    def condition(self) -> tuple[_Token, str, str, Any]:
        if self.peek().text == "(":
            raise self.unsupported(self.peek())
        name = self.name()
        op_token = self.advance()
        if self.keyword(op_token) == "IN":
            return name, "IN", *self.literal_list()
        if self.keyword(op_token) in _UNSUPPORTED_KEYWORDS or op_token.text == "<>":
            raise self.unsupported(op_token)
        if op_token.kind != "op":
            raise self.fail(op_token)
        kind, value = self.literal()
        return name, op_token.text, kind, value

    def literal(self) -> tuple[str, Any]:
        token = self.advance()
        word = self.keyword(token)
        if token.kind == "string":
            return "string", _unescape(token, self.text)
        if token.kind == "datetime":
            if not _SOQL_DATETIME_RE.match(token.text):
                raise self.fail(token, f"line 1:{token.column - 1} invalid dateTime literal "
                                f"'{token.text}': use YYYY-MM-DDThh:mm:ssZ or "
                                "YYYY-MM-DDThh:mm:ss+hh:mm")
            return "datetime", to_utc_datetime(token.text)
        if token.kind == "date":
            return "date", date.fromisoformat(token.text)
        if token.kind == "number":
            number = float(token.text) if "." in token.text else int(token.text)
            return "number", number
        if word in ("TRUE", "FALSE"):
            return "boolean", word == "TRUE"
        if word == "NULL":
            return "null", None
        if token.kind == "ident" and word not in _KEYWORDS:
            raise self.fail(token, f"unexpected token: '{token.text}' (date literals like "
                            "TODAY and bind variables are not supported by FakeSalesforce)")
        if token.text == "(":
            raise self.unsupported(token)
        raise self.fail(token)

    def literal_list(self) -> tuple[str, list[Any]]:
        """``(lit, lit, ...)`` after IN: literals of one kind (semi-joins are not modelled)."""
        token = self.advance()
        if token.text != "(":
            raise self.fail(token)
        if self.keyword(self.peek()) == "SELECT":
            raise self.unsupported(self.peek())
        kinds, values = [], []
        while True:
            kind, value = self.literal()
            kinds.append(kind)
            values.append(value)
            token = self.advance()
            if token.text == ")":
                break
            if token.text != ",":
                raise self.fail(token)
        if len(set(kinds)) > 1:
            raise self.fail(token, "IN needs literals of one type")
        return kinds[0], values

    def order_key(self) -> tuple[_Token, bool, bool]:
        name = self.name()
        descending = False
        if self.keyword(self.peek()) in ("ASC", "DESC"):
            descending = self.keyword(self.advance()) == "DESC"
        nulls_first = not descending
        if self.keyword(self.peek()) == "NULLS":
            self.advance()
            token = self.advance()
            if self.keyword(token) not in ("FIRST", "LAST"):
                raise self.fail(token)
            nulls_first = self.keyword(token) == "FIRST"
        return name, descending, nulls_first


_KIND_FOR_TYPE = {"datetime": "datetime", "date": "date", "boolean": "boolean",
                  **{t: "number" for t in NUMBER_TYPES},
                  **{t: "string" for t in STRING_TYPES | ID_TYPES}}
_SOQL_TYPE_NAME = {"datetime": "dateTime", "date": "date", "boolean": "boolean",
                   "number": "number", "string": "string"}


def parse_soql(text: str, sobjects: Mapping[str, SObjectSpec]) -> SoqlQuery:
    """Parse and type-check a query against the schema, the way the org does before running it.

    Raises:
        SoqlError: ``MALFORMED_QUERY`` for syntax (and anything outside the modelled subset),
            ``INVALID_TYPE`` for an unknown object, ``INVALID_FIELD`` for unknown, unfilterable
            or unsortable fields and for literals of the wrong type.
    """
    fields, sobject_token, conditions, order_by, limit = _Parser(text).parse()
    spec = sobjects.get(sobject_token.text.lower())
    if spec is None:
        raise SoqlError("INVALID_TYPE", _locate(text, sobject_token.column, (
            f"sObject type '{sobject_token.text}' is not supported. If you are attempting to "
            "use a custom object, be sure to append the '__c' after the entity name. Please "
            "reference your WSDL or the describe call for the appropriate names.")))

    def resolve(token: _Token) -> FieldSpec:
        found = spec.field(token.text)
        if found is None:
            raise SoqlError("INVALID_FIELD", _locate(text, token.column, (
                f"No such column '{token.text}' on entity '{spec.name}'. If you are attempting "
                "to use a custom field, be sure to append the '__c' after the custom field "
                "name. Please reference your WSDL or the describe call for the appropriate "
                "names.")))
        return found

    selected: list[str] = []
    for token in fields:
        name = resolve(token).name
        if name in selected:
            raise _syntax_error(text, token.column, f"duplicate field selected: {name}")
        selected.append(name)

    typed: list[Condition] = []
    for token, op, kind, value in conditions:
        field_spec = resolve(token)
        if not field_spec.filterable:
            raise SoqlError("INVALID_FIELD", _locate(text, token.column, (
                f"field '{field_spec.name}' can not be filtered in a query call")))
        expected = _KIND_FOR_TYPE.get(field_spec.type)
        if kind == "null":
            if op not in ("=", "!="):
                raise _syntax_error(text, token.column, f"operator '{op}' is not valid for null")
        elif kind != expected:
            quoted = "" if expected == "string" else " and should not be enclosed in quotes"
            raise SoqlError("INVALID_FIELD", _locate(text, token.column, (
                f"value of filter criterion for field '{field_spec.name}' must be of type "
                f"{_SOQL_TYPE_NAME.get(expected or '', field_spec.type)}{quoted}")))
        elif kind == "boolean" and op not in ("=", "!=", "IN"):
            raise _syntax_error(text, token.column, f"operator '{op}' is not valid for boolean")
        typed.append(Condition(field_spec.name, op, kind, value))

    keys: list[OrderKey] = []
    for token, descending, nulls_first in order_by:
        field_spec = resolve(token)
        if not field_spec.sortable:
            raise SoqlError("INVALID_FIELD", _locate(text, token.column, (
                f"field '{field_spec.name}' can not be sorted in a query call")))
        keys.append(OrderKey(field_spec.name, descending, nulls_first))
    return SoqlQuery(spec.name, tuple(selected), tuple(typed), tuple(keys), limit)


def _comparable(value: Any, field_type: str) -> Any:
    """SOQL compares text case-insensitively; ids are compared as given."""
    if isinstance(value, str) and field_type in STRING_TYPES:
        return value.casefold()
    return value


def _matches(record: Mapping[str, Any], condition: Condition, spec: SObjectSpec) -> bool:
    field_type = spec.fields[condition.field.lower()].type
    actual = record.get(condition.field)
    if condition.kind == "null":
        return (actual is None) == (condition.op == "=")
    if actual is None:
        return condition.op == "!="
    left = _comparable(actual, field_type)
    if condition.op == "IN":
        return left in {_comparable(v, field_type) for v in condition.value}
    right = _comparable(condition.value, field_type)
    return {
        "=": left == right, "!=": left != right, "<": left < right, "<=": left <= right,
        ">": left > right, ">=": left >= right,
    }[condition.op]


def select_rows(query: SoqlQuery, spec: SObjectSpec, records: Iterable[Mapping[str, Any]],
                *, include_deleted: bool) -> list[Mapping[str, Any]]:
    """Run a parsed query over stored records, applying the query/queryAll visibility rule.

    ``query`` never returns soft-deleted rows, even with ``WHERE IsDeleted = true``; it also
    hides archived Task/Event rows (``IsArchived``), which the docs say only queryAll returns.
    Without ORDER BY the order is creation order (Salesforce promises no order at all).
    """
    rows = [
        row for row in records
        if include_deleted or not (row.get("IsDeleted") or row.get("IsArchived"))
    ]
    rows = [row for row in rows if all(_matches(row, c, spec) for c in query.conditions)]
    if query.order_by:
        def compare(a: Mapping[str, Any], b: Mapping[str, Any]) -> int:
            for key in query.order_by:
                field_type = spec.fields[key.field.lower()].type
                left = _comparable(a.get(key.field), field_type)
                right = _comparable(b.get(key.field), field_type)
                if left == right:
                    continue
                if left is None or right is None:
                    first_is_null = left is None
                    return -1 if first_is_null == key.nulls_first else 1
                result = -1 if left < right else 1
                return -result if key.descending else result
            return 0

        rows.sort(key=cmp_to_key(compare))
    if query.limit is not None:
        rows = rows[:query.limit]
    return rows


# --- recorded traffic -------------------------------------------------------------------------


@dataclass(frozen=True)
class RequestRecord:
    """One request the fake answered: enough to assert what the client did and in which order."""

    method: str
    path: str
    query: dict[str, list[str]]
    status: int


@dataclass(frozen=True)
class TokenRequest:
    """A call to ``/services/oauth2/token``, as the fake received it (before any check).

    ``host`` is the host the client *asked for* (e.g. ``login.salesforce.com``) even when
    :meth:`FakeSalesforce.make_session` rerouted it here.
    """

    grant_type: str
    params: dict[str, str]
    basic_auth: tuple[str, str] | None
    jwt_claims: dict[str, Any] | None
    host: str


@dataclass
class _Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def _json(status: int, payload: Any) -> _Response:
    return _Response(status, json.dumps(payload).encode(), {"Content-Type": JSON_CONTENT_TYPE})


def _error(status: int, error_code: str, message: str) -> _Response:
    """REST errors are a JSON *list* of ``{"message", "errorCode"}`` (Status Codes docs)."""
    return _json(status, [{"message": message, "errorCode": error_code}])


@dataclass
class _Cursor:
    """A REST query locator: the result snapshot taken when the query ran."""

    records: list[dict[str, Any]]
    batch_size: int


@dataclass
class _BulkJob:
    id: str
    operation: str
    sobject: str
    api_version: str
    columns: tuple[str, ...]
    rows: list[list[str]]
    column_delimiter: str
    line_ending: str
    created: datetime
    query: str = ""
    state: str = "UploadComplete"
    polls: int = 0
    error_message: str | None = None


_DELIMITERS = {"COMMA": ",", "TAB": "\t", "PIPE": "|", "SEMICOLON": ";", "CARET": "^",
               "BACKQUOTE": "`"}
_LINE_ENDINGS = {"LF": "\n", "CRLF": "\r\n"}
_DATA_PATH_RE = re.compile(r"^/services/data/v(?P<version>\d+\.\d)(?P<rest>/.*)?$")
_JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


# --- the fake org -----------------------------------------------------------------------------


class FakeSalesforce(SalesforceWrites):
    """An in-memory org behind a local HTTPS server; see the module docstring for the why.

    Args:
        daily_api_limit: The ``M`` in ``Sforce-Limit-Info: api-usage=N/M`` and the
            ``DailyApiRequests`` Max. Once ``N`` reaches it, calls get 403
            ``REQUEST_LIMIT_EXCEEDED``.
        api_requests_used: Starting ``N``, to test behaviour near the limit without making
            thousands of calls.
        batch_size: REST query page size. Salesforce's is 2000; tests set it small so paging
            is exercised with a handful of records.
        bulk_in_progress_polls: How many job-info polls answer ``InProgress`` before a Bulk 2.0
            query job reports ``JobComplete``.
        clock: Source of "now" for audit stamps (must return aware datetimes). Defaults to
            the wall clock.
        sobjects: Schema override; defaults to :func:`default_sobjects`.

    Attributes:
        session_id: A valid access token minted at construction, for
            ``Salesforce(instance=..., session_id=...)``; it dies with :meth:`expire_sessions`.
        api_requests_used: The running ``N``; tests may set it (e.g. to 0 for "a new day").

    Every REST call under ``/services/data`` with a valid session counts one API request,
    including ``/limits`` and Bulk 2.0 calls; OAuth token calls do not (assumption: the docs
    only name the versions resource ``/`` as exempt).
    """

    def __init__(
        self,
        *,
        daily_api_limit: int = DEFAULT_DAILY_API_LIMIT,
        api_requests_used: int = 0,
        batch_size: int = DEFAULT_BATCH_SIZE,
        bulk_in_progress_polls: int = 1,
        clock: Callable[[], datetime] | None = None,
        sobjects: Iterable[SObjectSpec] | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be positive")
        self.daily_api_limit = daily_api_limit
        self.api_requests_used = api_requests_used
        self.batch_size = batch_size
        self.bulk_in_progress_polls = bulk_in_progress_polls
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self.org_id = salesforce_id("00D", 1)
        self.user_id = salesforce_id("005", 1)
        self._sobjects = {spec.name.lower(): spec for spec in (sobjects or default_sobjects())}
        self._records: dict[str, dict[str, dict[str, Any]]] = {
            name: {} for name in self._sobjects
        }
        self._counter = 0
        self._lock = threading.RLock()
        self._sessions: set[str] = set()
        self._cursors: dict[str, _Cursor] = {}
        self._jobs: dict[str, _BulkJob] = {}
        self._bulk_jobs_created = 0
        self._fail_next_bulk_job: str | None = None
        self._faults: list[tuple[int, str, str]] = []
        self._paging_fault = PagingFault(("repeat", "stall"))
        self._login_error: tuple[str, str] | None = None
        self._log: list[RequestRecord] = []
        self._token_requests: list[TokenRequest] = []
        self._issued: list[str] = []
        self._jwt_keys: dict[str, str | bytes] = {}
        self._server: _TlsServer | None = None
        self._thread: threading.Thread | None = None
        self._tempdir: tempfile.TemporaryDirectory[str] | None = None
        self._ca_path: Path | None = None
        self._init_writes()
        self.session_id = self.issue_session()

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> FakeSalesforce:
        """Create the CA and certificate, bind a free port on 127.0.0.1 and start serving."""
        if self._server is not None:
            return self
        ca = trustme.CA()
        leaf = ca.issue_cert("127.0.0.1", "localhost")
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        leaf.configure_cert(context)
        self._tempdir = tempfile.TemporaryDirectory(prefix="fake-salesforce-")
        self._ca_path = Path(self._tempdir.name) / "ca.pem"
        ca.cert_pem.write_to_path(str(self._ca_path))
        self._server = _TlsServer(("127.0.0.1", 0), _Handler, context, self)
        # A short poll interval keeps stop() fast; shutdown() waits for one poll tick.
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,),
                                        name="fake-salesforce", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, drop open connections and delete the CA file."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.close_connections()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._tempdir is not None:
            self._tempdir.cleanup()
        self._server = self._thread = self._tempdir = self._ca_path = None

    def __enter__(self) -> FakeSalesforce:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- where to connect --------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("FakeSalesforce is not started")
        return int(self._server.server_address[1])

    @property
    def instance(self) -> str:
        """``127.0.0.1:PORT``: what ``Salesforce(instance=...)`` expects (host, no scheme)."""
        return f"127.0.0.1:{self.port}"

    @property
    def instance_url(self) -> str:
        """``https://127.0.0.1:PORT``: what the token endpoint returns as ``instance_url``."""
        return f"https://{self.instance}"

    @property
    def token_url(self) -> str:
        return f"{self.instance_url}/services/oauth2/token"

    @property
    def ca_cert_path(self) -> str:
        """PEM file of the throwaway CA; give it to ``requests`` as ``verify``."""
        if self._ca_path is None:
            raise RuntimeError("FakeSalesforce is not started")
        return str(self._ca_path)

    def make_session(self, *, route_salesforce_hosts: bool = True) -> requests.Session:
        """A ``requests.Session`` that trusts the fake's CA and can reach nothing else.

        ``trust_env`` is off so proxy variables cannot send traffic elsewhere. With
        ``route_salesforce_hosts`` (the default), ``https://*.salesforce.com`` URLs are
        rewritten to the fake: simple-salesforce builds its OAuth URLs as
        ``https://{domain}.salesforce.com/...`` with no way to point them elsewhere, so this
        is what lets its own login and session-refresh code run against the fake. Every other
        URL raises ``requests.ConnectionError`` before a socket is opened.
        """
        session = requests.Session()
        session.trust_env = False
        session.verify = self.ca_cert_path
        adapter = _LoopbackAdapter(self.port, route_salesforce_hosts)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        return session

    # -- sessions and OAuth ------------------------------------------------------------------

    def issue_session(self) -> str:
        """Mint a valid access token (``00D...!...``, the shape real tokens have)."""
        token = f"{self.org_id[:15]}!{secrets.token_urlsafe(48)}"
        with self._lock:
            self._sessions.add(token)
            self._issued.append(token)
        return token

    @property
    def issued_sessions(self) -> list[str]:
        """Every access token minted so far, valid or not (to assert none leaks anywhere)."""
        with self._lock:
            return list(self._issued)

    def trust_jwt_key(self, consumer_key: str, public_key_pem: str | bytes) -> None:
        """Verify JWT bearer assertions issued by ``consumer_key`` with this RSA public key.

        This is the certificate uploaded to a connected app. Assertions from consumer keys
        without a key are checked for their claims only (the signature is not verified).
        """
        with self._lock:
            self._jwt_keys[consumer_key] = public_key_pem

    def expire_sessions(self) -> None:
        """Invalidate every token issued so far; later calls with them get 401.

        Tokens issued afterwards (by :meth:`issue_session` or the token endpoint) are valid,
        which is exactly the "session timed out, log in again" situation.
        """
        with self._lock:
            self._sessions.clear()

    def expire_session(self, token: str) -> None:
        with self._lock:
            self._sessions.discard(token)

    def reject_logins(self, error: str | None = "invalid_grant",
                      description: str = "authentication failure") -> None:
        """Make the token endpoint answer 400 ``{"error", "error_description"}``; None undoes."""
        with self._lock:
            self._login_error = None if error is None else (error, description)

    @property
    def token_requests(self) -> list[TokenRequest]:
        with self._lock:
            return list(self._token_requests)

    # -- API usage, faults and the request log -----------------------------------------------

    def fail_next(self, count: int = 1, status: int = 503, *, error_code: str | None = None,
                  message: str | None = None) -> None:
        """Answer the next ``count`` requests under ``/services/`` with ``status``.

        Faults come before authentication and are not counted as API usage: they stand for
        the platform being unavailable, not for the org refusing the call. The default error
        codes (``SERVER_UNAVAILABLE`` for 503, ``UNKNOWN_EXCEPTION`` otherwise) are assumptions.
        """
        code = error_code or ("SERVER_UNAVAILABLE" if status == 503 else "UNKNOWN_EXCEPTION")
        text = message or f"FakeSalesforce injected HTTP {status}"
        with self._lock:
            self._faults.extend([(status, code, text)] * count)

    def clear_faults(self) -> None:
        """Forget injected faults (and a paging fault) that no request has used up yet."""
        with self._lock:
            self._faults.clear()
            self._paging_fault.set(None)

    def loop_paging(self, mode: str, times: int = 50) -> None:
        """Page as a broken org or proxy would, which would keep a client paging forever.

        ``"repeat"``: following a ``nextRecordsUrl`` answers that page again with the same
        ``nextRecordsUrl`` (and ``done: false``); a Bulk 2.0 results call with a ``locator``
        answers with that same ``Sforce-Locator``.
        ``"stall"``: query pages and Bulk 2.0 results are empty but still offer a next page
        (a new ``nextRecordsUrl`` each time, ``done: false``; a ``Sforce-Locator``).

        After ``times`` such answers the fake pages correctly again, so a client without a loop
        check ends (and its test fails on what it did) instead of hanging the test run.
        """
        with self._lock:
            self._paging_fault.set(mode, times)

    @property
    def bulk_jobs(self) -> list[tuple[str, str, str]]:
        """(operation, sObject, SOQL) of every Bulk 2.0 query job created, oldest first."""
        with self._lock:
            return [(job.operation, job.sobject, job.query) for job in self._jobs.values()]

    def fail_next_bulk_job(self, error_message: str = "FakeSalesforce injected failure") -> None:
        """Make the next Bulk 2.0 query job end in state ``Failed`` with ``errorMessage``."""
        with self._lock:
            self._fail_next_bulk_job = error_message

    def expire_query_locators(self) -> None:
        """Forget open query cursors; following a ``nextRecordsUrl`` then gets 400.

        Real locators expire after inactivity; the error code ``INVALID_QUERY_LOCATOR`` is
        the SOAP fault name and an assumption for REST.
        """
        with self._lock:
            self._cursors.clear()

    @property
    def request_log(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._log)

    def clear_request_log(self) -> None:
        with self._lock:
            self._log.clear()

    # -- schema and records ------------------------------------------------------------------

    def sobject(self, name: str) -> SObjectSpec:
        spec = self._sobjects.get(name.lower())
        if spec is None:
            raise KeyError(f"unknown sObject {name!r}; known: {sorted(self._sobjects)}")
        return spec

    def define_object(self, name: str, key_prefix: str, fields: Mapping[str, str]) -> None:
        """Add an sObject (e.g. a custom ``Promise__c``) with the standard audit fields."""
        with self._lock:
            self._sobjects[name.lower()] = make_sobject(name, key_prefix, fields)
            self._records.setdefault(name.lower(), {})

    def add_field(self, sobject: str, name: str, field_type: str, *,
                  filterable: bool = True, sortable: bool = True) -> None:
        """Add a field (typically a custom ``X__c``) to an existing sObject."""
        with self._lock:
            self.sobject(sobject).add(FieldSpec(name, field_type, filterable, sortable))

    def add_record(self, sobject: str, fields: Mapping[str, Any] | None = None) -> str:
        """Store a new record and return its 18-character Id.

        Audit fields the caller leaves out are filled in: ``CreatedDate`` from the clock,
        ``LastModifiedDate``/``SystemModstamp`` equal to it, ``IsDeleted`` false, creator the
        fake's user. Unknown field names raise, so test data stays close to the real schema.
        """
        with self._lock:
            spec = self.sobject(sobject)
            values = self._coerce(spec, fields or {})
            if "Id" in values:
                raise ValueError("Id is assigned by the fake")
            self._counter += 1
            record: dict[str, Any] = {f.name: None for f in spec.fields.values()}
            record["Id"] = salesforce_id(spec.key_prefix, self._counter)
            record["IsDeleted"] = False
            created = values.get("CreatedDate") or to_utc_datetime(self.clock())
            record["CreatedDate"] = created
            for name in ("LastModifiedDate", "SystemModstamp"):
                if spec.field(name):
                    record[name] = created
            for name in ("CreatedById", "LastModifiedById", "OwnerId"):
                if spec.field(name):
                    record[name] = self.user_id
            for name in ("IsArchived", "IsClosed", "IsWon", "IsEscalated", "Incoming",
                         "HasAttachment", "IsPublished", "IsSyncing", "IsAllDayEvent"):
                if spec.field(name):
                    record[name] = False
            record.update(values)
            self._records[spec.name.lower()][record["Id"]] = record
            return str(record["Id"])

    def update_record(self, sobject: str, record_id: str, fields: Mapping[str, Any]) -> None:
        """Change fields and bump ``SystemModstamp``/``LastModifiedDate`` (unless given)."""
        with self._lock:
            spec = self.sobject(sobject)
            record = self._record(spec, record_id)
            values = self._coerce(spec, fields)
            self._touch(spec, record, values)
            record.update(values)

    def delete_record(self, sobject: str, record_id: str, *,
                      at: datetime | str | None = None) -> None:
        """Soft-delete: ``IsDeleted`` true, visible only to queryAll, stamp bumped.

        Assumption: deleting bumps ``SystemModstamp``, so a queryAll filtered on it picks the
        deletion up (what SystemModstamp-based replicators rely on; not stated in the docs).
        ``at`` sets that stamp (default: the clock).
        """
        with self._lock:
            spec = self.sobject(sobject)
            record = self._record(spec, record_id)
            stamps = {} if at is None else {
                name: to_utc_datetime(at) for name in ("LastModifiedDate", "SystemModstamp")
                if spec.field(name)}
            self._touch(spec, record, stamps)
            record.update(stamps)
            record["IsDeleted"] = True

    def undelete_record(self, sobject: str, record_id: str) -> None:
        with self._lock:
            spec = self.sobject(sobject)
            record = self._record(spec, record_id)
            self._touch(spec, record, {})
            record["IsDeleted"] = False

    def purge_record(self, sobject: str, record_id: str) -> None:
        """Hard-delete (recycle bin emptied): after this even queryAll cannot see the record."""
        with self._lock:
            spec = self.sobject(sobject)
            self._record(spec, record_id)
            del self._records[spec.name.lower()][record_id]

    def get_record(self, sobject: str, record_id: str) -> dict[str, Any]:
        """A copy of the stored record (Python values: datetimes are aware UTC)."""
        with self._lock:
            return dict(self._record(self.sobject(sobject), record_id))

    def records(self, sobject: str) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(r) for r in self._records[self.sobject(sobject).name.lower()].values()]

    def _record(self, spec: SObjectSpec, record_id: str) -> dict[str, Any]:
        try:
            return self._records[spec.name.lower()][record_id]
        except KeyError:
            raise KeyError(f"no {spec.name} with Id {record_id!r}") from None

    def _touch(self, spec: SObjectSpec, record: dict[str, Any], values: dict[str, Any]) -> None:
        now = to_utc_datetime(self.clock())
        for name in ("LastModifiedDate", "SystemModstamp"):
            if spec.field(name) and name not in values:
                record[name] = now

    def _coerce(self, spec: SObjectSpec, fields: Mapping[str, Any]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, value in fields.items():
            field_spec = spec.field(name)
            if field_spec is None:
                known = ", ".join(sorted(f.name for f in spec.fields.values()))
                raise KeyError(f"{spec.name} has no field {name!r} (known: {known}); "
                               "use add_field() for custom fields")
            if value is not None and field_spec.type == "datetime":
                value = to_utc_datetime(value)
            elif value is not None and field_spec.type == "date":
                value = to_date(value)
            values[field_spec.name] = value
        return values

    # -- HTTP dispatch -----------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: Mapping[str, str],
               body: bytes) -> _Response:
        """Answer one request; the HTTP handler is a thin shell around this.

        The whole exchange runs under the lock, so concurrent clients see a consistent org
        and the request log is in the order requests were answered.
        """
        parts = urlsplit(target)
        query = parse_qs(parts.query, keep_blank_values=True)
        with self._lock:
            response = self._route(method, parts.path, query, headers, body)
            self._log.append(RequestRecord(method, parts.path, query, response.status))
            return response

    def _route(self, method: str, path: str, query: dict[str, list[str]],
               headers: Mapping[str, str], body: bytes) -> _Response:
        if self._faults and path.startswith("/services/"):
            status, code, message = self._faults.pop(0)
            return _error(status, code, message)
        if path.rstrip("/") == "/services/oauth2/token":
            if method != "POST":
                return _method_not_allowed(method, "POST")
            return self._token_endpoint(headers, body)
        if path.rstrip("/") == "/services/oauth2/userinfo":
            return self._userinfo(method, headers)
        match = _DATA_PATH_RE.match(path)
        if match is None:
            return _error(404, "NOT_FOUND", "The requested resource does not exist")
        if self._bearer(headers) not in self._sessions:
            return _error(401, "INVALID_SESSION_ID", "Session expired or invalid")
        if self.api_requests_used >= self.daily_api_limit:
            response = _error(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
        else:
            self.api_requests_used += 1
            version = match.group("version")
            segments = [s for s in (match.group("rest") or "").split("/") if s]
            response = self._data_resource(method, version, segments, query, headers, body)
        response.headers["Sforce-Limit-Info"] = (
            f"api-usage={self.api_requests_used}/{self.daily_api_limit}"
        )
        return response

    @staticmethod
    def _bearer(headers: Mapping[str, str]) -> str | None:
        value = headers.get("Authorization", "")
        scheme, _, token = value.partition(" ")
        return token.strip() if scheme in ("Bearer", "OAuth") else None

    def _data_resource(self, method: str, version: str, segments: list[str],
                       query: dict[str, list[str]], headers: Mapping[str, str],
                       body: bytes) -> _Response:
        written = self._write_resource(method, version, segments, query, headers, body)
        if written is not None:
            return written
        head = segments[0] if segments else ""
        if head in ("query", "queryAll") and len(segments) <= 2:
            if method != "GET":
                return _method_not_allowed(method, "GET,HEAD")
            if len(segments) == 2:
                return self._query_more(version, segments[1])
            return self._query(version, query, headers, include_deleted=head == "queryAll")
        if segments == ["limits"]:
            return _method_not_allowed(method, "GET,HEAD") if method != "GET" else self._limits()
        if segments == ["sobjects"]:
            if method != "GET":
                return _method_not_allowed(method, "GET,HEAD")
            return self._describe_global(version)
        if len(segments) == 3 and head == "sobjects" and segments[2] == "describe":
            if method != "GET":
                return _method_not_allowed(method, "GET,HEAD")
            return self._describe(version, segments[1])
        if segments[:2] == ["jobs", "query"]:
            return self._bulk(method, version, segments[2:], query, body)
        return _error(404, "NOT_FOUND", "The requested resource does not exist")

    # -- REST query --------------------------------------------------------------------------

    def _query(self, version: str, params: dict[str, list[str]], headers: Mapping[str, str],
               *, include_deleted: bool) -> _Response:
        text = (params.get("q") or [""])[0]
        if not text.strip():
            return _error(400, "MALFORMED_QUERY", "A query string parameter 'q' is required")
        try:
            parsed = parse_soql(text, self._sobjects)
        except SoqlError as exc:
            return _error(400, exc.error_code, exc.message)
        spec = self._sobjects[parsed.sobject.lower()]
        rows = select_rows(parsed, spec, self._records[spec.name.lower()].values(),
                           include_deleted=include_deleted)
        records = [self._rest_record(spec, parsed.fields, row, version) for row in rows]
        batch = self._batch_size(headers)
        return self._page(version, _Cursor(records, batch), 0)

    def _batch_size(self, headers: Mapping[str, str]) -> int:
        """Server batch size, lowered by ``Sforce-Query-Options: batchSize=N`` (200..2000)."""
        options = headers.get("Sforce-Query-Options", "")
        match = re.search(r"batchSize\s*=\s*(\d+)", options)
        if match is None:
            return self.batch_size
        requested = min(max(int(match.group(1)), QUERY_OPTIONS_MIN_BATCH),
                        QUERY_OPTIONS_MAX_BATCH)
        return min(requested, self.batch_size)

    def _page(self, version: str, cursor: _Cursor, offset: int) -> _Response:
        end = offset + cursor.batch_size
        stall = self._paging_fault.hits("stall")
        if stall or (offset > 0 and self._paging_fault.hits("repeat")):
            end = offset  # an empty page (stall), or the same page next (repeat)
        payload: dict[str, Any] = {"totalSize": len(cursor.records),
                                   "done": end >= len(cursor.records) and end > offset}
        if not payload["done"]:
            cursor_id = next((key for key, value in self._cursors.items() if value is cursor),
                             None)
            if cursor_id is None or stall:
                self._counter += 1
                cursor_id = salesforce_id("01g", self._counter)
                self._cursors[cursor_id] = cursor
            # Documented shape: "/services/data/v59.0/query/01gD0000002HU6KIAW-2000", and
            # "query" (not "queryAll") even when the first call was queryAll.
            payload["nextRecordsUrl"] = f"/services/data/v{version}/query/{cursor_id}-{end}"
        payload["records"] = [] if stall else cursor.records[offset:offset + cursor.batch_size]
        return _json(200, payload)

    def _query_more(self, version: str, locator: str) -> _Response:
        cursor_id, _, offset_text = locator.rpartition("-")
        cursor = self._cursors.get(cursor_id)
        if cursor is None or not offset_text.isdigit() or int(offset_text) > len(cursor.records):
            return _error(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        return self._page(version, cursor, int(offset_text))

    def _rest_record(self, spec: SObjectSpec, fields: tuple[str, ...],
                     row: Mapping[str, Any], version: str) -> dict[str, Any]:
        out: dict[str, Any] = {"attributes": {
            "type": spec.name,
            "url": f"/services/data/v{version}/sobjects/{spec.name}/{row['Id']}",
        }}
        for name in fields:
            value = row.get(name)
            if isinstance(value, datetime):
                value = rest_datetime(value)
            elif isinstance(value, date):
                value = value.isoformat()
            out[name] = value
        return out

    # -- limits and describe -----------------------------------------------------------------

    def _limits(self) -> _Response:
        remaining = max(self.daily_api_limit - self.api_requests_used, 0)
        return _json(200, {
            "DailyApiRequests": {"Max": self.daily_api_limit, "Remaining": remaining},
            "DailyBulkV2QueryJobs": {"Max": 10000,
                                     "Remaining": max(10000 - self._bulk_jobs_created, 0)},
        })

    def _describe_global(self, version: str) -> _Response:
        return _json(200, {
            "encoding": "UTF-8",
            "maxBatchSize": 200,
            "sobjects": [self._sobject_summary(spec, version)
                         for spec in sorted(self._sobjects.values(), key=lambda s: s.name)],
        })

    def _sobject_summary(self, spec: SObjectSpec, version: str) -> dict[str, Any]:
        base = f"/services/data/v{version}/sobjects/{spec.name}"
        return {
            "name": spec.name, "label": _label(spec.name), "keyPrefix": spec.key_prefix,
            "custom": spec.custom, "queryable": True, "retrieveable": True,
            "replicateable": True, "searchable": True,
            "urls": {"sobject": base, "describe": f"{base}/describe",
                     "rowTemplate": f"{base}/{{ID}}"},
        }

    def _describe(self, version: str, name: str) -> _Response:
        spec = self._sobjects.get(name.lower())
        if spec is None:
            return _error(404, "NOT_FOUND", "The requested resource does not exist")
        payload = self._sobject_summary(spec, version)
        payload["fields"] = [
            {
                "name": f.name, "label": _label(f.name), "type": f.type,
                "soapType": _SOAP_TYPES.get(f.type, "xsd:string"), "nillable": f.nillable,
                "filterable": f.filterable, "sortable": f.sortable, "custom": f.custom,
                "length": 18 if f.type in ID_TYPES else (255 if f.type in STRING_TYPES else 0),
            }
            for f in spec.fields.values()
        ]
        return _json(200, payload)

    # -- OAuth token endpoint ----------------------------------------------------------------

    def _token_endpoint(self, headers: Mapping[str, str], body: bytes) -> _Response:
        params = {k: v[0] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
        grant = params.get("grant_type", "")
        basic = _basic_auth(headers.get("Authorization", ""))
        claims = _jwt_claims(params.get("assertion", "")) if grant == _JWT_GRANT else None
        host = headers.get("X-Fake-Original-Host") or headers.get("Host", "")
        self._token_requests.append(TokenRequest(grant, params, basic, claims, host))

        def oauth_error(error: str, description: str) -> _Response:
            return _json(400, {"error": error, "error_description": description})

        if self._login_error is not None:
            return oauth_error(*self._login_error)
        if grant == "password":
            if not params.get("client_id"):
                return oauth_error("invalid_client_id", "client identifier invalid")
            if not params.get("username") or not params.get("password"):
                return oauth_error("invalid_grant", "authentication failure")
        elif grant == "client_credentials":
            if basic is None and not params.get("client_id"):
                return oauth_error("invalid_client", "invalid client credentials")
        elif grant == _JWT_GRANT:
            if claims is None:
                return oauth_error("invalid_grant", "invalid assertion")
            problem = self._jwt_problem(params.get("assertion", ""), claims, host)
            if problem is not None:
                return oauth_error("invalid_grant", problem)
        elif grant == "refresh_token":
            if not params.get("refresh_token"):
                return oauth_error("invalid_grant", "expired access/refresh token")
        elif not grant:
            return oauth_error("invalid_request", "grant type is missing")
        else:
            return oauth_error("unsupported_grant_type", "grant type not supported")
        token = self.issue_session()
        issued_ms = int(to_utc_datetime(self.clock()).timestamp() * 1000)
        return _json(200, {
            "access_token": token,
            "instance_url": self.instance_url,
            "id": f"{self.instance_url}/id/{self.org_id}/{self.user_id}",
            "token_type": "Bearer",
            "issued_at": str(issued_ms),
            "signature": base64.b64encode(secrets.token_bytes(32)).decode(),
            "scope": "api",
        })

    def _jwt_problem(self, assertion: str, claims: dict[str, Any], host: str) -> str | None:
        """Why Salesforce would refuse this JWT bearer assertion, or None.

        The claims follow the OAuth 2.0 JWT Bearer Flow page: ``iss`` the consumer key, ``sub``
        the username, ``aud`` https://login.salesforce.com, https://test.salesforce.com or
        (assumption, for a fake reached at its own address) the URL of the host asked, and
        ``exp`` within three minutes of now. ``exp`` is checked against the wall clock, not
        the org clock: the client signs with real time. A minute of skew is allowed.
        """
        import time

        import jwt

        if not isinstance(claims.get("iss"), str) or not claims["iss"]:
            return "invalid client credentials"
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            return "user hasn't approved this consumer"
        audiences = {"https://login.salesforce.com", "https://test.salesforce.com",
                     f"https://{host}"}
        if claims.get("aud") not in audiences:
            return "audience is invalid"
        try:
            expires = float(claims.get("exp"))  # simple-salesforce sends it as a string
        except (TypeError, ValueError):
            return "invalid assertion"
        now = time.time()
        if expires <= now - 60:
            return "expired authorization code"
        if expires > now + 180 + 60:
            return "invalid assertion"
        key = self._jwt_keys.get(claims["iss"])
        if key is not None:
            try:
                jwt.decode(assertion, key, algorithms=["RS256"],
                           options={"verify_aud": False, "verify_exp": False})
            except jwt.exceptions.PyJWTError:
                return "invalid assertion"
        return None

    # -- Bulk API 2.0 query jobs -------------------------------------------------------------

    def _bulk(self, method: str, version: str, rest: list[str],
              query: dict[str, list[str]], body: bytes) -> _Response:
        if not rest:
            if method != "POST":
                return _method_not_allowed(method, "POST")
            return self._bulk_create(version, body)
        job = self._jobs.get(rest[0])
        if job is None or len(rest) > 2 or (len(rest) == 2 and rest[1] != "results"):
            return _error(404, "NOT_FOUND", "The requested resource does not exist")
        if len(rest) == 2:
            if method != "GET":
                return _method_not_allowed(method, "GET")
            return self._bulk_results(job, query)
        if method == "GET":
            return self._bulk_poll(job)
        if method == "PATCH":
            try:
                state = json.loads(body or b"{}").get("state")
            except (ValueError, AttributeError):
                state = None
            if state != "Aborted":
                return _error(400, "INVALIDJOBSTATE", f"cannot change job state to {state!r}")
            job.state = "Aborted"
            return _json(200, self._job_info(job))
        if method == "DELETE":
            del self._jobs[job.id]
            return _Response(204)
        return _method_not_allowed(method, "GET,PATCH,DELETE")

    def _bulk_create(self, version: str, body: bytes) -> _Response:
        try:
            payload = json.loads(body or b"{}")
        except ValueError as exc:
            return _error(400, "JSON_PARSER_ERROR", f"Unable to parse the request body: {exc}")
        if not isinstance(payload, dict):
            return _error(400, "JSON_PARSER_ERROR", "The request body must be a JSON object")
        operation = payload.get("operation")
        if operation not in ("query", "queryAll"):
            return _error(400, "API_ERROR", f"operation must be query or queryAll, "
                          f"got {operation!r}")
        delimiter = payload.get("columnDelimiter", "COMMA")
        line_ending = payload.get("lineEnding", "LF")
        if delimiter not in _DELIMITERS or line_ending not in _LINE_ENDINGS:
            return _error(400, "API_ERROR", "unsupported columnDelimiter or lineEnding")
        try:
            # Assumption: bad SOQL is refused when the job is created, with the REST codes.
            parsed = parse_soql(str(payload.get("query") or ""), self._sobjects)
        except SoqlError as exc:
            return _error(400, exc.error_code, exc.message)
        spec = self._sobjects[parsed.sobject.lower()]
        rows = select_rows(parsed, spec, self._records[spec.name.lower()].values(),
                           include_deleted=operation == "queryAll")
        self._counter += 1
        self._bulk_jobs_created += 1
        job = _BulkJob(
            id=salesforce_id("750", self._counter),
            operation=operation,
            sobject=spec.name,
            api_version=version,
            columns=parsed.fields,
            rows=[[_csv_value(row.get(name)) for name in parsed.fields] for row in rows],
            column_delimiter=delimiter,
            line_ending=line_ending,
            created=to_utc_datetime(self.clock()),
            query=str(payload.get("query") or ""),
            error_message=self._fail_next_bulk_job,
        )
        self._fail_next_bulk_job = None
        self._jobs[job.id] = job
        info = self._job_info(job)
        for key in ("jobType", "numberRecordsProcessed", "retries", "totalProcessingTime",
                    "isPkChunkingSupported"):
            info.pop(key)  # the documented create response has none of these
        return _json(200, info)

    def _bulk_poll(self, job: _BulkJob) -> _Response:
        if job.state in ("UploadComplete", "InProgress"):
            job.polls += 1
            if job.polls <= self.bulk_in_progress_polls:
                job.state = "InProgress"
            else:
                job.state = "Failed" if job.error_message else "JobComplete"
        return _json(200, self._job_info(job))

    def _job_info(self, job: _BulkJob) -> dict[str, Any]:
        info: dict[str, Any] = {
            "id": job.id,
            "operation": job.operation,
            "object": job.sobject,
            "createdById": self.user_id,
            "createdDate": rest_datetime(job.created),
            "systemModstamp": rest_datetime(job.created),
            "state": job.state,
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": float(job.api_version),
            "jobType": "V2Query",
            "lineEnding": job.line_ending,
            "columnDelimiter": job.column_delimiter,
            "numberRecordsProcessed": len(job.rows) if job.state == "JobComplete" else 0,
            "retries": 0,
            "totalProcessingTime": 0,
            "isPkChunkingSupported": True,
        }
        if job.state == "Failed":
            info["errorMessage"] = job.error_message
        return info

    def _bulk_results(self, job: _BulkJob, query: dict[str, list[str]]) -> _Response:
        if job.state != "JobComplete":
            # Shape from the "Get Results for a Query Job" example for an unfinished job.
            return _error(412, "JOB_NOT_COMPLETE", (
                "can only download query results of successfully completed bulk job with "
                f"status: JOB_COMPLETE. Current status: {job.state}"))
        max_text = (query.get("maxRecords") or [str(DEFAULT_BULK_PAGE_SIZE)])[0]
        if not max_text.isdigit() or int(max_text) < 1:
            return _error(400, "INVALIDMAXRECORDS", f"invalid maxRecords: {max_text!r}")
        offset = _decode_locator((query.get("locator") or [""])[0])
        if offset is None or offset > len(job.rows):
            return _error(400, "INVALIDLOCATOR", "invalid locator")
        page = job.rows[offset:offset + int(max_text)]
        end = offset + len(page)
        looping = self._paging_fault.hits("stall")
        if looping:
            page, end = [], offset
        elif query.get("locator") and self._paging_fault.hits("repeat"):
            end, looping = offset, True
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter=_DELIMITERS[job.column_delimiter],
                            lineterminator=_LINE_ENDINGS[job.line_ending], quoting=csv.QUOTE_ALL)
        writer.writerow(job.columns)
        writer.writerows(page)
        return _Response(200, buffer.getvalue().encode(), {
            "Content-Type": "text/csv",
            "Sforce-NumberOfRecords": str(len(page)),
            # "If there are no more results, the value is the string 'null'."
            "Sforce-Locator": _encode_locator(end) if end < len(job.rows) or looping else "null",
        })


def _method_not_allowed(method: str, allowed: str) -> _Response:
    return _error(405, "METHOD_NOT_ALLOWED",
                  f"HTTP Method '{method}' not allowed. Allowed are {allowed}")


def _label(name: str) -> str:
    bare = name.removesuffix("__c")
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", bare).replace("_", " ")


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return bulk_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _encode_locator(offset: int) -> str:
    """Locators look like ``MTAwMDA`` in the docs, which is base64 of ``10000``: so do we."""
    return base64.b64encode(str(offset).encode()).decode().rstrip("=")


def _decode_locator(locator: str) -> int | None:
    if locator in ("", "null"):
        return 0
    try:
        text = base64.b64decode(locator + "=" * (-len(locator) % 4), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None


def _basic_auth(header: str) -> tuple[str, str] | None:
    scheme, _, encoded = header.partition(" ")
    if scheme != "Basic":
        return None
    try:
        user, _, password = base64.b64decode(encoded).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return user, password


def _jwt_claims(assertion: str) -> dict[str, Any] | None:
    """Read a JWT's claims without checking the signature (the fake trusts everyone)."""
    parts = assertion.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (binascii.Error, ValueError):
        return None
    return claims if isinstance(claims, dict) else None


# --- transport --------------------------------------------------------------------------------


class _TlsServer(ThreadingHTTPServer):
    """Threaded HTTP server doing the TLS handshake in the worker thread, not in accept().

    A client that connects and never completes a handshake then blocks only its own thread.
    Open connections are tracked so ``stop`` can drop idle keep-alive connections at once.
    """

    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler],
                 context: ssl.SSLContext, fake: FakeSalesforce) -> None:
        super().__init__(address, handler)
        self.context = context
        self.fake = fake
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()

    def finish_request(self, request: Any, client_address: Any) -> None:
        request.settimeout(10)
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            tls = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            request.close()
            return
        with self._open_lock:
            self._open.add(tls)
        try:
            self.RequestHandlerClass(tls, client_address, self)
        except OSError:
            pass
        finally:
            with self._open_lock:
                self._open.discard(tls)
            tls.close()

    def close_connections(self) -> None:
        with self._open_lock:
            for sock in list(self._open):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


class _Handler(FakeHandler):
    server_version = "FakeSalesforce/1.0"
    server: _TlsServer

    def reply(self, response: _Response) -> Reply:
        return response.status, response.headers, response.body


class _LoopbackAdapter(HTTPAdapter):
    """Transport adapter that lets requests reach the fake and nothing else."""

    def __init__(self, port: int, route_salesforce_hosts: bool) -> None:
        super().__init__()
        self._port = port
        self._route = route_salesforce_hosts

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        parts = urlsplit(request.url or "")
        host = (parts.hostname or "").lower()
        if parts.scheme == "https" and host in ("127.0.0.1", "localhost") \
                and parts.port == self._port:
            return super().send(request, **kwargs)
        if self._route and parts.scheme == "https" and (
                host == "salesforce.com" or host.endswith(".salesforce.com")):
            request.url = urlunsplit(
                ("https", f"127.0.0.1:{self._port}", parts.path, parts.query, ""))
            request.headers["X-Fake-Original-Host"] = parts.netloc
            return super().send(request, **kwargs)
        raise requests.ConnectionError(
            f"FakeSalesforce session refuses {request.url!r}: only https://127.0.0.1:"
            f"{self._port} (and rerouted *.salesforce.com) is reachable", request=request)
