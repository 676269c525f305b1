"""The wire contract qmon's Slack alerts rely on, pinned with the real slack_sdk WebClient.

Each test drives ``slack_sdk.WebClient`` against :class:`tests.fakes.slack.FakeSlack` over a
real socket on 127.0.0.1, so what is asserted is what the library actually sends and reads:
the URL built from ``base_url``, JSON versus form bodies, the bearer header, ``SlackApiError``
for ``ok: false``, and what the retry handlers do with a 429, a 5xx or a dropped connection.
No test waits on the wall clock: rate-limit windows run on an injected clock, and the retry
handlers' sleeps are either zero or recorded instead of slept.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.client import RemoteDisconnected
from types import SimpleNamespace
from urllib.error import URLError

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import builtin_handlers
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator

from tests.fakes.slack import (
    BOT_USER_ID,
    POST_MESSAGE_PER_CHANNEL_PER_SECOND,
    FakeSlack,
)

BLOCKS = [
    {"type": "header", "text": {"type": "plain_text", "text": "Promise breached"}},
    {"type": "section", "text": {"type": "mrkdwn", "text": "*Deal 42* waited 3 days"}},
]


class StepClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as server:
        server.add_channel("alerts")
        yield server


@pytest.fixture
def client(fake: FakeSlack) -> WebClient:
    """The real client, pointed at the fake exactly as qmon will point it; no retries."""
    return WebClient(token=fake.token, base_url=fake.base_url, retry_handlers=[])


@pytest.fixture
def recorded_sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Make RateLimitErrorRetryHandler record its sleeps instead of sleeping.

    It sleeps ``int(Retry-After) + random.random()``; with ``random`` pinned to 0 the recorded
    value is exactly the Retry-After it honoured. Only that module's names are replaced.
    """
    sleeps: list[float] = []
    monkeypatch.setattr(builtin_handlers, "time", SimpleNamespace(sleep=sleeps.append))
    monkeypatch.setattr(builtin_handlers, "random", SimpleNamespace(random=lambda: 0.0))
    return sleeps


def no_wait_connection_retries(count: int = 1) -> ConnectionErrorRetryHandler:
    return ConnectionErrorRetryHandler(
        max_retry_count=count, interval_calculator=FixedValueRetryIntervalCalculator(0))


# --- pointing the client at the fake -----------------------------------------------------------


def test_base_url_sends_every_method_under_api_with_the_bearer_token(
        fake: FakeSlack, client: WebClient) -> None:
    assert fake.base_url.endswith("/api/")
    client.auth_test()

    [request] = fake.request_log
    assert (request.api_method, request.http_method, request.path, request.status) == (
        "auth.test", "POST", "/api/auth.test", 200)
    assert request.header("Authorization") == f"Bearer {fake.token}"
    assert request.headers["authorization"] == f"Bearer {fake.token}"
    assert request.token == fake.token
    assert "slackclient" in (request.header("User-Agent") or "")


def test_webclient_adds_a_missing_trailing_slash_but_not_a_missing_api(fake: FakeSlack) -> None:
    """slack_sdk 3.x appends ``/`` to ``base_url``, then joins the method with ``urljoin``;
    a ``base_url`` without ``/api/`` sends ``/auth.test``, which the fake answers with 404."""
    without_slash = WebClient(token=fake.token, base_url=fake.base_url.rstrip("/"),
                              retry_handlers=[])
    assert without_slash.base_url == fake.base_url
    without_slash.auth_test()

    without_api = WebClient(token=fake.token, base_url=fake.base_url.removesuffix("api/"),
                            retry_handlers=[])
    with pytest.raises(SlackApiError) as caught:
        without_api.auth_test()

    assert caught.value.response.status_code == 404
    assert [(r.path, r.status) for r in fake.request_log] == [("/api/auth.test", 200),
                                                                ("/auth.test", 404)]


def test_the_client_helper_is_a_plain_webclient(fake: FakeSlack) -> None:
    client = fake.client(retry_handlers=[])
    assert isinstance(client, WebClient)
    assert client.base_url == fake.base_url
    assert client.auth_test()["ok"] is True


