"""qmon inside the CRM: promise status written back onto the records, tasks for owners.

- `values`: what a record's qmon fields say, a pure function of its instances.
- `plan` and `deliver`: the outbox. The check stores each record's wanted values in the
  same transaction as its alerts (`plan`), then writes those that differ from what the CRM
  last got, in batches, retrying the refused ones later (`deliver`); tasks have a ledger
  like alerts, so each broken instance gets one task, also across crashes and lost answers.
- `protocol`: what a CRM writer offers (`qmon.connectors.<crm>.writer` implements it).
- `crm`: which CRM object a subject is, the default field names, and the writer of a source.
"""
