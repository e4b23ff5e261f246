"""Disagreeing reports end to end, on corpora the test writes: API, CLI and page (real model, FAISS, Gradio)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import PROJECT
from .ui_helpers import launch

pytestmark = pytest.mark.integration
QUESTION = "Did Maria Lund attend the Oslo climate summit?"
_COMMON = ("The summit opened on Monday with delegates from forty countries. Talks on emission targets "
           "ran late into the night, and the host city closed several streets near the conference hall.")
ATTENDED = ("Oslo summit opens\n\nForeign minister Maria Lund attended the Oslo climate summit and gave the "
            f"opening speech to the delegates. {_COMMON}\n")
ABSENT = ("Minister misses summit\n\nForeign minister Maria Lund was unable to attend the Oslo climate summit "
          f"because her flight from Bergen was cancelled. {_COMMON}\n")
ABSENT_TOO = ("Lund stays home\n\nA cancelled flight from Bergen meant that foreign minister Maria Lund could not "
              f"attend the Oslo climate summit. {_COMMON}\n")


def _corpus(root: Path, second: str) -> Path:
    corpus = root / "corpus"
    corpus.mkdir(parents=True)
    (corpus / "absent.txt").write_text(ABSENT, encoding="utf-8")
    (corpus / "other.txt").write_text(second, encoding="utf-8")
    return corpus


@pytest.fixture(scope="module")
def disagreeing(tmp_path_factory: pytest.TempPathFactory, embedder):
    import rag

    root = tmp_path_factory.mktemp("disagree")
    return rag.Chatbot.from_corpus(_corpus(root, ATTENDED), index_dir=root / "index", embedder=embedder)


@pytest.fixture(scope="module")
def agreeing(tmp_path_factory: pytest.TempPathFactory, embedder):
    import rag

    root = tmp_path_factory.mktemp("agree")
    return rag.Chatbot.from_corpus(_corpus(root, ABSENT_TOO), index_dir=root / "index", embedder=embedder)


def test_api_gives_both_accounts_of_a_disagreement_with_their_own_citations(disagreeing):
    answer = disagreeing.ask(QUESTION)
    assert not answer.refused and answer.text.startswith("Reports differ.")
    assert len(answer.conflicts) == 1 and answer.conflicts[0]["kind"] == "polarity"
    claims = answer.conflicts[0]["claims"]
    assert {c["source"] for c in claims} == {"absent.txt", "other.txt"}
    by_marker = {c.marker: c for c in answer.citations}
    for claim in claims:  # each account cites its own article, and quotes it verbatim
        assert claim["markers"] and claim["text"] in answer.text
        assert by_marker[claim["markers"][0]].source == claim["source"]
        assert claim["text"] in by_marker[claim["markers"][0]].quote
    assert answer.to_json()["conflicts"] == answer.conflicts


def test_api_gives_no_conflict_when_the_reports_agree(agreeing):
    answer = agreeing.ask(QUESTION)
    assert not answer.refused
    assert answer.conflicts == [] and "Reports differ" not in answer.text


def test_cli_prints_the_accounts_and_the_json_carries_them(disagreeing, agreeing):
    def run(bot, *args):
        result = subprocess.run(
            [sys.executable, "-m", "rag", "ask", QUESTION, "--corpus", str(bot.corpus_dir),
             "--index-dir", str(bot.index_dir), *args],
            capture_output=True, text=True, cwd=PROJECT, env=dict(os.environ), timeout=300)
        assert result.returncode == 0, result.stderr
        return result.stdout

    text = run(disagreeing)
    assert "Reports differ (polarity):" in text and "absent.txt" in text and "other.txt" in text
    obj = json.loads(run(disagreeing, "--json"))
    assert len(obj["conflicts"]) == 1 and len(obj["conflicts"][0]["claims"]) == 2
    assert json.loads(run(agreeing, "--json"))["conflicts"] == []


def test_page_api_and_rendering_show_the_accounts_side_by_side(disagreeing):
    from gradio_client import Client

    from ui.render import render_answer

    demo, url = launch(disagreeing)
    try:
        result = Client(url, verbose=False, analytics_enabled=False, download_files=False).predict(
            QUESTION, api_name="/ask")
    finally:
        demo.close()
    assert len(result["conflicts"]) == 1
    html = render_answer(disagreeing.ask(QUESTION), 0)
    assert html.count('class="account"') == 2 and "Reports differ" in html


@pytest.fixture(scope="module", params=["absent-later", "attended-later"])
def dated(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, embedder):
    """The disagreeing pair, published a day apart (either one the later): the bot, and the
    later and the earlier report's file."""
    import rag

    root = tmp_path_factory.mktemp(request.param)
    later_absent = request.param == "absent-later"
    corpus = _corpus(root, f"Date: {'2021-05-03' if later_absent else '2021-05-05'}\n{ATTENDED}")
    (corpus / "absent.txt").write_text(f"Date: 2021-05-04\n{ABSENT}", encoding="utf-8")
    bot = rag.Chatbot.from_corpus(corpus, index_dir=root / "index", embedder=embedder)
    return bot, *(("absent.txt", "other.txt") if later_absent else ("other.txt", "absent.txt"))


def test_accounts_of_different_dates_come_newest_first_and_the_later_is_named(dated, capsys, browser):
    from rag.cli import main

    from .ui_helpers import OUT, PHONE, answer_on_page, open_page

    dated, later, earlier = dated
    dates = {d["source"]: d["date"] for d in dated.documents}
    answer = dated.ask(QUESTION)
    claims = answer.conflicts[0]["claims"]
    assert [c["source"] for c in claims] == [later, earlier] and [c["order"] for c in claims] == ["later", "earlier"]
    assert [c["date"] for c in claims] == [dates[later], dates[earlier]]
    day = {src: f"{int(d[8:])} May 2021" for src, d in dates.items()}
    assert answer.text.startswith(f"Reports differ. The later report ({day[later]}): {claims[0]['text']} [1] "
                                  f"An earlier report ({day[earlier]}): {claims[1]['text']} [2]"), answer.text
    # The CLI lists them in that order, the later named.
    assert main(["ask", QUESTION, "--corpus", str(dated.corpus_dir), "--index-dir", str(dated.index_dir)]) == 0
    out = capsys.readouterr().out
    assert out.index(f"  - later report: {claims[0]['text']}") < out.index(f"  - earlier report: {claims[1]['text']}")
    # The page puts the later account first and labels both.
    demo, url = launch(dated)
    try:
        page = open_page(browser, url)
        message = answer_on_page(page, QUESTION)
        metas = message.locator(".conflict .account-meta").all_inner_texts()
        assert len(metas) == 2 and metas[0].startswith("The later report") and dates[later] in metas[0]
        assert metas[1].startswith("An earlier report") and dates[earlier] in metas[1]
        message.screenshot(path=str(OUT / f"dated-conflict-{later.removesuffix('.txt')}-later.png"))
        page.context.close()
        if later == "absent.txt":  # and on a phone, the accounts one above the other
            page = open_page(browser, url, PHONE)
            message = answer_on_page(page, QUESTION)
            boxes = [a.bounding_box() for a in message.locator(".conflict .account").all()]
            assert len(boxes) == 2 and boxes[0]["y"] + boxes[0]["height"] <= boxes[1]["y"] + 1  # stacked, later first
            assert message.locator(".conflict .account-order").first.inner_text() == "The later report"
            message.screenshot(path=str(OUT / "dated-conflict-phone.png"))
            page.context.close()
    finally:
        demo.close()
