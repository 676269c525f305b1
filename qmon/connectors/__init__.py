"""Connectors: turn what a CRM exports or serves into canonical `Event`s.

Each connector reports bad input as `Problem`s located as precisely as it can, so an import
can list every bad row at once instead of stopping at the first.
"""
