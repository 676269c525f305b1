"""The file connector: CSV and JSON Lines rows become exact events, bad rows exact problems.

Everything goes through the public functions with real files, because line numbers, byte
counts and encodings are only honest when read from disk.
"""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from qmon.connectors.files import PROGRESS_EVERY_LINES, iter_file, iter_file_numbered
from qmon.errors import InputError, Problem
from qmon.events import Event

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
HEADER = "id,occurred_at,type,subject_type,subject_id,note"
GOOD_CSV_ROW = "ok,2026-11-20T09:12:00Z,quote.sent,deal,D-1,"
GOOD_JSON = (
    '{"id": "ok", "occurred_at": "2026-11-20T09:12:00Z", "type": "quote.sent", '
    '"subject_type": "deal", "subject_id": "D-1"}'
)

# Instants as microseconds since the epoch, worked out with calendar.timegm, not with qmon.
T_0912Z = 1_795_165_920_000_000  # 2026-11-20T09:12:00Z
T_0712Z_FRACTION = 1_795_158_720_123_456  # 2026-11-20T09:12:00.123456+02:00
T_1412Z = 1_795_183_920_000_000  # 2026-11-20T09:12:00-05:00
T_0342Z = 1_795_146_120_000_000  # 2026-11-20T09:12:00+05:30


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, str):
        content = content.encode()
    path.write_bytes(content)
    return path


def read(path: Path, **options) -> list[Event | Problem]:
    return list(iter_file(path, **options))


def problems(items: list[Event | Problem]) -> list[tuple[int | None, str]]:
    return [(item.line, item.message) for item in items if isinstance(item, Problem)]


def event(id_: str, occurred_us: int = T_0912Z, **fields) -> Event:
    values = {"source": "file", "type": "quote.sent", "subject_type": "deal", "subject_id": "D-1"}
    values.update(fields)
    return Event(id=id_, occurred_us=occurred_us, **values)


# --- good rows ------------------------------------------------------------------------------


def test_csv_rows_become_exact_events(tmp_path):
    path = write(tmp_path, "events.csv", (
        "id,occurred_at,type,subject_type,subject_id,account,owner,channel,link,amount,region\n"
        "e1,2026-11-20T09:12:00Z,quote.requested,deal,D-1,Acme,anna,email,https://crm/D-1,1200,\n"
        "e2,2026-11-20T09:12:00.123456+02:00,quote.sent,deal,D-1,,,,,,north\n"
        "e3,2026-11-20T09:12:00-05:00,case.opened,case,C-7,,,,,,\n"
        " e4 , 2026-11-20T09:12:00+05:30 , case.closed , case , C-7 ,  ,,,,, x \n"
    ))
    assert read(path) == [
        event("e1", T_0912Z, type="quote.requested", account="Acme", owner="anna",
              channel="email", link="https://crm/D-1", attributes={"amount": "1200"}),
        event("e2", T_0712Z_FRACTION, attributes={"region": "north"}),
        event("e3", T_1412Z, type="case.opened", subject_type="case", subject_id="C-7"),
        # core values are stripped; attributes are kept as written
        event("e4", T_0342Z, type="case.closed", subject_type="case", subject_id="C-7",
              attributes={"region": " x "}),
    ]


@pytest.mark.parametrize("suffix", [".jsonl", ".ndjson", ".JSONL"])
def test_json_lines_become_exact_events(tmp_path, suffix):
    path = write(tmp_path, "events" + suffix, (
        '{"id": 17, "occurred_at": "2026-11-20T09:12:00Z", "type": "case.opened",'
        ' "subject_type": "case", "subject_id": 20871, "owner": "bo", "account": null,'
        ' "priority": 2, "vip": true, "tags": ["a"], "meta": {"k": 1.5}, "gone": null}\n'
        '{"id": " e2 ", "occurred_at": "2026-11-20T09:12:00.123456+02:00", "type": "quote.sent",'
        ' "subject_type": "deal", "subject_id": "D-1", "channel": "", "link": "https://crm/D-1"}\n'
    ))
    assert read(path) == [
        event("17", T_0912Z, type="case.opened", subject_type="case", subject_id="20871",
              owner="bo", attributes={"priority": 2, "vip": True, "tags": ["a"],
                                      "meta": {"k": 1.5}}),
        event("e2", T_0712Z_FRACTION, link="https://crm/D-1"),
    ]