# --- auth.test and authentication ----------------------------------------------------------------


def test_auth_test_says_who_the_bot_is(fake: FakeSlack, client: WebClient) -> None:
    answer = client.auth_test()

    assert answer.status_code == 200
    assert answer["ok"] is True
    assert answer["user_id"] == BOT_USER_ID == fake.bot_user_id
    assert answer["team_id"] == fake.team_id
    assert answer["bot_id"] == fake.bot_id
    assert answer["url"].startswith("https://") and answer["url"].endswith(".slack.com/")
    assert answer.headers["x-oauth-scopes"] == ",".join(fake.scopes)


@pytest.mark.parametrize(("token", "error"), [
    (None, "not_authed"),
    ("xoxb-not-the-right-one", "invalid_auth"),
])
def test_bad_or_missing_tokens_are_http_200_with_ok_false(fake: FakeSlack, token: str | None,
                                                          error: str) -> None:
    client = WebClient(token=token, base_url=fake.base_url, retry_handlers=[])

    with pytest.raises(SlackApiError) as caught:
        client.chat_postMessage(channel="#alerts", text="hello")

    assert caught.value.response.status_code == 200
    assert caught.value.response["error"] == error
    assert fake.messages("alerts") == []
    assert fake.request_log[0].error == error


def test_a_revoked_token_is_token_revoked(fake: FakeSlack, client: WebClient) -> None:
    fake.revoke_token(fake.token)
    with pytest.raises(SlackApiError) as caught:
        client.auth_test()
    assert caught.value.response["error"] == "token_revoked"


def test_the_token_may_come_as_a_form_argument_and_is_kept_out_of_params(
        fake: FakeSlack) -> None:
    client = WebClient(base_url=fake.base_url, retry_handlers=[])  # no Authorization header

    client.api_call("auth.test", data={"token": fake.token})

    [request] = fake.request_log
    assert request.header("authorization") is None
    assert request.content_type == "application/x-www-form-urlencoded"
    assert request.token == fake.token
    assert request.params == {}


def test_reprs_never_show_the_token(fake: FakeSlack, client: WebClient) -> None:
    client.chat_postMessage(channel="#alerts", text="hello")

    [request] = fake.request_log
    assert fake.token in request.headers["authorization"]
    assert fake.token not in repr(request)
    assert "<redacted>" in repr(request)
    assert fake.token not in repr(fake.request_log)
    assert fake.token not in repr(fake)


# --- chat.postMessage -------------------------------------------------------------------------


def test_post_message_by_name_answers_with_the_channel_id_and_a_ts(
        fake: FakeSlack, client: WebClient) -> None:
    alerts = fake.channel("alerts").id

    answer = client.chat_postMessage(channel="#alerts", text="SLA breached", blocks=BLOCKS,
                                     unfurl_links=False)

    assert answer["ok"] is True
    assert answer["channel"] == alerts
    assert answer["ts"] == "1700000000.000100"
    message = answer["message"]
    assert (message["type"], message["user"], message["bot_id"], message["text"]) == (
        "message", fake.bot_user_id, fake.bot_id, "SLA breached")
    assert message["ts"] == answer["ts"]
    # Slack fills in block_id; the rest of each block comes back as sent.
    assert [{k: v for k, v in b.items() if k != "block_id"} for b in message["blocks"]] == BLOCKS
    assert all(b["block_id"] for b in message["blocks"])

    [stored] = fake.messages(alerts)
    assert (stored.ts, stored.text, stored.blocks, stored.edited) == (
        answer["ts"], "SLA breached", BLOCKS, False)
    assert stored.params["unfurl_links"] is False  # a JSON body keeps booleans

    [request] = fake.requests("chat.postMessage")
    assert request.content_type == "application/json"
    assert request.params == {"channel": "#alerts", "text": "SLA breached", "blocks": BLOCKS,
                              "unfurl_links": False}


