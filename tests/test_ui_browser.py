"""The chat page in a real headless Chromium: streaming, citations, upload, and no XSS.

Uses Debian's /usr/bin/chromium (.ci/run installs it). The page keeps a connection open,
so the tests wait for elements, never for network idle.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from .ui_helpers import AROURI, OUT, PAYMENT, ROCKETS, launch, make_bot

pytestmark = pytest.mark.integration
TIMEOUT_MS = 30_000
HOSTILE_SCRIPT = "<script>window.__xss=1</script>"
HOSTILE_IMG = '<img src=x onerror="window.__xss=2">'
HOSTILE_TITLE = "Zephyr Council <script>window.__xss=3</script> bridges"
HOSTILE_DOC = (f"{HOSTILE_TITLE}\n\nThe Zephyr Council {HOSTILE_SCRIPT} approved 17 new bridges "
               f"{HOSTILE_IMG} across the Valdoria river in March 2019.\n\n"
               "Engineers from the coastal towns will build them over the next four years.\n")
HARBOR_DOC = ("# Port of Marisol opens Aurora Quay\n\nThe Port of Marisol opened a new container terminal "
              "named Aurora Quay on 4 March 2019.\n\nThe terminal doubles the port's capacity for cargo ships.\n")

# Records when the last assistant message first shows text and when it is complete,
# relative to the moment the question is submitted (set just before pressing Enter).
TIMING_JS = """() => {
  window.__timing = {};
  window.__t0 = performance.now();
  const chat = document.querySelector('#chat');
  const seen = chat.querySelectorAll('.msg.bot').length;
  const observer = new MutationObserver(() => {
    const bots = chat.querySelectorAll('.msg.bot');
    if (bots.length <= seen) { return; }
    const last = bots[bots.length - 1];
    const now = performance.now() - window.__t0;
    if (window.__timing.first === undefined && last.querySelector('.msg-text').textContent.trim()) {
      window.__timing.first = now;
    }
    if (last.getAttribute('data-complete') === 'true') { window.__timing.complete = now; observer.disconnect(); }
  });
  observer.observe(chat, {subtree: true, childList: true, characterData: true, attributes: true});
}"""


@pytest.fixture(scope="module")
def app(embedder, tmp_path_factory: pytest.TempPathFactory):
    """The page as `rag chat` serves it: uploads private to the visitor who adds them."""
    root = tmp_path_factory.mktemp("ui_browser")
    bot = make_bot(root, embedder, shared_uploads=False)
    demo, url = launch(bot, visitors_dir=root / "visitors")
    yield url, bot, root / "visitors"
    demo.close()


@pytest.fixture
def page(browser, app):
    """A fresh page on the app that records dialogs and requests the page makes."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(TIMEOUT_MS)
    page.dialogs, page.requested = [], []
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    page.on("request", lambda request: page.requested.append(request.url))
    started = time.perf_counter()
    page.goto(app[0])
    page.wait_for_selector("#chat .chat-log")
    page.load_seconds = time.perf_counter() - started
    yield page
    page.close()


def ask(page, question: str) -> dict:
    """Type ``question``, submit it, wait for the complete answer; return the timings (ms)."""
    box = page.locator("#question textarea")
    box.fill(question)
    page.evaluate(TIMING_JS)
    box.press("Enter")
    page.wait_for_function("() => window.__timing.complete !== undefined")
    assert page.locator("#chat .msg.bot").last.get_attribute("data-complete") == "true"
    return page.evaluate("window.__timing")


def upload(page, path: Path) -> str:
    """Upload ``path`` through the page's upload component; return the one-line result."""
    page.set_input_files("#upload input[type=file]", str(path))
    notice = page.locator("#notice .notice")
    notice.wait_for()
    return notice.inner_text()


