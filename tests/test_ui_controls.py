"""The chat page's conversation controls in a real headless Chromium against a real server:
stop, retry, copy, edit and resend, conversations that survive a reload, switching between
them, and citation cards on a touch phone."""

from __future__ import annotations

import json
import threading
from dataclasses import replace

import pytest

from .test_ui_browser import TIMEOUT_MS, ask
from .tiny_lm import build_tiny_lm, train_tokenizer
from .ui_helpers import AROURI, OUT, PAYMENT, launch, make_bot

pytestmark = pytest.mark.integration
FIRST = "The visiting Palestinian terror group was led by Saleh al-Arouri."


@pytest.fixture(scope="module")
def app(embedder, tmp_path_factory: pytest.TempPathFactory):
    bot = make_bot(tmp_path_factory.mktemp("ui_controls"), embedder)
    demo, url = launch(bot)
    yield url, bot
    demo.close()


@pytest.fixture(scope="module")
def slow_app(app, tmp_path_factory: pytest.TempPathFactory):
    """A page whose answerer writes one checked sentence, then waits until the test lets it go
    on: a generated answer caught mid-way, without depending on how fast anything runs."""
    from rag.chatbot import Chatbot

    bot = app[1]
    model = build_tiny_lm(tmp_path_factory.mktemp("tiny-lm") / "chat", train_tokenizer())
    cfg = replace(bot.config, answerer="transformers", generator_model=str(model), generator_answer_sentences=2)
    slow = Chatbot(bot.store, bot.embedder, cfg, bot.corpus_dir, bot.build_report, bot.index_dir)
    release = threading.Event()

    def generate(prompt):
        yield FIRST + " Then"  # the first sentence is finished once the next one begins
        release.wait(timeout=120)
        yield " nothing more came."

    slow.answerer.generate = generate
    demo, url = launch(slow)
    yield url, release
    release.set()
    demo.close()


def open_page(browser, url: str, **context):
    """A page in a fresh context (its own browser storage), loaded and ready."""
    ctx = browser.new_context(**({"viewport": {"width": 1400, "height": 1000}} | context))
    page = ctx.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(url)
    page.wait_for_selector("#chat .chat-log")
    return page


def bots(page):
    return page.locator("#chat .msg.bot")


def test_stop_mid_answer_keeps_what_was_shown_and_gives_the_ask_button_back(browser, slow_app):
    url, release = slow_app
    page = open_page(browser, url)
    page.locator("#question textarea").fill(AROURI)
    page.locator("#question textarea").press("Enter")
    page.locator("#stop").wait_for(state="visible")
    assert not page.locator("#send").is_visible()  # Stop stands in for Ask while writing
    page.wait_for_function("t => document.querySelector('#chat .msg.bot')?.innerText.includes(t)", arg=FIRST)
    page.locator("#stop").click()
    page.locator("#send").wait_for(state="visible")
    message = bots(page).last
    message.locator(".badge-stopped").wait_for()
    assert FIRST in message.inner_text() and "nothing more came" not in message.inner_text()
    assert message.get_attribute("data-complete") == "true" and not page.locator("#stop").is_visible()
    release.set()  # the writer may go on now: what it writes must not reach the stopped answer
    page.wait_for_timeout(500)
    assert "nothing more came" not in page.locator("#chat").inner_text()
    page.close()


def test_retry_asks_the_last_question_again_in_place(browser, app):
    page = open_page(browser, app[0])
    ask(page, AROURI)
    bots(page).last.evaluate("e => e.setAttribute('data-old', '1')")  # gone once the page re-renders
    page.locator("#retry").click()
    page.wait_for_selector('#chat .msg.bot[data-complete="true"]:not([data-old])')
    assert page.locator("#chat .msg.user").count() == 1 and bots(page).count() == 1
    assert "Arouri" in bots(page).last.inner_text()
    assert "Asked again" in page.locator("#notice").inner_text()  # it shows that it ran
    page.close()


def test_copy_puts_the_answer_and_its_numbered_sources_on_the_clipboard(browser, app):
    page = open_page(browser, app[0])
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=app[0].rstrip("/"))
    ask(page, PAYMENT)
    answer_text = bots(page).last.locator(".msg-text").inner_text()
    bots(page).last.locator("button.copy-btn").click()
    page.wait_for_function("() => document.querySelector('button.copy-btn').textContent === 'Copied'")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert "$651,000" in copied and "[1]" in copied and "\n\nSources:\n[1] " in copied
    assert copied.startswith(answer_text.split(" [1]")[0][:40])
    page.close()


def test_edit_puts_the_last_question_back_and_resending_replaces_its_turn(browser, app):
    page = open_page(browser, app[0])
    ask(page, "Who led the Hamas delegation?")
    page.locator("#edit").click()
    box = page.locator("#question textarea")
    page.wait_for_function("() => document.querySelector('#question textarea').value !== ''")
    assert box.input_value() == "Who led the Hamas delegation?"
    assert bots(page).count() == 1  # the exchange stays until the edited question is sent
    box.fill(PAYMENT)
    box.press("Enter")  # its answer takes the old one's place: the count of answers stays 1
    page.wait_for_function("() => document.querySelector('#chat').innerText.includes('$651,000')")
    bots(page).last.locator("xpath=self::*[@data-complete='true']").wait_for()
    assert page.locator("#chat .msg.user").count() == 1 and "$651,000" in bots(page).last.inner_text()
    page.close()