@pytest.mark.parametrize(("name", "own_source", "expected"), [
    ("e.csv", "", "zendesk"),
    ("e.csv", "hubspot-nl", "hubspot-nl"),
    ("e.jsonl", None, "zendesk"),
    ("e.jsonl", "", "zendesk"),
    ("e.jsonl", "hubspot-nl", "hubspot-nl"),
])
def test_a_rows_own_source_wins_over_the_argument(tmp_path, name, own_source, expected):
    if name.endswith(".csv"):
        content = f"source,{HEADER}\n{own_source},{GOOD_CSV_ROW}\n"
    else:
        source = "null" if own_source is None else f'"{own_source}"'
        content = GOOD_JSON.replace("{", f'{{"source": {source}, ', 1) + "\n"
    [item] = read(write(tmp_path, name, content), source="zendesk")
    assert item.source == expected


def test_source_defaults_to_file(tmp_path):
    [item] = read(write(tmp_path, "e.csv", f"{HEADER}\n{GOOD_CSV_ROW}\n"))
    assert item.source == "file"


@pytest.mark.parametrize(("written", "expected_us"), [
    ("2026-01-15T12:00:00", 1_768_474_800_000_000),  # winter: +01:00
    ("2026-07-01T12:00:00", 1_782_900_000_000_000),  # summer: +02:00
    ("2026-03-29T01:30:00", 1_774_744_200_000_000),  # DST starts at 02:00 that day...
    ("2026-03-29T03:30:00", 1_774_747_800_000_000),  # ...so 03:30 is only an hour later
    ("2026-10-25T12:00:00", 1_792_926_000_000_000),  # DST has ended that morning
    ("2026-07-01T12:00:00Z", 1_782_907_200_000_000),  # an explicit offset still wins
])
def test_naive_timestamps_are_read_in_the_assumed_zone(tmp_path, written, expected_us):
    path = write(tmp_path, "e.csv", f"{HEADER}\nx,{written},quote.sent,deal,D-1,\n")
    [item] = read(path, assume_tz=AMSTERDAM)
    assert item.occurred_us == expected_us


def test_naive_timestamps_without_an_assumed_zone_are_bad_rows(tmp_path):
    path = write(tmp_path, "e.csv", f"{HEADER}\nx,2026-07-01T12:00:00,quote.sent,deal,D-1,\n")
    assert read(path) == [Problem(str(path), 2, (
        "occurred_at: timestamp '2026-07-01T12:00:00' has no UTC offset "
        "(add Z or +01:00, or use --assume-timezone)"
    ))]


def test_short_csv_rows_read_missing_cells_as_empty(tmp_path):
    row = "ok,2026-11-20T09:12:00Z,quote.sent,deal,D-1"
    path = write(tmp_path, "e.csv", f"{HEADER},owner\n{row}\n")
    assert read(path) == [event("ok")]


# --- bad rows -------------------------------------------------------------------------------

NO_OFFSET = (
    "occurred_at: timestamp '2026-11-20T09:12:00' has no UTC offset "
    "(add Z or +01:00, or use --assume-timezone)"
)