def test_blocks_may_be_a_json_string_in_a_form_body(fake: FakeSlack, client: WebClient) -> None:
    """``blocks`` is "a JSON-based array …, presented as a URL-encoded string"."""
    client.api_call("chat.postMessage", data={
        "channel": fake.channel("alerts").id, "text": "fallback", "blocks": json.dumps(BLOCKS),
        "unfurl_links": False})

    [stored] = fake.messages("#alerts")
    assert stored.blocks == BLOCKS
    assert stored.params["unfurl_links"] == "0"  # slack_sdk sends form booleans as 1/0
    assert fake.request_log[0].content_type == "application/x-www-form-urlencoded"


def test_ts_values_are_unique_and_increase_per_channel(fake: FakeSlack,
                                                       client: WebClient) -> None:
    stamps = [client.chat_postMessage(channel=channel, text=str(n))["ts"]
              for n, channel in enumerate(["#alerts", "#general", "#alerts", "alerts"])]

    assert len(set(stamps)) == 4
    alerts = [m.ts for m in fake.messages("alerts")]
    assert alerts == [stamps[0], stamps[2], stamps[3]]
    assert alerts == sorted(alerts, key=float)
    assert fake.texts("alerts") == ["0", "2", "3"]
    assert [m.text for m in fake.all_messages] == ["0", "1", "2", "3"]


def test_concurrent_posts_all_land_with_distinct_ts(fake: FakeSlack) -> None:
    def post(worker: int) -> None:
        client = fake.client(retry_handlers=[])
        for n in range(5):
            client.chat_postMessage(channel="#alerts", text=f"{worker}-{n}")

    threads = [threading.Thread(target=post, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    stamps = [m.ts for m in fake.messages("alerts")]
    assert len(stamps) == len(set(stamps)) == 20


@pytest.mark.parametrize(("setup", "channel", "error"), [
    (lambda f: None, "#no-such-channel", "channel_not_found"),
    (lambda f: None, "C9999999999", "channel_not_found"),
    (lambda f: f.add_channel("lobby", is_member=False), "#lobby", "not_in_channel"),
    (lambda f: f.add_channel("hr", is_private=True, is_member=False), "#hr",
     "channel_not_found"),
    (lambda f: f.archive_channel("alerts"), "#alerts", "is_archived"),
])
def test_post_message_channel_errors(fake: FakeSlack, client: WebClient, setup, channel: str,
                                     error: str) -> None:
    setup(fake)
    with pytest.raises(SlackApiError) as caught:
        client.chat_postMessage(channel=channel, text="hello")
    assert caught.value.response.status_code == 200
    assert caught.value.response["error"] == error
    assert fake.all_messages == []


def test_chat_write_public_lets_the_bot_post_where_it_has_not_joined(
        fake: FakeSlack, client: WebClient) -> None:
    fake.add_channel("lobby", is_member=False)
    fake.scopes.append("chat:write.public")

    client.chat_postMessage(channel="#lobby", text="hello")

    assert fake.texts("lobby") == ["hello"]


def test_without_chat_write_the_answer_is_missing_scope(fake: FakeSlack,
                                                        client: WebClient) -> None:
    fake.scopes.remove("chat:write")
    with pytest.raises(SlackApiError) as caught:
        client.chat_postMessage(channel="#alerts", text="hello")
    assert caught.value.response["error"] == "missing_scope"
    assert caught.value.response["needed"] == "chat:write"


@pytest.mark.parametrize(("arguments", "error"), [
    ({}, "no_text"),
    ({"text": "x" * 40_001}, "msg_too_long"),
    ({"blocks": "not json"}, "invalid_blocks_format"),
    ({"blocks": [{"text": "no type"}]}, "invalid_blocks"),
    ({"blocks": [{"type": "divider"}] * 51}, "invalid_blocks"),
])
def test_post_message_content_errors(fake: FakeSlack, client: WebClient,
                                     arguments: dict, error: str) -> None:
    with pytest.raises(SlackApiError) as caught:
        client.api_call("chat.postMessage", json={"channel": "#alerts", **arguments})
    assert caught.value.response["error"] == error
    assert fake.messages("alerts") == []


# --- chat.update ------------------------------------------------------------------------------


def test_update_replaces_text_and_blocks_and_keeps_the_history(fake: FakeSlack,
                                                               client: WebClient) -> None:
    posted = client.chat_postMessage(channel="#alerts", text="Breached", blocks=BLOCKS)
    new_blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "Resolved"}}]

    answer = client.chat_update(channel=posted["channel"], ts=posted["ts"], text="Resolved",
                                blocks=new_blocks)

    assert (answer["ok"], answer["channel"], answer["ts"], answer["text"]) == (
        True, posted["channel"], posted["ts"], "Resolved")
    assert answer["message"]["edited"]["user"] == fake.bot_user_id
    message = fake.message("alerts", posted["ts"])
    assert (message.text, message.blocks, message.edited) == ("Resolved", new_blocks, True)
    assert [v.text for v in message.versions] == ["Breached", "Resolved"]
    assert message.versions[0].blocks == BLOCKS
    [update] = message.updates
    assert update.edited_ts is not None and float(update.edited_ts) > float(posted["ts"])
    assert len(fake.messages("alerts")) == 1


