"""How qmon's tables look on a terminal: readable at 80 columns, the width many terminals and
every pipe get.

No outer border and one space between columns (the simple box's divider) leave the width
to the values; numbers and ids never wrap (a cut id or count cannot be read), headers may
take two lines, and only free text (titles, descriptions) wraps. Tables that would still not
fit show ids only, with the titles under `--wide`.
"""

from __future__ import annotations

from rich import box
from rich.table import Table


def table(title: str) -> Table:
    """An empty table in qmon's compact style, its title on its own line at the left."""
    return Table(
        title=title,
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        padding=0,
    )


def column(table: Table, header: str, *, number: bool = False, wraps: bool = False) -> None:
    """Add a column: a right-aligned number, free text that `wraps`, or an id (neither)."""
    table.add_column(
        header, justify="right" if number else "left", no_wrap=not wraps, overflow="fold"
    )