CSV_CASES = [
    pytest.param("e1,2026-11-20T09:12:00Z,quote.sent,deal,,x", 2,
                 "missing required field 'subject_id'", id="empty subject_id"),
    pytest.param(",2026-11-20T09:12:00Z,,deal,D-1,x", 2,
                 "missing required field 'id'", id="first missing field"),
    pytest.param("e1,  ,quote.sent,deal,D-1,", 2,
                 "missing required field 'occurred_at'", id="blank occurred_at"),
    pytest.param("e1,2026-11-20T09:12:00Z,quote.sent", 2,
                 "missing required field 'subject_type'", id="short row"),
    pytest.param("e1,yesterday,quote.sent,deal,D-1,", 2,
                 "occurred_at: not an ISO-8601 timestamp: 'yesterday'", id="not a timestamp"),
    pytest.param("e1,2026-11-20T09:12:00,quote.sent,deal,D-1,", 2, NO_OFFSET, id="no offset"),
    pytest.param("e1,2026-11-20T09:12:00Z,quote sent,deal,D-1,", 2,
                 "field 'type' must not contain spaces: 'quote sent'", id="space in type"),
    pytest.param('e1,2026-11-20T09:12:00Z,quote.sent,"de\tal",D-1,', 2,
                 "field 'subject_type' must not contain spaces: 'de\\tal'", id="tab"),
    pytest.param("e1,2026-11-20T09:12:00Z,quote.sent,deal,D-1,x,y", 2,
                 "7 cells but the header has 6 columns", id="too many cells"),
    pytest.param('e1,2026-11-20T09:12:00Z,quote.sent,deal,D-1,"a"b', 2,
                 "not valid CSV: ',' expected after '\"'", id="stray quote"),
    # a quoted newline makes the record two lines long, so the bad row starts on line 4
    pytest.param(f'{GOOD_CSV_ROW}"two\nlines"\ne2,2026-11-20T09:12:00Z,quote.sent,deal,,',
                 4, "missing required field 'subject_id'", id="after a quoted newline"),
    # a bad record is reported where it starts, not where it ends
    pytest.param('e1,2026-11-20T09:12:00Z,quote sent,deal,D-1,"two\nlines"', 2,
                 "field 'type' must not contain spaces: 'quote sent'", id="bad multi-line row"),
    # blank lines count, but are no rows
    pytest.param(f"\n{GOOD_CSV_ROW}\n  \n\ne2,2026-11-20T09:12:00Z,quote.sent,deal,,", 6,
                 "missing required field 'subject_id'", id="after blank lines"),
    pytest.param(b"e1,2026-11-20T09:12:00Z,quote.sent,deal,D-1,caf\xe9", 2,
                 "not valid UTF-8 (byte 48 of the line)", id="not UTF-8"),
]


@pytest.mark.parametrize(("rows", "line", "message"), CSV_CASES)
def test_a_bad_csv_row_is_one_problem_at_the_line_it_starts(tmp_path, rows, line, message):
    if isinstance(rows, str):
        rows = rows.encode()
    path = write(tmp_path, "e.csv", HEADER.encode() + b"\n" + rows + b"\n" + GOOD_CSV_ROW.encode())
    items = list(iter_file_numbered(path))
    assert [(n, item) for n, item in items if isinstance(item, Problem)] == [
        (line, Problem(str(path), line, message))
    ]
    assert isinstance(items[-1][1], Event), "the rows after a bad one are still read"


def test_an_unclosed_quote_swallows_the_rest_and_is_reported_where_it_opens(tmp_path):
    path = write(tmp_path, "e.csv", (
        f"{HEADER}\n{GOOD_CSV_ROW}\n"
        f'{GOOD_CSV_ROW}"never closed\n{GOOD_CSV_ROW}\n{GOOD_CSV_ROW}\n'
    ))
    assert problems(read(path)) == [
        (3, "not valid CSV: a quoted cell is still open at the end of the file")
    ]


def test_csv_unnamed_column_must_stay_empty(tmp_path):
    path = write(tmp_path, "e.csv", (
        f"{HEADER},\n"
        f"{GOOD_CSV_ROW},\n"
        f"{GOOD_CSV_ROW},  \n"
        f"{GOOD_CSV_ROW},oops\n"
    ))
    assert problems(read(path)) == [(4, "a value in column 7, which has no name in the header")]


