"""Counting instances into compliance figures.

Compliance is met / (met + breached). With nothing met or breached it is not evaluated
(None), never 100 %: missing data must not look like a kept promise.
"""

from __future__ import annotations

from dataclasses import dataclass

from qmon.promises.engine import Instance


@dataclass
class Tally:
    """Counts of instances by status, and how many open ones are at risk."""

    met: int = 0
    breached: int = 0
    open: int = 0
    at_risk: int = 0
    not_evaluated: int = 0  # instances whose allowance could not be decided (no data)

    def add(self, inst: Instance) -> None:
        if inst.status == "met":
            self.met += 1
        elif inst.status == "breached":
            self.breached += 1
        elif inst.status == "not_evaluated":
            self.not_evaluated += 1
        else:
            self.open += 1
            if inst.at_risk:
                self.at_risk += 1

    def merge(self, other: Tally) -> None:
        self.met += other.met
        self.breached += other.breached
        self.open += other.open
        self.at_risk += other.at_risk
        self.not_evaluated += other.not_evaluated

    @property
    def evaluated(self) -> int:
        return self.met + self.breached

    @property
    def compliance(self) -> float | None:
        """met / (met + breached), or None when nothing is evaluated yet."""
        return self.met / self.evaluated if self.evaluated else None


def objective_met(tally: Tally, objective: float | None) -> bool | None:
    """Whether compliance reaches the objective; None without objective or without data."""
    compliance = tally.compliance
    if objective is None or compliance is None:
        return None
    return compliance >= objective - 1e-12
