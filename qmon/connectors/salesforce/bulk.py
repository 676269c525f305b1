"""Salesforce's Bulk API 2.0 queries, for first loads of many rows: a queryAll job, polled
until complete (with backoff, at most `BULK_MAX_WAIT_SECONDS`), its CSV results read page by
page by `Sforce-Locator` (each locator checked against loops, `PageTrail`). Every request
goes through `SalesforceApi.call` (retries, re-login, usage counting).
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from qmon.connectors.base import SourceUnreachable
from qmon.connectors.salesforce.api import BULK_MAX_POLL_SECONDS, BULK_MAX_WAIT_SECONDS
from qmon.connectors.salesforce.wire import BulkJobFailed

if TYPE_CHECKING:
    from qmon.connectors.salesforce.api import SalesforceApi

log = logging.getLogger(__name__)


def bulk_rows(
    api: SalesforceApi, soql: str, poll_check: Callable[[], None], stream: str
) -> Iterator[tuple[list[dict[str, str]], bool]]:
    """Run `soql` as a Bulk 2.0 queryAll job; its rows page by page, with "last page?".

    Raises:
        BulkJobFailed: the job ended Failed or Aborted (before any row was returned).
    """
    job = api.call(
        "Bulk 2.0 job create",
        lambda sf: api.bulk_request(
            sf,
            "POST",
            "jobs/query",
            json={
                "operation": "queryAll",
                "query": soql,
                "contentType": "CSV",
                "columnDelimiter": "COMMA",
                "lineEnding": "LF",
            },
        ).json(),
    )
    job_id = job["id"]
    log.info("Salesforce Bulk 2.0 job %s created", job_id)
    _wait_for(api, job_id, poll_check)
    trail = api.trail(stream, f"the Sforce-Locator of Bulk 2.0 job {job_id}'s results")
    locator: str | None = ""
    while locator is not None:
        params: dict[str, Any] = {"maxRecords": api.spec.bulk_page_size}
        if locator:
            params["locator"] = locator
        answer = api.call(
            "Bulk 2.0 results",
            lambda sf, params=params: api.bulk_request(
                sf, "GET", f"jobs/query/{job_id}/results", params=params, accept="text/csv"
            ),
        )
        following = answer.headers.get("Sforce-Locator")
        rows = list(csv.DictReader(io.StringIO(answer.content.decode("utf-8"))))
        locator = trail.follow(None if following == "null" else following, records=len(rows))
        yield rows, locator is None


def _wait_for(api: SalesforceApi, job_id: str, poll_check: Callable[[], None]) -> None:
    delay = api.spec.bulk_poll_seconds
    waited = 0.0
    while True:
        info = api.call(
            "Bulk 2.0 job info",
            lambda sf: api.bulk_request(sf, "GET", f"jobs/query/{job_id}").json(),
        )
        state = info.get("state")
        if state == "JobComplete":
            return
        if state in ("Failed", "Aborted"):
            raise BulkJobFailed(api.redact(str(info.get("errorMessage") or state)))
        if waited >= BULK_MAX_WAIT_SECONDS:
            raise SourceUnreachable(
                f"Bulk 2.0 job {job_id} was still {state} after "
                f"{BULK_MAX_WAIT_SECONDS // 3600} hours; set bulk_threshold: null to read "
                "with REST only"
            )
        poll_check()
        api.sleep(delay)
        waited += delay
        delay = min(max(delay * 1.5, 0.001), BULK_MAX_POLL_SECONDS)
