"""The developing story the tests write: the news-time benchmark's (``eval/story.py``)."""

from eval.story import PERIOD_QUESTIONS, REPORTS, TIME_QUESTIONS, run_story, write_story

__all__ = ["PERIOD_QUESTIONS", "REPORTS", "TIME_QUESTIONS", "run_story", "write_story"]