def test_the_conversation_survives_a_reload_and_conversations_can_be_switched(browser, app):
    page = open_page(browser, app[0])
    ask(page, AROURI)
    page.reload()
    page.wait_for_selector("#chat .msg.bot")
    assert "Arouri" in bots(page).last.inner_text()
    page.locator("#sources details.source").first.wait_for()  # its sources came back too
    page.locator("#new-chat").click()
    page.wait_for_function("() => document.querySelectorAll('#chat .msg').length === 0")
    ask(page, PAYMENT)
    page.reload()
    page.wait_for_selector("#chat .msg.bot")
    assert "$651,000" in bots(page).last.inner_text()  # the newest conversation is the current one
    page.locator("#conversations input").click()
    page.get_by_role("option", name=AROURI).click()
    page.wait_for_function("() => document.querySelector('#chat').innerText.includes('Arouri')")
    assert "$651,000" not in page.locator("#chat").inner_text()
    page.locator("#delete-chat").click()
    page.wait_for_function("() => document.querySelector('#chat').innerText.includes('$651,000')")
    page.reload()
    page.wait_for_selector("#chat .msg.bot")
    assert "Arouri" not in page.locator("#chat").inner_text()  # deleted for good
    page.close()


def test_a_tap_opens_the_citation_card_on_a_phone_and_sources_lead_back(browser, app):
    page = open_page(browser, app[0], viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                     device_scale_factor=2)
    ask(page, AROURI)
    marker = bots(page).last.locator("a.cite-link").first
    marker.tap()
    card = bots(page).last.locator(".cite-card").first
    card.wait_for(state="visible")
    assert "Arouri" in card.inner_text() and "Khamenei Hosts Hamas" in card.inner_text()
    OUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUT / "phone-card.png"))
    card.locator("button.open-src").tap()
    target = marker.get_attribute("data-target")
    page.wait_for_function("id => document.getElementById(id).classList.contains('active')", arg=target)
    entry = page.locator(f"#{target}")
    page.wait_for_function("id => { const r = document.getElementById(id).getBoundingClientRect();"
                           " return r.top >= 0 && r.top < window.innerHeight; }", arg=target)
    entry.locator("a.back-to-answer").tap()
    page.wait_for_function("() => { const m = document.querySelector('#chat a.cite-link[aria-expanded=true]');"
                           " const r = m.getBoundingClientRect();"
                           " return r.top >= 0 && r.bottom <= window.innerHeight; }")
    page.close()


def test_desktop_screenshot_with_a_card_open_and_timings(browser, app):
    page = open_page(browser, app[0])
    timings = ask(page, AROURI)
    bots(page).last.locator("a.cite-link").first.click()
    bots(page).last.locator(".cite-card").first.wait_for(state="visible")
    OUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUT / "desktop-card.png"))
    (OUT / "controls-timings.json").write_text(json.dumps(timings, indent=2) + "\n", encoding="utf-8")
    page.close()


def _user_questions(page) -> list[str]:
    return page.locator("#chat .msg.user").all_inner_texts()


def _settled(page) -> None:
    """The conversation buttons are enabled once the stored conversations are on screen."""
    page.wait_for_function("() => document.querySelector('#new-chat')?.disabled === false")


@pytest.mark.parametrize("viewport", [{"width": 1400, "height": 1000}, {"width": 390, "height": 844}],
                         ids=["desktop", "phone"])
def test_new_switch_delete_undo_and_reload_in_quick_succession_never_misfile_a_question(browser, app, capfd,
                                                                                          viewport):
    page = open_page(browser, app[0], viewport=viewport)
    ask(page, AROURI)
    for _ in range(3):  # New at once after each reload: the next question starts a conversation of its own
        page.reload()
        _settled(page)
        page.locator("#new-chat").click()
        page.wait_for_function("() => document.querySelectorAll('#chat .msg').length === 0")
    ask(page, PAYMENT)
    assert _user_questions(page) == [PAYMENT]
    page.reload()
    _settled(page)
    assert _user_questions(page) == [PAYMENT]  # what was on screen is what was stored
    # Quick clicks with no waiting between them, then the screen and the store must agree.
    page.locator("#new-chat").click()
    page.locator("#conversations input").click()
    page.get_by_role("option", name=AROURI).click()
    page.locator("#new-chat").click()
    page.locator("#conversations input").click()
    page.get_by_role("option", name=PAYMENT[:40]).click()  # titles are clipped
    page.wait_for_function("t => document.querySelector('#chat').innerText.includes(t)", arg="$651,000")
    page.reload()
    _settled(page)
    assert _user_questions(page) == [PAYMENT]
    # Delete asks nothing but can be undone; the undone conversation is stored again.
    page.locator("#delete-chat").click()
    page.locator("#undo-delete").wait_for(state="visible")
    assert "Undo brings it back" in page.locator("#notice").inner_text()
    assert _user_questions(page) == [AROURI]
    page.locator("#undo-delete").click()
    page.wait_for_function("t => document.querySelector('#chat').innerText.includes(t)", arg="$651,000")
    page.reload()
    _settled(page)
    assert _user_questions(page) == [PAYMENT]
    page.locator("#conversations input").click()
    assert page.get_by_role("option").count() == 2
    page.close()
    logged = capfd.readouterr()
    assert "not in the list of choices" not in logged.err + logged.out
    assert "Traceback" not in logged.err + logged.out
