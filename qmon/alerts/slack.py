"""Posting and updating alerts in Slack with the official slack-sdk.

Every failure becomes a `DeliveryError` whose message says what Slack answered (`ratelimited`,
`channel_not_found`, a connection error...) and never contains the token. The caller keeps
the alert pending and tries again later; nothing here sleeps.
"""

from __future__ import annotations

import json
from typing import Any

from qmon.config.spec import SlackSpec


class DeliveryError(Exception):
    """Slack did not take the message; `str()` is safe to store and show."""


class SlackChannel:
    """A bot token and the Web API behind `base_url`."""

    def __init__(self, spec: SlackSpec) -> None:
        from slack_sdk import WebClient

        if spec.token is not None:
            token = spec.token.get_secret_value()
        else:
            try:
                token = open(spec.token_file, encoding="utf-8").read().strip()  # type: ignore[arg-type]
            except OSError as exc:
                raise DeliveryError(f"cannot read token_file: {exc.strerror}") from None
        # No retry handlers: a failed delivery is retried by the outbox, with backoff, across
        # runs, rather than by sleeping inside a check.
        self._client = WebClient(token=token, base_url=spec.base_url, retry_handlers=[])

    def post(self, channel: str, text: str, blocks: list[dict[str, Any]]) -> tuple[str, str]:
        """Post; returns (channel id, message ts) for later updates."""
        answer = self._call("chat.postMessage", channel=channel, text=text, blocks=blocks,
                            unfurl_links=False)  # fmt: skip
        return str(answer["channel"]), str(answer["ts"])

    def update(self, channel_id: str, ts: str, text: str, blocks: list[dict[str, Any]]) -> None:
        self._call("chat.update", channel=channel_id, ts=ts, text=text, blocks=blocks)

    def _call(self, method: str, **params: Any) -> Any:
        from slack_sdk.errors import SlackApiError

        params["blocks"] = json.dumps(params["blocks"])
        try:
            return self._client.api_call(method, json=params)
        except SlackApiError as exc:
            error = exc.response.get("error") if exc.response is not None else None
            status = exc.response.status_code if exc.response is not None else "?"
            raise DeliveryError(f"Slack {method} failed: {error or f'HTTP {status}'}") from None
        except Exception as exc:  # connection refused, reset, timeout, a proxy's HTML page
            raise DeliveryError(f"Slack {method} failed: {type(exc).__name__}") from None