JSON_CASES = [
    ('{"id": "e1",',
     "not valid JSON: Expecting property name enclosed in double quotes at column 13"),
    ("hello", "not valid JSON: Expecting value at column 1"),
    ('{"a": 1} {"b": 2}', "not valid JSON: Extra data at column 10"),
    (GOOD_JSON.replace('"D-1"', "NaN"), "not valid JSON: NaN is not a JSON value"),
    ("[1, 2]", "expected a JSON object, got an array"),
    ('"text"', "expected a JSON object, got a string"),
    ("null", "expected a JSON object, got null"),
    (GOOD_JSON.replace('"ok"', "1.5"), "field 'id' must be a string or an integer, not a number"),
    (GOOD_JSON.replace('"ok"', "true"),
     "field 'id' must be a string or an integer, not a boolean"),
    (GOOD_JSON.replace('"quote.sent"', "3"), "field 'type' must be a string, not a number"),
    (GOOD_JSON.replace('"deal"', '{"k": 1}'),
     "field 'subject_type' must be a string, not an object"),
    (GOOD_JSON.replace("}", ', "owner": ["anna"]}'),
     "field 'owner' must be a string, not an array"),
    (GOOD_JSON.replace('"D-1"', "null"), "missing required field 'subject_id'"),
    (GOOD_JSON.replace('"D-1"', '" "'), "missing required field 'subject_id'"),
    (GOOD_JSON.replace('"type": "quote.sent", ', ""), "missing required field 'type'"),
    (GOOD_JSON.replace("2026-11-20T09:12:00Z", "2026-11-20T09:12:00"), NO_OFFSET),
    (GOOD_JSON.replace('"deal"', '"big deal"'),
     "field 'subject_type' must not contain spaces: 'big deal'"),
]


@pytest.mark.parametrize(("text", "message"), JSON_CASES, ids=[m for _, m in JSON_CASES])
def test_a_bad_json_line_is_one_problem_at_its_line(tmp_path, text, message):
    path = write(tmp_path, "e.jsonl", f"{GOOD_JSON}\n\n   \n{text}\n{GOOD_JSON}")
    items = read(path)
    assert problems(items) == [(4, message)]
    assert [type(item) for item in items] == [Event, Problem, Event]


def test_json_line_that_is_not_utf8(tmp_path):
    path = write(tmp_path, "e.jsonl", GOOD_JSON.encode() + b'\n{"id": "\xff"}\n' + b"\n")
    assert problems(read(path)) == [(2, "not valid UTF-8 (byte 9 of the line)")]


def test_every_bad_row_is_reported_in_file_order(tmp_path):
    path = write(tmp_path, "e.csv", (
        f"{HEADER}\n"
        "e1,2026-11-20T09:12:00Z,quote sent,deal,D-1,\n"
        f"{GOOD_CSV_ROW}\n"
        "e3,2026-11-20T09:12:00Z,quote.sent,deal,,\n"
    ))
    assert [
        (n, type(item).__name__) for n, item in iter_file_numbered(path)
    ] == [(2, "Problem"), (3, "Event"), (4, "Problem")]


# --- whole-file problems --------------------------------------------------------------------


@pytest.mark.parametrize(("header", "message"), [
    ("id,occurred_at,subject_type,note", "missing column(s): subject_id, type"),
    ("ID,Occurred_At,type,subject_type,subject_id",
     "missing column(s): id, occurred_at"),  # names are case-sensitive
    (f"{HEADER},note", "repeated column(s): note"),
])
def test_a_bad_header_is_one_problem_and_the_end_of_the_file(tmp_path, header, message):
    path = write(tmp_path, "e.csv", f"{header}\n{GOOD_CSV_ROW}\nbad\n")
    assert read(path) == [Problem(str(path), 1, message)]


def test_a_header_that_is_not_utf8_ends_the_file(tmp_path):
    path = write(tmp_path, "e.csv", b"id,occurred_at,type,subject_type,subject_id,n\xf6te\nx\n")
    assert problems(read(path)) == [(1, "not valid UTF-8 (byte 46 of the line)")]


@pytest.mark.parametrize(("name", "message"), [
    ("events.xlsx", "unknown file type '.xlsx': use .csv or .jsonl"),
    ("events", "no file extension: use .csv or .jsonl"),
])
def test_unknown_file_types_are_refused(tmp_path, name, message):
    path = write(tmp_path, name, f"{HEADER}\n{GOOD_CSV_ROW}\n")
    with pytest.raises(InputError) as raised:
        read(path)
    assert raised.value.problems == [Problem(str(path), None, message)]