def test_chat_shows_a_cited_answer_and_a_marker_opens_its_card_and_its_source(page):
    timings = ask(page, AROURI)
    answer = page.locator("#chat .msg.bot").last
    assert "Arouri" in answer.inner_text()
    assert "refusal" not in answer.get_attribute("class")  # answered (confidently or not)
    links = answer.locator("sup.cite a.cite-link")
    assert links.count() >= 1
    assert "Arouri" in links.first.get_attribute("title")  # hover shows the cited sentence

    # A click opens the card in place; "Open in Sources" highlights the entry in the panel.
    target = links.first.get_attribute("data-target")
    links.first.click()
    card = answer.locator(".cite-card").first
    card.wait_for(state="visible")
    assert "Arouri" in card.inner_text() and links.first.get_attribute("aria-expanded") == "true"
    card.locator("button.open-src").click()
    entry = page.locator(f"#sources details.source#{target}")
    page.wait_for_function("id => document.getElementById(id).classList.contains('active')", arg=target)
    assert entry.get_attribute("open") is not None
    assert entry.locator("blockquote.passage").is_visible()
    assert "Arouri" in entry.locator("mark").inner_text()
    background = entry.evaluate("e => getComputedStyle(e).backgroundColor")
    assert background not in ("rgba(0, 0, 0, 0)", "transparent")  # highlighted, not only bordered
    assert " of " in entry.locator(".relevance").inner_text() and "found by" in entry.locator(".relevance").inner_text()
    page.keyboard.press("Escape")
    card.wait_for(state="hidden")

    # A follow-up resolves "he" from the conversation's history.
    ask(page, "What did he promise Khamenei?")
    assert "first line of defense" in page.locator("#chat .msg.bot").last.inner_text()
    assert page.locator("#chat .msg.user").count() == 2
    # A marker of the earlier answer, whose sources the panel no longer shows, still opens its card.
    old_marker = page.locator("#chat .msg.bot").first.locator("a.cite-link").first
    old_marker.click()
    card = page.locator("#chat .msg.bot").first.locator(".cite-card").first
    card.wait_for(state="visible")
    assert "Arouri" in card.inner_text() and not card.locator("button.open-src").is_visible()

    # The example questions are about the shipped articles, which this corpus holds.
    assert page.locator("#examples button").count() == 3
    OUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUT / "chat.png"), full_page=True)
    figures = {"page_load_ms": round(page.load_seconds * 1000, 1), "first_text_ms": round(timings["first"], 1),
               "complete_answer_ms": round(timings["complete"], 1)}
    (OUT / "timings.json").write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    print(f"\nbrowser timings: page load {figures['page_load_ms']} ms, first text "
          f"{figures['first_text_ms']} ms, complete answer {figures['complete_answer_ms']} ms")


def test_disagreeing_reports_show_side_by_side_with_source_and_date(page):
    ask(page, "Did Ismail Haniyeh travel to Tehran for the meeting?")
    message = page.locator("#chat .msg.bot").last
    assert "Reports differ" in message.locator(".conflict-lead").inner_text()
    accounts = message.locator(".conflict .account")
    assert accounts.count() == 2
    texts = accounts.all_inner_texts()
    assert "unable to attend" in texts[0] or "unable to attend" in texts[1]
    assert any("participants" in t or "Iranian capital" in t for t in texts)
    boxes = [accounts.nth(i).bounding_box() for i in range(2)]
    assert abs(boxes[0]["y"] - boxes[1]["y"]) < 5 and boxes[0]["x"] < boxes[1]["x"]  # side by side
    assert "2019-07-24" in texts[0] + texts[1]  # each account names its source and date
    OUT.mkdir(parents=True, exist_ok=True)
    message.screenshot(path=str(OUT / "conflict.png"))


def test_refusal_looks_different_from_an_answer(page):
    ask(page, ROCKETS)
    message = page.locator("#chat .msg.bot").last
    assert "refusal" in message.get_attribute("class")
    assert message.locator(".badge-refusal").is_visible()
    assert "Not in the articles" in message.text_content()
    answered_colour = "rgb(46, 125, 50)"
    assert message.evaluate("e => getComputedStyle(e).borderLeftColor") != answered_colour


def test_empty_question_shows_a_friendly_message(page):
    page.locator("#send").click()
    notice = page.locator("#notice .notice")
    notice.wait_for()
    assert "The question is empty" in notice.inner_text()
    assert "Traceback" not in page.content()
    assert page.locator("#chat .msg").count() == 0


