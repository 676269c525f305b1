"""Customer voice: NPS, CSAT and CES per ISO week, from the CRM's survey responses.

Connectors turn survey responses into events `survey.nps`, `survey.csat` and `survey.ces`
with the answer as the `score` attribute (HubSpot's feedback submissions do this; a file
import can too, with a `score` column). The scores follow the usual definitions:

- NPS: % promoters (9-10) minus % detractors (0-6) of answers on 0-10, from -100 to 100;
- CSAT: % satisfied, answers of 4 or 5 on a 1-5 scale;
- CES: the mean answer (on the survey's own scale, e.g. 1-7 where 7 is "very easy").

A response without a numeric score is not counted; a week without responses has no score.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field

from qmon.store import Store

TYPES = {"survey.nps": "nps", "survey.csat": "csat", "survey.ces": "ces"}


@dataclass
class VoiceWeek:
    """One week's answers per measure."""

    scores: dict[str, list[float]] = field(default_factory=dict)

    def count(self, measure: str) -> int:
        return len(self.scores.get(measure, ()))

    def value(self, measure: str) -> float | None:
        answers = self.scores.get(measure)
        if not answers:
            return None
        n = len(answers)
        if measure == "nps":
            promoters = sum(1 for a in answers if a >= 9)
            detractors = sum(1 for a in answers if a <= 6)
            return 100 * (promoters - detractors) / n
        if measure == "csat":
            return 100 * sum(1 for a in answers if a >= 4) / n
        return sum(answers) / n


def voice_by_week(store: Store, bounds: list[int]) -> list[VoiceWeek]:
    """One `VoiceWeek` per week between consecutive `bounds` (instants, ascending)."""
    weeks = [VoiceWeek() for _ in bounds[:-1]]
    for kind, occurred, score in store.survey_scores(tuple(TYPES), bounds[0], bounds[-1]):
        number = _number(score)
        if number is None:
            continue
        weeks[bisect_right(bounds, occurred) - 1].scores.setdefault(TYPES[kind], []).append(number)
    return weeks


def has_voice(weeks: list[VoiceWeek]) -> bool:
    return any(week.scores for week in weeks)


def _number(score: object) -> float | None:
    if isinstance(score, bool):
        return None
    if isinstance(score, int | float):
        return float(score)
    try:
        return float(str(score).strip().replace(",", "."))
    except ValueError:
        return None