def test_update_keeps_blocks_left_out_and_drops_them_for_an_empty_array(
        fake: FakeSlack, client: WebClient) -> None:
    posted = client.chat_postMessage(channel="#alerts", text="v1", blocks=BLOCKS)

    client.chat_update(channel=posted["channel"], ts=posted["ts"], text="v2")
    assert fake.message("alerts", posted["ts"]).blocks == BLOCKS

    client.chat_update(channel=posted["channel"], ts=posted["ts"], text="v3", blocks=[])
    message = fake.message("alerts", posted["ts"])
    assert (message.text, message.blocks) == ("v3", None)
    assert [v.text for v in message.versions] == ["v1", "v2", "v3"]


def test_update_errors(fake: FakeSlack, client: WebClient) -> None:
    alerts = fake.channel("alerts").id
    posted = client.chat_postMessage(channel=alerts, text="mine")
    theirs = fake.add_message("alerts", "a human wrote this")

    def error_of(**arguments: str) -> str:
        with pytest.raises(SlackApiError) as caught:
            client.chat_update(**arguments)
        assert caught.value.response.status_code == 200
        return caught.value.response["error"]

    assert error_of(channel=alerts, ts="1700000099.000100", text="x") == "message_not_found"
    assert error_of(channel=alerts, ts=theirs, text="x") == "cant_update_message"
    assert error_of(channel="#alerts", ts=posted["ts"], text="x") == "channel_not_found"
    assert error_of(channel=fake.channel("general").id, ts=posted["ts"],
                    text="x") == "message_not_found"
    fake.archive_channel(alerts)
    assert error_of(channel=alerts, ts=posted["ts"], text="x") == "is_inactive"
    assert fake.message(alerts, posted["ts"]).text == "mine"
    assert fake.message(alerts, theirs).text == "a human wrote this"


# --- conversations.list -----------------------------------------------------------------------


def test_conversations_list_pages_with_the_cursor(fake: FakeSlack, client: WebClient) -> None:
    fake.add_channel("lobby", is_member=False)
    fake.add_channel("ops", is_private=True)
    fake.add_channel("hr", is_private=True, is_member=False)
    fake.add_channel("old", is_archived=True)

    names = [c["name"] for page in client.conversations_list(limit=2) for c in page["channels"]]
    assert names == ["general", "alerts", "lobby", "old"]
    cursors = [r.params.get("cursor") for r in fake.requests("conversations.list")]
    assert cursors[0] is None and all(cursors[1:])

    answer = client.conversations_list(types="public_channel,private_channel",
                                       exclude_archived=True)
    by_name = {c["name"]: c for c in answer["channels"]}
    assert list(by_name) == ["general", "alerts", "lobby", "ops"]  # hr is invisible to the bot
    assert by_name["lobby"]["is_member"] is False
    assert by_name["ops"]["is_private"] is True
    assert by_name["general"]["is_general"] is True
    assert answer["response_metadata"]["next_cursor"] == ""


