"""The news-time benchmark (`rag eval --story`): a developing story written out as files
(fourteen reports of a bridge collapse over three weeks, the toll updated as it rises and
once corrected, two of them undated), and questions about its time: the latest report, the
first one, a period named in the question, and the timeline's order.

Each question names what a right answer does: comes from one report (latest, first), or
cites only reports of the period it names, or says that none was published then. The tests
write the same story (``tests/story.py``), so these figures are also checked by ``make test``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

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


# (kind, question, the report a right answer cites first): "latest" and "first" questions.
TIME_QUESTIONS = [
    ("latest", "What is the latest death toll of the Marlow bridge collapse?", "r10.txt"),
    ("latest", "What is the death toll of the Marlow bridge collapse now?", "r10.txt"),
    ("latest", "What is the latest news on the Marlow bridge inquiry?", "r12.txt"),
    ("latest", "How do commuters currently cross the river at Marlow?", "r08.txt"),
    ("latest", "What is the most recent plan for the Marlow bridge?", "r11.txt"),
    ("first", "What was the toll of the Marlow bridge collapse initially?", "r01.txt"),
    ("first", "What did the first reports say about the Marlow bridge collapse?", "r01.txt"),
    ("first", "What did engineers first say caused the Marlow bridge collapse?", "r04.txt"),
    ("first", "Who initially led the inquiry into the Marlow bridge collapse?", "r07.txt"),
]
# Questions that name a period: a right answer cites only reports published in it, or is a
# refusal; where no report was published then, it says so (``period.no_reports``).
PERIOD_QUESTIONS = [
    "What was the death toll of the Marlow bridge collapse on 3 March?",
    "What was the toll of the Marlow bridge collapse before 5 March?",
    "What did engineers say about the Marlow bridge in March 2021?",
    "Who led the inquiry into the Marlow bridge collapse after 9 March?",
    "What was the death toll of the Marlow bridge collapse between 6 and 9 March?",
    "What is the latest death toll of the Marlow bridge collapse before 4 March 2021?",
    "What happened to the Marlow bridge in 2019?",
    "What was the toll of the Marlow bridge collapse in April 2021?",
]
TIMELINE_QUERY = "What happened after the Marlow bridge collapse?"


def write_story(folder: Path) -> Path:
    """The reports as text files with a `Date:` first line where dated; returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, date, headline, body in REPORTS:
        head = f"Date: {date}\n" if date else ""
        (folder / name).write_text(f"{head}{headline}\n\n{body}\n", encoding="utf-8")
    return folder


def run_story(work: Path | None = None, **config: Any) -> dict[str, Any]:
    """Write the story under ``work`` (a temporary folder if None), index it and ask every
    question; the figures and each item. ``config``: Chatbot.from_corpus options."""
    import rag

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(work or tmp)
        bot = rag.Chatbot.from_corpus(write_story(root / "corpus"), index_dir=root / "index", **config)
        dates = {name: date for name, date, _, _ in REPORTS}
        items: list[dict[str, Any]] = []
        for kind, question, gold in TIME_QUESTIONS:
            answer = bot.ask(question)
            cited = answer.citations[0].source if answer.citations else None
            items.append({"kind": kind, "question": question, "expected": gold, "cited": cited,
                          "status": answer.status, "answer": answer.text, "ok": cited == gold and not answer.refused})
        for question in PERIOD_QUESTIONS:
            answer = bot.ask(question)
            period = answer.period or {}
            inside = all(dates[c.source] and (not period.get("since") or dates[c.source] >= period["since"])
                         and (not period.get("until") or dates[c.source] <= period["until"])
                         for c in answer.citations)
            ok = bool(period) and (period.get("no_reports") or answer.refused or inside)
            items.append({"kind": "period", "question": question, "period": period, "status": answer.status,
                          "cited": [c.source for c in answer.citations], "answer": answer.text, "ok": bool(ok)})
        timeline = bot.timeline(TIMELINE_QUERY, k=40)
        order = [e.source for e in timeline.dated]
        expected = sorted((n for n, d in dates.items() if d), key=lambda n: dates[n] or "")
        undated = sorted(e.source for e in timeline.undated)
        timeline_exact = order == expected and undated == sorted(n for n, d in dates.items() if not d)

    def share(kind: str) -> float:
        chosen = [i["ok"] for i in items if i["kind"] == kind]
        return round(sum(chosen) / len(chosen), 4)

    return {"latest": share("latest"), "first": share("first"), "period": share("period"),
            "timeline_exact": timeline_exact, "questions": len(items), "items": items}