def test_uploaded_file_is_indexed_cited_private_to_its_visitor_and_removed(page, browser, app, tmp_path: Path):
    source = tmp_path / "Port news (draft).md"
    source.write_text(HARBOR_DOC, encoding="utf-8")
    before = sorted(p.name for p in app[1].corpus_dir.iterdir())
    message = upload(page, source)
    assert message.startswith("Indexed 1 file(s)")
    saved = message.split(": ", 1)[1].rstrip(".")
    assert saved == "uploads/Port_news_draft.md"
    (stored,) = app[2].glob("*/files/Port_news_draft.md")  # in this visitor's own folder
    assert sorted(p.name for p in app[1].corpus_dir.iterdir()) == before  # the corpus folder is untouched
    page.locator("#corpus").get_by_text(saved).wait_for()
    assert "6 articles indexed" in page.locator("#corpus").inner_text()

    question = "What is the name of the new container terminal at the Port of Marisol?"
    ask(page, question)
    assert "Aurora Quay" in page.locator("#chat .msg.bot").last.inner_text()
    cited_files = page.locator("#sources details.source .src-file").all_inner_texts()
    assert saved in cited_files

    # Another visitor (another browser profile) neither sees the file nor gets answers from it.
    other = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    other.set_default_timeout(TIMEOUT_MS)
    other.goto(app[0])
    other.wait_for_selector("#chat .chat-log")
    other.wait_for_function("() => document.querySelector('#corpus')?.innerText.includes('5 articles indexed')")
    ask(other, question)
    assert "Aurora Quay" not in other.locator("#chat .msg.bot").last.inner_text()
    assert saved not in other.locator("#sources").inner_text() + other.locator("#corpus").inner_text()
    other.context.close()

    # The visitor who added it keeps it across a reload (their id lives in their browser).
    page.reload()
    page.wait_for_function("() => document.querySelector('#corpus')?.innerText.includes('6 articles indexed')")

    # Removed from the page, it is gone from the folder, the index and every later answer.
    page.locator("#uploaded input").click()
    page.get_by_role("option", name=saved).click()
    page.locator("#remove-upload").click()
    page.wait_for_function("() => document.querySelector('#notice')?.innerText.includes('Removed')")
    assert not stored.exists()
    page.wait_for_function("() => document.querySelector('#corpus')?.innerText.includes('5 articles indexed')")
    ask(page, question)
    assert "Aurora Quay" not in page.locator("#chat .msg.bot").last.inner_text()
    assert saved not in page.locator("#sources").inner_text()


def test_hostile_document_shows_as_text_and_runs_nothing(page, tmp_path: Path):
    source = tmp_path / "zephyr.txt"
    source.write_text(HOSTILE_DOC, encoding="utf-8")
    assert upload(page, source).startswith("Indexed 1 file(s)")

    ask(page, "How many new bridges did the Zephyr Council approve?")
    page.locator(".cite-link").last.hover()
    page.wait_for_timeout(300)
    # Nothing of the markup ran or was built into the page...
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert page.dialogs == []
    assert page.locator("#chat script, #sources script, #chat img, #sources img, #corpus img").count() == 0
    assert not [url for url in page.requested if url.rstrip("/").endswith("/x")]
    # ... it shows literally, in the answer, the Sources panel and the corpus panel.
    chat_text = page.locator("#chat .msg.bot").last.inner_text()
    assert "17 new bridges" in chat_text
    assert HOSTILE_SCRIPT in chat_text and HOSTILE_IMG in chat_text
    sources_text = page.locator("#sources").inner_text()
    assert "zephyr.txt" in sources_text
    assert HOSTILE_SCRIPT in sources_text and HOSTILE_IMG in sources_text and HOSTILE_TITLE in sources_text
    assert HOSTILE_TITLE in page.locator("#corpus").inner_text()
    OUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUT / "xss.png"), full_page=True)


HOSTILE_ABSENT = ("Minister misses summit\n\nForeign minister Maria Lund <script>window.__xss=4</script> was unable "
                  "to attend the Oslo climate summit because her flight from Bergen was cancelled. The summit opened "
                  "on Monday with delegates from forty countries.\n")
HOSTILE_ATTENDED = ("Oslo summit opens\n\nForeign minister Maria Lund <img src=x onerror=\"window.__xss=5\"> attended "
                    "the Oslo climate summit and gave the opening speech to the delegates. The summit opened on "
                    "Monday with delegates from forty countries.\n")


@pytest.fixture(scope="module")
def hostile_app(embedder, tmp_path_factory: pytest.TempPathFactory):
    import rag

    root = tmp_path_factory.mktemp("ui_conflict")
    corpus = root / "corpus"
    corpus.mkdir()
    (corpus / "absent.txt").write_text(HOSTILE_ABSENT, encoding="utf-8")
    (corpus / "attended.txt").write_text(HOSTILE_ATTENDED, encoding="utf-8")
    bot = rag.Chatbot.from_corpus(corpus, index_dir=root / "index", embedder=embedder)
    demo, url = launch(bot)
    yield url
    demo.close()