def test_conversations_list_errors(fake: FakeSlack, client: WebClient) -> None:
    for arguments, error in [({"limit": 1001}, "invalid_limit"),
                             ({"cursor": "bogus!"}, "invalid_cursor"),
                             ({"types": "rooms"}, "invalid_types")]:
        with pytest.raises(SlackApiError) as caught:
            client.conversations_list(**arguments)
        assert caught.value.response["error"] == error
    fake.scopes.remove("groups:read")
    with pytest.raises(SlackApiError) as caught:
        client.conversations_list(types="private_channel")
    assert caught.value.response["needed"] == "groups:read"


def test_unknown_methods_are_refused(client: WebClient) -> None:
    with pytest.raises(SlackApiError) as caught:
        client.api_call("chat.delete", json={"channel": "C1", "ts": "1.2"})
    assert caught.value.response["error"] == "unknown_method"


# --- rate limiting ----------------------------------------------------------------------------


def test_a_429_carries_retry_after_and_ratelimited(fake: FakeSlack, client: WebClient) -> None:
    fake.rate_limit_next(1, retry_after=30)

    with pytest.raises(SlackApiError) as caught:
        client.chat_postMessage(channel="#alerts", text="hello")

    response = caught.value.response
    assert response.status_code == 429
    assert response["error"] == "ratelimited"
    assert response.headers["Retry-After"] == "30"
    assert fake.rate_limited_count == 1
    assert fake.messages("alerts") == []


def test_rate_limit_retry_handler_retries_and_the_message_is_posted_once(
        fake: FakeSlack) -> None:
    """The real handler, unpatched: Retry-After 0 costs it at most one random() second."""
    fake.rate_limit_next(1, retry_after=0)
    client = fake.client(retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=2)])

    answer = client.chat_postMessage(channel="#alerts", text="hello")

    assert answer["ok"] is True
    assert [r.status for r in fake.request_log] == [429, 200]
    assert fake.texts("alerts") == ["hello"]


def test_the_retry_handler_honours_retry_after_then_gives_up(
        fake: FakeSlack, recorded_sleeps: list[float]) -> None:
    client = fake.client()
    client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=2))

    fake.rate_limit_next(2, retry_after=7, method="chat.postMessage")
    client.chat_postMessage(channel="#alerts", text="after two 429s")
    assert recorded_sleeps == [7.0, 7.0]

    fake.rate_limit_next(3, retry_after=0)
    with pytest.raises(SlackApiError) as caught:
        client.chat_postMessage(channel="#alerts", text="never posted")
    assert caught.value.response.status_code == 429
    assert [r.status for r in fake.requests("chat.postMessage")] == [429, 429, 200, 429, 429,
                                                                      429]
    assert fake.texts("alerts") == ["after two 429s"]


def test_per_channel_post_limit_on_an_injected_clock() -> None:
    clock = StepClock()
    with FakeSlack(clock=clock, channels=["a", "b"]) as fake:
        client = fake.client(retry_handlers=[])
        fake.set_rate_limit("chat.postMessage", POST_MESSAGE_PER_CHANNEL_PER_SECOND,
                            window=1.0, per_channel=True)

        client.chat_postMessage(channel="#a", text="1")
        client.chat_postMessage(channel="#b", text="other channel, own window")
        clock.now += 0.25
        with pytest.raises(SlackApiError) as caught:
            client.chat_postMessage(channel="#a", text="too soon")
        assert caught.value.response.status_code == 429
        assert caught.value.response.headers["Retry-After"] == "1"  # 0.75 s, rounded up

        fake.retry_after = 0
        with pytest.raises(SlackApiError) as caught:
            client.chat_postMessage(channel=fake.channel("a").id, text="same channel by id")
        assert caught.value.response.headers["Retry-After"] == "0"

        clock.now += 0.75
        client.chat_postMessage(channel="#a", text="2")
        client.auth_test()  # other methods are not limited
        assert fake.texts("a") == ["1", "2"]
        assert fake.rate_limited_count == 2


# --- server errors, ok:false faults, outages --------------------------------------------------


