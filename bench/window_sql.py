"""The hand-written SQL that `qmon audit` is measured against (and checked against in tests).

It counts met / breached / open instances of a wall-clock promise with one start type and
one stop type and no pauses, with window functions only: an opening start is a start whose
previous role event is a stop (or none); a closing stop is a stop whose previous role event
is a start; in that filtered sequence each opening start is followed by its closing stop.
"""

from __future__ import annotations

WINDOW_SQL = """
WITH ev AS (
  SELECT subject_type, subject_id, occurred_us AS t,
         CASE WHEN type = {start} THEN 0 ELSE 3 END AS role
  FROM events WHERE type IN ({start}, {stop}) AND occurred_us <= {as_of}
),
marked AS (
  SELECT subject_type, subject_id, t, role,
         LAG(role) OVER (PARTITION BY subject_type, subject_id ORDER BY t, role) AS prev_role
  FROM ev
),
edges AS (
  SELECT subject_type, subject_id, t, role FROM marked
  WHERE (role = 0 AND (prev_role IS NULL OR prev_role = 3)) OR (role = 3 AND prev_role = 0)
),
paired AS (
  SELECT role, t AS started,
         LEAD(t) OVER (PARTITION BY subject_type, subject_id ORDER BY t, role) AS stopped
  FROM edges
)
SELECT
  SUM(CASE WHEN stopped IS NOT NULL AND stopped - started <= {within} THEN 1 ELSE 0 END),
  SUM(CASE WHEN COALESCE(stopped, {as_of}) - started > {within} THEN 1 ELSE 0 END),
  SUM(CASE WHEN stopped IS NULL AND {as_of} - started <= {within} THEN 1 ELSE 0 END)
FROM paired WHERE role = 0
"""


def window_sql(paramstyle: str) -> str:
    """The query with placeholders for sqlite3 (`qmark`) or psycopg (`pyformat`)."""
    if paramstyle == "qmark":
        names = {"start": ":start", "stop": ":stop", "as_of": ":as_of", "within": ":within"}
    else:
        names = {k: f"%({k})s" for k in ("start", "stop", "as_of", "within")}
    return WINDOW_SQL.format(**names)


def counts(cursor, paramstyle: str, start: str, stop: str, as_of_us: int, within_us: int):
    """(met, breached, open) by the window query, on an open DB-API cursor."""
    cursor.execute(
        window_sql(paramstyle),
        {"start": start, "stop": stop, "as_of": as_of_us, "within": within_us},
    )
    met, breached, open_ = cursor.fetchone()
    return (met or 0, breached or 0, open_ or 0)
