"""Posting and updating alerts in Slack with the official slack-sdk.

Every failure becomes a `DeliveryError` whose message says what Slack answered (`ratelimited`,
`channel_not_found`, a connection error...) and never contains the token. The caller keeps
the alert pending and tries again later; nothing here sleeps.
"""

from __future__ import annotations

import json
from typing import Any

from qmon.config.spec import SlackSpec
from qmon.safeio import read_secret_file

METADATA_EVENT = "qmon_alert"
"""The `event_type` of the metadata qmon tags its messages with."""


class DeliveryError(Exception):
    """Slack did not take the message; `str()` is safe to store and show."""

    @property
    def missing_scope(self) -> bool:
        return "missing_scope" in str(self)


class SlackChannel:
    """A bot token and the Web API behind `base_url`."""

    def __init__(self, spec: SlackSpec) -> None:
        from slack_sdk import WebClient

        if spec.token is not None:
            token = spec.token.get_secret_value()
        else:
            try:
                token = read_secret_file(spec.token_file)  # type: ignore[arg-type]
            except OSError as exc:
                raise DeliveryError(f"cannot read token_file: {exc.strerror}") from None
        # No retry handlers: a failed delivery is retried by the outbox, with backoff, across
        # runs, rather than by sleeping inside a check.
        self._client = WebClient(token=token, base_url=spec.base_url, retry_handlers=[])
        self._ids: dict[str, str] = {}  # channel name or id -> id

    def post(
        self, channel: str, text: str, blocks: list[dict[str, Any]], keys: list[str]
    ) -> tuple[str, str]:
        """Post, tagged with the alerts' ledger keys as message metadata (so that
        `find_posted` can tell later whether it arrived); returns (channel id, ts)."""
        metadata = {"event_type": METADATA_EVENT, "event_payload": {"alerts": keys}}
        answer = self._call("chat.postMessage", channel=channel, text=text, blocks=blocks,
                            unfurl_links=False, metadata=metadata)  # fmt: skip
        return str(answer["channel"]), str(answer["ts"])

    def find_posted(
        self, channel: str, keys: set[str], since_s: float
    ) -> dict[str, tuple[str, str | None]]:
        """Which of `keys` were posted to `channel` (a name or id) since `since_s` (Unix
        seconds): key -> (channel id, ts; None for a digest, which is never updated). Reads
        the channel's history with its metadata; needs `channels:history` (or
        `groups:history`) and `channels:read`/`groups:read`."""
        channel_id = self._channel_id(channel)
        found: dict[str, tuple[str, str]] = {}
        cursor = None
        while True:
            answer = self._call("conversations.history", channel=channel_id,
                                oldest=f"{since_s:.6f}", inclusive=True, limit=200,
                                include_all_metadata=True, cursor=cursor)  # fmt: skip
            for message in answer.get("messages") or []:
                metadata = message.get("metadata") or {}
                if metadata.get("event_type") != METADATA_EVENT:
                    continue
                tagged = (metadata.get("event_payload") or {}).get("alerts") or []
                ts = str(message["ts"]) if len(tagged) == 1 else None  # a digest: no updates
                for key in tagged:
                    if key in keys:
                        found.setdefault(key, (channel_id, ts))
            cursor = (answer.get("response_metadata") or {}).get("next_cursor")
            if not cursor or len(found) == len(keys):
                return found

    def _channel_id(self, channel: str) -> str:
        """A channel's id: given as such, or looked up by name (`#sales` or `sales`)."""
        name = channel.strip().removeprefix("#")
        if name in self._ids:
            return self._ids[name]
        cursor = None
        while True:
            answer = self._call("conversations.list", types="public_channel,private_channel",
                                exclude_archived=True, limit=1000, cursor=cursor)  # fmt: skip
            for item in answer.get("channels") or []:
                self._ids[str(item["name"])] = self._ids[str(item["id"])] = str(item["id"])
            if name in self._ids:
                return self._ids[name]
            cursor = (answer.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                raise DeliveryError(f"Slack channel {channel} not found")

    def update(self, channel_id: str, ts: str, text: str, blocks: list[dict[str, Any]]) -> None:
        self._call("chat.update", channel=channel_id, ts=ts, text=text, blocks=blocks)

    def _call(self, method: str, **params: Any) -> Any:
        from slack_sdk.errors import SlackApiError

        params = {name: value for name, value in params.items() if value is not None}
        if "blocks" in params:
            params["blocks"] = json.dumps(params["blocks"])
        try:
            return self._client.api_call(method, json=params)
        except SlackApiError as exc:
            error = exc.response.get("error") if exc.response is not None else None
            status = exc.response.status_code if exc.response is not None else "?"
            raise DeliveryError(f"Slack {method} failed: {error or f'HTTP {status}'}") from None
        except Exception as exc:  # connection refused, reset, timeout, a proxy's HTML page
            raise DeliveryError(f"Slack {method} failed: {type(exc).__name__}") from None