def test_a_missing_file_is_an_input_error(tmp_path):
    path = tmp_path / "nowhere.csv"
    with pytest.raises(InputError) as raised:
        read(path)
    assert raised.value.problems == [
        Problem(str(path), None, "cannot read the file: No such file or directory")
    ]


@pytest.mark.parametrize("content", [f"{HEADER}\n", f"\ufeff{HEADER}\r\n\r\n"])
def test_a_csv_file_without_rows_gives_nothing(tmp_path, content):
    assert read(write(tmp_path, "e.csv", content)) == []


@pytest.mark.parametrize("content", ["", "\n\n", "\ufeff"])
def test_a_csv_file_without_a_header_is_a_problem(tmp_path, content):
    path = write(tmp_path, "e.csv", content)
    message = "the file is empty: a CSV file starts with its header row"
    assert read(path) == [Problem(str(path), 1, message)]


# --- encodings and line ends ----------------------------------------------------------------


@pytest.mark.parametrize(("name", "content"), [
    ("e.csv", f"\ufeff{HEADER}\n{GOOD_CSV_ROW}\n"),
    ("e.jsonl", f"\ufeff{GOOD_JSON}\n"),
])
def test_a_byte_order_mark_is_ignored(tmp_path, name, content):
    assert read(write(tmp_path, name, content)) == [event("ok")]


def test_windows_line_ends_and_quoted_blank_lines(tmp_path):
    path = write(tmp_path, "e.csv", (
        f'{HEADER}\r\n\r\n{GOOD_CSV_ROW}"para one\r\n\r\npara two"\r\n\r\n'
        f"{GOOD_CSV_ROW}caf\u00e9\r\n"
    ))
    assert list(iter_file_numbered(path)) == [
        (3, event("ok", attributes={"note": "para one\r\n\r\npara two"})),
        (7, event("ok", attributes={"note": "caf\u00e9"})),
    ]


# --- progress -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["e.csv", "e.jsonl"])
def test_progress_reports_bytes_read_up_to_the_file_size(tmp_path, name):
    rows = PROGRESS_EVERY_LINES * 2 + 10
    if name.endswith(".csv"):
        content = HEADER + "\n" + f"{GOOD_CSV_ROW}\n" * rows
    else:
        content = f"{GOOD_JSON}\n" * rows
    path = write(tmp_path, name, content)
    seen: list[int] = []
    assert len(read(path, on_progress=seen.append)) == rows
    assert len(seen) == 3
    assert seen == sorted(seen)
    assert seen[-1] == path.stat().st_size


def test_progress_on_a_small_file_is_reported_once_at_the_end(tmp_path):
    path = write(tmp_path, "e.jsonl", f"{GOOD_JSON}\n{GOOD_JSON}")
    seen: list[int] = []
    read(path, on_progress=seen.append)
    assert seen == [path.stat().st_size]


# --- the fast paths read exactly what the csv and json modules read -------------------------


def test_csv_line_ends_and_carriage_returns_read_as_the_csv_module_reads_them(tmp_path):
    path = write(tmp_path, "e.csv", (
        f"{HEADER}\r\n"
        f"{GOOD_CSV_ROW}a\r\r\n"  # any run of CRs before the LF ends the row
        f"{GOOD_CSV_ROW}b\rc\n"  # a CR inside a row is not CSV
        "\r\n"
        f"{GOOD_CSV_ROW}d\r"  # a last line may end in a CR alone
    ))
    assert [(n, getattr(item, "attributes", None) or item.message)
            for n, item in iter_file_numbered(path)] == [
        (2, {"note": "a"}),
        (3, "not valid CSV: new-line character seen in unquoted field"),
        (5, {"note": "d"}),
    ]


