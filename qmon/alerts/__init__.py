"""Alerts: promises that broke or are about to, told once to the people who can act.

`check` finds them and keeps the ledger and outbox (the `alerts` table), `message` writes
them (Slack Block Kit, Dutch or English), `slack` delivers them.
"""