def test_injected_5xx_is_an_html_page_by_default(fake: FakeSlack, client: WebClient) -> None:
    fake.fail_next(1, 503)
    with pytest.raises(SlackApiError) as caught:
        client.chat_postMessage(channel="#alerts", text="hello")
    assert caught.value.response.status_code == 503
    assert "non-JSON" in caught.value.response["error"]

    fake.fail_next(1, 500, body="json", retry_after=2)
    with pytest.raises(SlackApiError) as caught:
        client.chat_postMessage(channel="#alerts", text="hello")
    assert caught.value.response.status_code == 500
    assert caught.value.response["error"] == "internal_error"
    assert caught.value.response.headers["Retry-After"] == "2"
    assert fake.messages("alerts") == []


def test_server_error_retry_handler_gets_through_one_503(fake: FakeSlack) -> None:
    fake.fail_next(1, 503)
    client = fake.client(retry_handlers=[ServerErrorRetryHandler(
        max_retry_count=1, interval_calculator=FixedValueRetryIntervalCalculator(0))])

    client.chat_postMessage(channel="#alerts", text="hello")

    assert [r.status for r in fake.request_log] == [503, 200]
    assert fake.texts("alerts") == ["hello"]


def test_fail_next_ok_false_waits_for_its_method(fake: FakeSlack, client: WebClient) -> None:
    fake.fail_next_ok_false("fatal_error", method="chat.postMessage")

    client.auth_test()  # not the method the fault waits for
    with pytest.raises(SlackApiError) as caught:
        client.chat_postMessage(channel="#alerts", text="hello")
    assert caught.value.response.status_code == 200
    assert caught.value.response["error"] == "fatal_error"
    client.chat_postMessage(channel="#alerts", text="hello again")

    assert fake.texts("alerts") == ["hello again"]
    assert [(r.api_method, r.error) for r in fake.request_log] == [
        ("auth.test", None), ("chat.postMessage", "fatal_error"), ("chat.postMessage", None)]


def test_faults_queue_in_order(fake: FakeSlack, client: WebClient) -> None:
    fake.fail_next(1, 502)
    fake.rate_limit_next(1, retry_after=0)
    fake.fail_next_ok_false("internal_error")
    for _ in range(3):
        with pytest.raises(SlackApiError):
            client.auth_test()
    fake.fail_next(5)
    fake.clear_faults()
    client.auth_test()
    assert [(r.status, r.error) for r in fake.request_log] == [
        (502, None), (429, "ratelimited"), (200, "internal_error"), (200, None)]


def test_go_down_refuses_connections_until_come_back(fake: FakeSlack,
                                                     client: WebClient) -> None:
    client.chat_postMessage(channel="#alerts", text="before")
    base_url = fake.base_url

    fake.go_down()
    assert fake.is_down
    with pytest.raises(URLError):
        client.chat_postMessage(channel="#alerts", text="during")

    fake.come_back()
    assert fake.base_url == base_url
    client.chat_postMessage(channel="#alerts", text="after")
    assert fake.texts("alerts") == ["before", "after"]


def test_go_down_drop_closes_connections_without_an_answer(fake: FakeSlack,
                                                           client: WebClient) -> None:
    fake.go_down("drop")
    with pytest.raises(RemoteDisconnected):
        client.chat_postMessage(channel="#alerts", text="during")
    assert fake.dropped_count == 1
    assert fake.request_log == []

    fake.come_back()
    client.chat_postMessage(channel="#alerts", text="after")
    assert fake.texts("alerts") == ["after"]


def test_the_connection_retry_handler_recovers_from_a_dropped_request(fake: FakeSlack) -> None:
    fake.drop_next(1, method="chat.postMessage")
    client = fake.client(retry_handlers=[no_wait_connection_retries()])

    client.auth_test()
    client.chat_postMessage(channel="#alerts", text="hello")

    assert fake.dropped_count == 1
    assert fake.texts("alerts") == ["hello"]


def test_a_refused_connection_is_retried_once_then_raised(fake: FakeSlack) -> None:
    client = fake.client(retry_handlers=[no_wait_connection_retries()])
    fake.go_down("refuse")
    with pytest.raises(URLError):
        client.auth_test()
    fake.come_back()
    assert client.auth_test()["ok"] is True