def test_hostile_markup_in_disagreeing_reports_shows_as_text_side_by_side(browser, hostile_app):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(TIMEOUT_MS)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(hostile_app)
    page.wait_for_selector("#chat .chat-log")
    ask(page, "Did Maria Lund attend the Oslo climate summit?")
    accounts = page.locator("#chat .msg.bot").last.locator(".conflict .account")
    assert accounts.count() == 2
    text = " ".join(accounts.all_inner_texts())
    assert "<script>window.__xss=4</script>" in text and '<img src=x onerror="window.__xss=5">' in text
    assert page.evaluate("typeof window.__xss") == "undefined" and dialogs == []
    assert page.locator("#chat script, #chat img").count() == 0
    page.close()


def test_short_answers_are_bold_and_doubt_and_refusal_are_marked_apart(page):
    ask(page, PAYMENT)
    answered = page.locator("#chat .msg.bot").nth(0)
    assert "$651,000" in answered.locator("b.short-answer").inner_text()
    ask(page, "Who leads Hamas in the Gaza Strip?")
    unsure = page.locator("#chat .msg.bot").nth(1)
    # The articles never say who leads Hamas in Gaza in so many words: the closest is shown as such.
    assert "uncertain" in unsure.get_attribute("class") and unsure.locator(".badge-uncertain").is_visible()
    assert "may not answer this" in unsure.inner_text()
    ask(page, ROCKETS)
    refused = page.locator("#chat .msg.bot").nth(2)
    assert "refusal" in refused.get_attribute("class") and refused.locator("b.short-answer").count() == 0
    colours = {m.evaluate("e => getComputedStyle(e).borderLeftColor") for m in (answered, unsure, refused)}
    assert len(colours) == 3
    OUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUT / "short_uncertain_refusal.png"), full_page=True)


def test_on_a_phone_titles_clear_the_arrow_file_names_clear_the_close_button_and_an_added_file_shows(
        browser, app, tmp_path: Path):
    page = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                               device_scale_factor=2).new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(app[0])
    page.wait_for_selector("#chat .chat-log")
    long_question = ("What did the Hamas delegation led by Saleh al-Arouri discuss with Ayatollah Khamenei "
                     "in Tehran in July?")
    ask(page, long_question)
    # The Conversations title ends before the dropdown's arrow begins.
    page.wait_for_function("() => document.querySelector('#conversations input').value.length > 20")
    text_end = page.evaluate("""() => { const i = document.querySelector('#conversations input');
        const r = i.getBoundingClientRect(); return r.right - parseFloat(getComputedStyle(i).paddingRight); }""")
    arrow = page.locator("#conversations .icon-wrap").bounding_box()
    assert text_end <= arrow["x"] + 1, (text_end, arrow)
    # The citation card's × covers no part of a long file name.
    page.locator("#chat .msg.bot a.cite-link").first.tap()
    card = page.locator("#chat .cite-card:not([hidden])").first
    card.wait_for(state="visible")
    overlap = card.evaluate("""card => { const x = card.querySelector('.card-close').getBoundingClientRect();
        const hit = r => r.left < x.right && x.left < r.right && r.top < x.bottom && x.top < r.bottom;
        return [...card.querySelectorAll('.src-file, .src-title, b')]
            .some(e => [...e.getClientRects()].some(hit)); }""")
    assert overlap is False
    # A file just added is in view in the Corpus panel's scroll box, not below its fold.
    source = tmp_path / "A very long and descriptive name for the harbour article.md"
    source.write_text(HARBOR_DOC, encoding="utf-8")
    page.set_input_files("#upload input[type=file]", str(source))
    row = page.locator("#corpus tr.uploaded").first
    row.wait_for()
    inside = row.evaluate("""r => { const box = r.closest('#corpus').getBoundingClientRect();
        let scroller = r.parentElement; while (scroller && scroller.scrollHeight <= scroller.clientHeight + 1)
            { scroller = scroller.parentElement; }
        const s = (scroller || document.documentElement).getBoundingClientRect(); const b = r.getBoundingClientRect();
        return b.top >= Math.max(s.top, box.top) - 1 && b.bottom <= Math.min(s.bottom, box.bottom) + 1; }""")
    assert inside is True
    OUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUT / "phone-layout.png"), full_page=True)
    page.context.close()
