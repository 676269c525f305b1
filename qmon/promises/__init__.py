"""Promises: their runtime definition, business calendars and the compliance engine."""
