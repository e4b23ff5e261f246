"""A developing story the tests write: fourteen reports of a bridge collapse over three
weeks, the toll updated as it rises and once corrected, two of them undated."""

from __future__ import annotations

from pathlib import Path

# (file, publication date or None, headline, body): the toll rises, and one report corrects it.
REPORTS = [
    ("r01.txt", "2021-03-01", "Bridge collapses in Marlow",
     "The Marlow river bridge collapsed on Monday morning. Rescuers said 3 people died."),
    ("r02.txt", "2021-03-02", "Marlow bridge toll rises",
     "The death toll from the Marlow bridge collapse rose to 7, the fire service said."),
    ("r03.txt", "2021-03-03", "Divers search the Marlow river",
     "Divers searched the river below the collapsed Marlow bridge. The toll stood at 9."),
    ("r04.txt", "2021-03-05", "Engineers blame corrosion",
     "Engineers said corrosion in the main span caused the Marlow bridge collapse. The toll is 11."),
    ("r05.txt", "2021-03-06", "Mayor orders inspections",
     "The mayor of Marlow ordered inspections of every bridge in the city after the collapse."),
    ("r06.txt", "2021-03-08", "Toll corrected",
     "Officials corrected the toll of the Marlow bridge collapse to 10, saying one victim was counted twice."),
    ("r07.txt", "2021-03-10", "Inquiry opens",
     "A public inquiry into the Marlow bridge collapse opened on Wednesday, led by judge Ana Sousa."),
    ("r08.txt", "2021-03-12", "Ferry replaces bridge",
     "A temporary ferry now carries commuters across the river where the Marlow bridge stood."),
    ("r09.txt", "2021-03-15", "Contractor questioned",
     "The contractor that repaired the Marlow bridge in 2019 was questioned by the inquiry."),
    ("r10.txt", "2021-03-17", "Funeral for victims",
     "A funeral was held for the victims of the Marlow bridge collapse; the toll remains 10."),
    ("r11.txt", "2021-03-19", "Rebuilding plan",
     "The city approved a plan to rebuild the Marlow bridge by 2023 at a cost of 40 million euros."),
    ("r12.txt", "2021-03-21", "Inquiry interim report",
     "The inquiry's interim report said warnings about corrosion on the Marlow bridge were ignored."),
    ("u01.txt", None, "Readers remember the old bridge",
     "Readers shared memories of the Marlow bridge, which stood for ninety years before it collapsed."),
    ("u02.txt", None, "Opinion: fix our bridges",
     "The collapse of the Marlow bridge shows the city must spend more on maintenance."),
]


def write_story(folder: Path) -> Path:
    """The reports as text files with a `Date:` first line where dated; returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, date, headline, body in REPORTS:
        head = f"Date: {date}\n" if date else ""
        (folder / name).write_text(f"{head}{headline}\n\n{body}\n", encoding="utf-8")
    return folder
