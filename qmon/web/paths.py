"""The dashboard's URLs that other parts of qmon link to; each id one quoted path segment.

`record_path` is the path of the CRM field `qmon_link` (`{public_url}/record/{subject_type}/
{subject_id}`): keep it as it is, CRM records hold it. A subject id may hold any character
(`/` too): it is percent-encoded as one segment, and the routes take the rest of the path.
"""

from __future__ import annotations

from urllib.parse import quote


def _segment(value: str | int) -> str:
    return quote(str(value), safe="")


def record_path(subject_type: str, subject_id: str) -> str:
    return f"/record/{_segment(subject_type)}/{_segment(subject_id)}"


def instance_path(promise_id: str, subject_type: str, subject_id: str, cycle: int) -> str:
    return (
        f"/instance/{_segment(promise_id)}/{_segment(subject_type)}/"
        f"{_segment(subject_id)}/{_segment(cycle)}"
    )


def absolute(base: str, path: str) -> str:
    """`path` under `base` (a public URL or the request's own), without a doubled `/`."""
    return base.rstrip("/") + path
