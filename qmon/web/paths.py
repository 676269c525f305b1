"""The dashboard's URLs, as the web app builds them: those of `qmon.links`, which the rest of
qmon (alerts, the weekly report) links to without importing the web stack.

`record_path` is the path of the CRM field `qmon_link` (`{public_url}/record/{subject_type}/
{subject_id}`): keep it as it is, CRM records hold it. A subject id may hold any character
(`/` too): it is percent-encoded as one segment, and the routes take the rest of the path.
"""

from __future__ import annotations

from qmon.links import absolute, instance_path, promise_path, record_path

__all__ = ["absolute", "instance_path", "promise_path", "record_path"]
