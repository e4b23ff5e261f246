"""The page's stylesheet and the script behind citation markers (inline, nothing fetched)."""

from __future__ import annotations

CSS = """
.chat-log { display: flex; flex-direction: column; gap: 10px; padding: 4px; }
.chat-log .placeholder, .sources .placeholder { color: var(--body-text-color-subdued); margin: 8px 0; }
.msg { max-width: 92%; padding: 10px 14px; border-radius: 12px; line-height: 1.55;
       border: 1px solid var(--border-color-primary); }
.msg-text { white-space: pre-wrap; overflow-wrap: anywhere; }
.msg.user { align-self: flex-end; background: var(--color-accent-soft); }
.msg.bot { align-self: flex-start; background: var(--background-fill-secondary); }
.msg.bot.answer { border-left: 4px solid #2e7d32; }
.conflict-lead { font-weight: 600; margin-bottom: 0.4em; }
.conflict .accounts { display: flex; flex-wrap: wrap; gap: 0.6em; }
.conflict .account { flex: 1 1 14em; border: 1px solid rgba(128, 128, 128, 0.4); border-radius: 6px; padding: 0.5em; }
.conflict .account-meta { font-size: 0.85em; opacity: 0.8; margin-bottom: 0.3em; }
.conflict .account-order { font-weight: 600; font-size: 0.95em; margin-bottom: 0.15em; }
.msg.bot.refusal { border-left: 4px solid #e65100; background: rgba(230, 81, 0, 0.08); font-style: italic; }
.badge-refusal { display: inline-block; font-size: 0.75em; font-style: normal; font-weight: 600;
                 color: #e65100; margin-bottom: 4px; text-transform: uppercase; letter-spacing: 0.03em; }
.msg.bot.uncertain { border-left: 4px solid #f9a825; background: rgba(249, 168, 37, 0.08); }
.badge-uncertain { display: inline-block; font-size: 0.75em; font-weight: 600; color: #a66f00;
                   margin-bottom: 4px; text-transform: uppercase; letter-spacing: 0.03em; }
.period-note { font-size: 0.8em; color: var(--body-text-color-subdued); margin-top: 4px; }
.badge-written { display: inline-block; font-size: 0.75em; font-weight: 600; color: #3f51b5;
                 margin: 0 8px 4px 0; letter-spacing: 0.02em; }
b.short-answer { font-weight: 700; background: var(--color-accent-soft); border-radius: 3px; padding: 0 2px; }
.cursor { animation: blink 1s step-end infinite; }
@keyframes blink { 50% { opacity: 0; } }
sup.cite { font-size: 0.72em; line-height: 0; }
sup.cite a.cite-link { text-decoration: none; font-weight: 600; color: var(--color-accent); cursor: pointer;
                       padding: 0 1px; border-radius: 3px; }
sup.cite a.cite-link:hover, sup.cite a.cite-link[aria-expanded="true"] { background: var(--color-accent-soft); }
@media (pointer: coarse) {  /* a fingertip needs a bigger target than a superscript */
  sup.cite a.cite-link { display: inline-block; min-width: 30px; min-height: 30px; line-height: 30px;
                         text-align: center; font-size: 1.2em; }
}
.cite-card { display: block; position: relative; margin: 6px 0; padding: 8px 40px 8px 10px; font-size: 0.9em;
             font-style: normal; white-space: normal; border: 1px solid var(--color-accent); border-radius: 8px;
             background: var(--background-fill-primary); box-shadow: 0 2px 8px rgba(0, 0, 0, 0.15); }
.cite-card[hidden] { display: none; }
.cite-card .src-file, .cite-card .src-title { overflow-wrap: anywhere; }  /* long names wrap, clear of the × */
.cite-card q { display: block; margin: 4px 0 6px; }
.cite-card .card-close { position: absolute; top: 2px; right: 6px; border: 0; background: none; font-size: 1.2em;
                         cursor: pointer; color: var(--body-text-color-subdued); min-width: 28px; min-height: 28px; }
.cite-card .open-src, .msg-tools button { font-size: 0.85em; padding: 4px 10px; border-radius: 6px; cursor: pointer;
                         border: 1px solid var(--border-color-primary); background: var(--background-fill-secondary);
                         color: var(--body-text-color); min-height: 30px; }
.msg-tools { margin-top: 6px; display: flex; gap: 6px; align-items: center; }
.badge-stopped { font-size: 0.75em; font-weight: 600; color: var(--body-text-color-subdued);
                 text-transform: uppercase; letter-spacing: 0.03em; }
.relevance { font-size: 0.8em; color: var(--body-text-color-subdued); margin: 4px 0 0; }
.rel-bar { display: inline-block; width: 48px; height: 6px; margin-left: 6px; border-radius: 3px;
           background: var(--border-color-primary); vertical-align: middle; overflow: hidden; }
.rel-bar > span { display: block; height: 100%; background: var(--color-accent); }
a.back-to-answer { display: inline-block; margin-top: 4px; font-size: 0.85em; }
@keyframes flash { 0% { background: #fff176; } 100% { background: var(--color-accent-soft); } }
.sources details.source { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 6px 10px;
                          margin-bottom: 8px; transition: box-shadow 0.3s, border-color 0.3s; }
.sources details.source.active, .sources details.source:target { border-color: var(--color-accent);
                          box-shadow: 0 0 0 3px var(--color-accent-soft); background: var(--color-accent-soft);
                          animation: flash 1.2s ease-out; }
.sources summary { cursor: pointer; }
.sources .marker { font-weight: 700; color: var(--color-accent); }
.src-title { font-weight: 600; }
.src-date, .src-file { color: var(--body-text-color-subdued); font-size: 0.9em; }
.src-file { font-family: var(--font-mono); }
blockquote.passage { margin: 6px 0 2px; padding-left: 10px; border-left: 2px solid var(--border-color-primary);
                     white-space: pre-wrap; font-size: 0.92em; overflow-wrap: anywhere; }
blockquote.passage mark { background: #fff176; color: #111; padding: 0 1px; }
details.uncited { margin-top: 10px; opacity: 0.85; }
details.uncited .passage-item { margin: 8px 0; }
.notice { padding: 6px 10px; border-radius: 6px; margin: 4px 0; overflow-wrap: anywhere; }
.notice-error { background: rgba(198, 40, 40, 0.1); color: #c62828; }
.notice-warning { background: rgba(230, 81, 0, 0.1); color: #e65100; }
.notice-info { background: rgba(46, 125, 50, 0.1); color: #2e7d32; }
.corpus table { width: 100%; border-collapse: collapse; font-size: 0.9em; }
.corpus th, .corpus td { text-align: left; padding: 4px 6px; border-bottom: 1px solid var(--border-color-primary);
                         vertical-align: top; }
.corpus .date-note { color: var(--body-text-color-subdued); font-size: 0.85em; }
.corpus td.doc-file { font-family: var(--font-mono); font-size: 0.85em; overflow-wrap: anywhere; }
#examples button { font-size: 0.85em; }
.timeline ol.tl { list-style: none; padding-left: 0; margin: 4px 0 10px; border-left: 2px solid var(--color-accent); }
.timeline li.tl-entry { margin: 0 0 10px 10px; }
.timeline .tl-date { font-weight: 700; font-variant-numeric: tabular-nums; margin-right: 6px; }
.timeline .tl-date.undated { color: var(--body-text-color-subdued); font-weight: 400; }
.timeline q.tl-quote { display: block; margin: 2px 0; font-style: italic; }
.timeline summary { cursor: pointer; overflow-wrap: anywhere; }
/* A long conversation title ends in an ellipsis clear of the dropdown's arrow. */
#conversations input[role="combobox"] { padding-right: 30px !important; text-overflow: ellipsis; overflow: hidden;
                                        white-space: nowrap; }
.corpus tr.uploaded td.doc-title::after { content: " (added)"; color: var(--body-text-color-subdued);
                                          font-size: 0.85em; }
#notice { margin: 0; }
"""