# --- the fake's own bookkeeping ---------------------------------------------------------------


def test_request_log_and_counters_can_be_cleared(fake: FakeSlack, client: WebClient) -> None:
    fake.rate_limit_next(1, retry_after=0)
    with pytest.raises(SlackApiError):
        client.auth_test()
    client.auth_test()
    assert fake.request_count == 2 and fake.rate_limited_count == 1

    fake.clear_request_log()
    assert (fake.request_count, fake.rate_limited_count, fake.request_log) == (0, 0, [])


def test_test_side_mistakes_raise(fake: FakeSlack) -> None:
    with pytest.raises(ValueError, match="exists already"):
        fake.add_channel("#alerts")
    with pytest.raises(KeyError):
        fake.messages("nowhere")
    with pytest.raises(ValueError, match="unknown method"):
        fake.fail_next(1, method="chat.delete")
    with pytest.raises(ValueError, match="unknown method"):
        fake.set_rate_limit("chat.delete", 1)
    stopped = FakeSlack()
    with pytest.raises(RuntimeError, match="not started"):
        stopped.base_url  # noqa: B018


# --- conversations.history and message metadata ----------------------------------------------


def test_history_is_newest_first_paged_and_bounded(fake: FakeSlack, client: WebClient) -> None:
    channel = fake.channel("alerts").id
    posted = [client.chat_postMessage(channel="#alerts", text=f"m{k}")["ts"] for k in range(5)]
    first = client.conversations_history(channel=channel, limit=2)
    assert [m["text"] for m in first["messages"]] == ["m4", "m3"]
    assert first["has_more"] is True
    second = client.conversations_history(
        channel=channel, limit=2, cursor=first["response_metadata"]["next_cursor"])
    assert [m["text"] for m in second["messages"]] == ["m2", "m1"]
    since = client.conversations_history(channel=channel, oldest=posted[3])
    assert [m["text"] for m in since["messages"]] == ["m4"]  # exclusive by default
    since = client.conversations_history(channel=channel, oldest=posted[3], inclusive=True)
    assert [m["text"] for m in since["messages"]] == ["m4", "m3"]
    assert since["has_more"] is False and since["response_metadata"]["next_cursor"] == ""


def test_metadata_comes_back_only_when_asked_for(fake: FakeSlack, client: WebClient) -> None:
    metadata = {"event_type": "qmon_alert", "event_payload": {"alerts": ["k1"]}}
    client.chat_postMessage(channel="#alerts", text="alert", metadata=metadata)
    channel = fake.channel("alerts").id
    [plain] = client.conversations_history(channel=channel)["messages"]
    assert "metadata" not in plain
    [full] = client.conversations_history(channel=channel, include_all_metadata=True)["messages"]
    assert full["metadata"] == metadata
    with pytest.raises(SlackApiError) as bad:
        client.chat_postMessage(channel="#alerts", text="x", metadata={"event_type": "only"})
    assert bad.value.response["error"] == "invalid_metadata_schema"


def test_history_needs_an_id_membership_and_the_scope(fake: FakeSlack, client: WebClient) -> None:
    def error(**kwargs: object) -> str:
        with pytest.raises(SlackApiError) as raised:
            client.conversations_history(**kwargs)
        return raised.value.response["error"]

    assert error(channel="#alerts") == "channel_not_found"  # an ID, not a name
    other = fake.add_channel("elsewhere")  # its id
    fake.set_member("elsewhere", False)
    assert error(channel=other) == "not_in_channel"
    assert error(channel=fake.channel("alerts").id, limit=1000) == "invalid_limit"
    fake.scopes.remove("channels:history")
    assert error(channel=fake.channel("alerts").id) == "missing_scope"


def test_a_lost_answer_still_posts(fake: FakeSlack, client: WebClient) -> None:
    fake.lose_answer_next(method="chat.postMessage")
    with pytest.raises((RemoteDisconnected, URLError, ConnectionError)):
        client.chat_postMessage(channel="#alerts", text="did it arrive?")
    assert fake.texts("alerts") == ["did it arrive?"]