def test_quoted_and_unquoted_csv_records_mix(tmp_path):
    quoted_header = ",".join(f'"{name}"' for name in HEADER.split(","))
    path = write(tmp_path, "e.csv", (
        f"{quoted_header}\n"
        f'{GOOD_CSV_ROW}"a, ""b""\nc"\n'
        f"{GOOD_CSV_ROW}\x00d\n"  # a NUL is a bad row (PostgreSQL cannot store it)
        f'{GOOD_CSV_ROW}"\n\n"\n'
        f"{GOOD_CSV_ROW}e,\n"
        f'"e9",2026-11-20T09:12:00Z,quote.sent,deal,"",x\n'
    ))
    assert [(n, getattr(item, "attributes", None) or item.message)
            for n, item in iter_file_numbered(path)] == [
        (2, {"note": 'a, "b"\nc'}),
        (4, "field 'note' holds a NUL character (U+0000), which is not text"),
        (5, {"note": "\n\n"}),
        (8, "7 cells but the header has 6 columns"),
        (9, "missing required field 'subject_id'"),
    ]


def test_a_cell_longer_than_the_csv_module_allows_is_a_bad_row(tmp_path):
    path = write(tmp_path, "e.csv", (
        f"{HEADER}\n{GOOD_CSV_ROW}{'x' * 200_000}\n{GOOD_CSV_ROW}{'y' * 100_000}\n"
    ))
    items = list(iter_file_numbered(path, attributes=()))  # `note` is read, not kept
    assert [(n, type(item).__name__) for n, item in items] == [(2, "Problem"), (3, "Event")]
    assert items[0][1].message == "not valid CSV: field larger than field limit (131072)"
    # kept, a value that long is more than the store keeps in an attribute
    (_, kept), = list(iter_file_numbered(path))[1:]
    assert kept.message == ("field 'note' is 100,000 bytes long; qmon stores at most 1,000 in"
                            " an attribute")


def test_bytes_that_are_not_utf8_are_found_on_their_own_line(tmp_path):
    path = write(tmp_path, "e.csv", (
        b"\xef\xbb\xbf" + HEADER.encode() + b"\n"
        + GOOD_CSV_ROW.encode() + b'"one\ntw\xff"\n'  # on the second line of a quoted cell
        + GOOD_CSV_ROW.encode() + b"caf\xc3\xa9\n"  # UTF-8 that is not ASCII is fine
        + GOOD_CSV_ROW.encode() + b"\xc3\n"
        + GOOD_CSV_ROW.encode() + b"\n"
    ))
    assert problems(read(path)) == [
        (3, "not valid UTF-8 (byte 3 of the line)"),
        (5, f"not valid UTF-8 (byte {len(GOOD_CSV_ROW) + 1} of the line)"),
    ]
    bom_header = write(tmp_path, "b.csv", b"\xef\xbb\xbfid,occurred_at,type\xff\nx\n")
    assert problems(read(bom_header)) == [(1, "not valid UTF-8 (byte 23 of the line)")]


def test_json_values_with_whitespace_around_them_or_windows_line_ends(tmp_path):
    path = write(tmp_path, "e.jsonl", (
        f"{GOOD_JSON}\r\n  {GOOD_JSON}\t \n{GOOD_JSON} x\n"
        '{"id": "e4", "occurred_at": "2026-11-20T09:12:00Z", "type": "quote.sent", "b": 1,'
        ' "subject_type": "deal", "account": null, "subject_id": "D-1", "a": null, "c": 2}\r'
    ))
    assert [(n, getattr(item, "attributes", None) or getattr(item, "message", None))
            for n, item in iter_file_numbered(path)] == [
        (1, None),
        (2, None),
        (3, f"not valid JSON: Extra data at column {len(GOOD_JSON) + 2}"),
        (4, {"b": 1, "c": 2}),
    ]
    assert list(read(path)[3].attributes) == ["b", "c"]  # in the file's order


def test_progress_counts_every_line_of_quoted_records(tmp_path):
    record = f'{GOOD_CSV_ROW}"two\nlines"\n'
    path = write(tmp_path, "e.csv", HEADER + "\n" + record * PROGRESS_EVERY_LINES)
    seen: list[int] = []
    items = list(iter_file_numbered(path, on_progress=seen.append))
    assert items[-1][0] == 2 * PROGRESS_EVERY_LINES  # where the last record starts
    assert len(seen) == 3  # lines 4096 and 8192, then the end
    assert seen == sorted(seen)
    assert seen[-1] == path.stat().st_size