# Runs once when the chat component mounts (``element`` is its root, which outlives
# re-renders, so one delegated listener serves every marker ever rendered). A click, tap or
# Enter on a marker opens its card in place; the card's "Open in Sources" highlights the
# entry in the Sources panel (present for the last answer), whose "Back to the answer"
# returns to the marker. Copy puts the answer and its numbered sources on the clipboard.
CITATION_JS = """
var lastMarker = null;
function closeCards(except) {
  element.querySelectorAll('.cite-card:not([hidden])').forEach(function (card) {
    if (card === except) { return; }
    card.hidden = true;
    var link = card.previousElementSibling && card.previousElementSibling.querySelector('a.cite-link');
    if (link) { link.setAttribute('aria-expanded', 'false'); }
  });
}
function copyText(text, button) {
  var done = function () {
    button.textContent = 'Copied';
    setTimeout(function () { button.textContent = 'Copy'; }, 1500);
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done, function () { fallbackCopy(text); done(); });
  } else { fallbackCopy(text); done(); }
}
function fallbackCopy(text) {
  var area = document.createElement('textarea');
  area.value = text; area.setAttribute('readonly', ''); area.style.position = 'fixed'; area.style.opacity = '0';
  document.body.appendChild(area); area.select(); document.execCommand('copy'); area.remove();
}
element.addEventListener('click', function (event) {
  var copy = event.target.closest('button.copy-btn');
  if (copy) { copyText(copy.getAttribute('data-copy'), copy); return; }
  var close = event.target.closest('button.card-close');
  if (close) { closeCards(null); if (lastMarker) { lastMarker.focus(); } return; }
  var open = event.target.closest('button.open-src');
  if (open) {
    var entry = document.getElementById(open.getAttribute('data-target'));
    if (!entry) { return; }
    document.querySelectorAll('details.source.active').forEach(function (e) { e.classList.remove('active'); });
    entry.open = true;
    void entry.offsetWidth;  // restart the highlight animation when the same entry is opened again
    entry.classList.add('active');
    entry.scrollIntoView({block: 'start', behavior: 'smooth'});
    var back = entry.querySelector('a.back-to-answer');
    if (back) { back.focus({preventScroll: true}); }
    return;
  }
  var link = event.target.closest('a.cite-link');
  if (!link) { return; }
  event.preventDefault();
  lastMarker = link;
  window.__ragLastMarker = link;
  var card = link.parentElement.nextElementSibling;
  if (!card || !card.classList.contains('cite-card')) { return; }
  closeCards(card);
  card.hidden = !card.hidden;
  link.setAttribute('aria-expanded', String(!card.hidden));
  var button = card.querySelector('button.open-src');
  if (button) { button.hidden = !document.getElementById(button.getAttribute('data-target')); }
});
document.addEventListener('keydown', function (event) {
  if (event.key === 'Escape') { closeCards(null); }
});
"""

# The Sources panel's own listener: "Back to the answer" scrolls to the marker last used
# (or to the answer) instead of jumping by the URL fragment.
SOURCES_JS = """
element.addEventListener('click', function (event) {
  var back = event.target.closest('a.back-to-answer');
  if (!back) { return; }
  event.preventDefault();
  var marker = window.__ragLastMarker;
  var target = (marker && document.body.contains(marker)) ? marker
    : document.getElementById('answer-' + back.getAttribute('data-turn'));
  if (target) { target.scrollIntoView({block: 'center', behavior: 'smooth'}); target.focus({preventScroll: true}); }
});
"""
