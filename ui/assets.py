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
.msg.bot.refusal { border-left: 4px solid #e65100; background: rgba(230, 81, 0, 0.08); font-style: italic; }
.badge-refusal { display: inline-block; font-size: 0.75em; font-style: normal; font-weight: 600;
                 color: #e65100; margin-bottom: 4px; text-transform: uppercase; letter-spacing: 0.03em; }
.cursor { animation: blink 1s step-end infinite; }
@keyframes blink { 50% { opacity: 0; } }
sup.cite { font-size: 0.72em; line-height: 0; }
sup.cite a.cite-link { text-decoration: none; font-weight: 600; color: var(--color-accent); cursor: pointer;
                       padding: 0 1px; border-radius: 3px; }
sup.cite a.cite-link:hover { background: var(--color-accent-soft); }
.cite-card { display: block; margin: 6px 0; padding: 6px 10px; font-size: 0.88em; font-style: normal;
             border-left: 3px solid var(--color-accent); background: var(--background-fill-primary); }
.cite-card[hidden] { display: none; }
.cite-card q { display: block; margin-top: 4px; }
.sources details.source { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 6px 10px;
                          margin-bottom: 8px; transition: box-shadow 0.3s, border-color 0.3s; }
.sources details.source.active, .sources details.source:target { border-color: var(--color-accent);
                          box-shadow: 0 0 0 3px var(--color-accent-soft); }
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
.notice { padding: 6px 10px; border-radius: 6px; margin: 4px 0; }
.notice-error { background: rgba(198, 40, 40, 0.1); color: #c62828; }
.notice-warning { background: rgba(230, 81, 0, 0.1); color: #e65100; }
.notice-info { background: rgba(46, 125, 50, 0.1); color: #2e7d32; }
.corpus table { width: 100%; border-collapse: collapse; font-size: 0.9em; }
.corpus th, .corpus td { text-align: left; padding: 4px 6px; border-bottom: 1px solid var(--border-color-primary);
                         vertical-align: top; }
.corpus td.doc-file { font-family: var(--font-mono); font-size: 0.85em; overflow-wrap: anywhere; }
#examples button { font-size: 0.85em; }
"""

# Runs once when the chat component mounts (``element`` is its root, which outlives
# re-renders, so one delegated listener serves every marker ever rendered). A marker of
# the last answer highlights and opens its Sources entry; an older answer's marker, whose
# entry the panel no longer shows, toggles the card rendered beside it.
CITATION_JS = """
element.addEventListener('click', function (event) {
  var link = event.target.closest('a.cite-link');
  if (!link) { return; }
  event.preventDefault();
  var entry = document.getElementById(link.getAttribute('data-target'));
  if (entry) {
    document.querySelectorAll('details.source.active').forEach(function (e) { e.classList.remove('active'); });
    entry.open = true;
    entry.classList.add('active');
    entry.scrollIntoView({block: 'nearest', behavior: 'smooth'});
    return;
  }
  var card = link.parentElement.nextElementSibling;
  if (card && card.classList.contains('cite-card')) { card.hidden = !card.hidden; }
});
"""
