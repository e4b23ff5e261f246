"""Claims with a known answer for the support checker: gold quotes, paraphrases and perturbations.

Every (source, quote) evidence pair of the gold question sets gives a premise (the quote's
sentence(s) and one sentence either side, from the cleaned document) and a set of claims:
positives that the premise supports ("quote", "paraphrase") and negatives that it does not,
one per error type. All choices are deterministic: where a pick is needed it is keyed by a
CRC of the quote, so the same corpus and gold files always give the same items.
"""

from __future__ import annotations

import difflib
import json
import logging
import re
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from index.ingest.loader import load_corpus
from index.records import Document
from rag import text as T
from rag.paths import DEFAULT_CORPUS

log = logging.getLogger(__name__)

GOLD_FILES = (Path(__file__).parent / "data" / "dev.jsonl", Path(__file__).parent / "data" / "test.jsonl")
POSITIVE_TYPES = ("quote", "paraphrase")
NEGATIVE_TYPES = ("entity_swap", "number_change", "negation", "appended_clause", "wrong_citation", "citation_removed")


@dataclass(frozen=True)
class EvidencePair:
    """A gold quote and the passage around it."""

    source: str  # file name in corpus/
    quote: str
    premise: str  # the quote's sentence(s) plus one sentence either side


@dataclass(frozen=True)
class MetaItem:
    """One claim to judge against one premise, with the verdict it should get."""

    type: str  # a POSITIVE_TYPES or NEGATIVE_TYPES name
    claim: str
    premise: str
    source: str

    @property
    def positive(self) -> bool:
        return self.type in POSITIVE_TYPES


def _key(text: str) -> int:
    """A stable per-quote number for deterministic picks (hash() changes run to run)."""
    return zlib.crc32(text.encode("utf-8"))


# --- gold pairs -------------------------------------------------------------------------------


def _collapsed(text: str) -> tuple[str, list[int]]:
    """``text`` with whitespace runs collapsed to one space, and each char's original offset."""
    out, where = [], []
    for i, ch in enumerate(text):
        if ch.isspace():
            if out and out[-1] == " ":
                continue
            ch = " "
        out.append(ch)
        where.append(i)
    return "".join(out), where


def _locate(doc: Document, quote: str) -> tuple[int, int] | None:
    """Character span of ``quote`` in the document, verbatim or after collapsing whitespace."""
    if (start := doc.text.find(quote)) >= 0:
        return start, start + len(quote)
    flat, where = _collapsed(doc.text)
    needle = " ".join(quote.split())
    if (start := flat.find(needle)) < 0:
        return None
    return where[start], where[start + len(needle) - 1] + 1


def passage_around(doc: Document, start: int, end: int) -> str:
    """The sentences overlapping [start, end) plus one sentence either side."""
    hit = [i for i, (s, e) in enumerate(doc.sentences) if s < end and e > start]
    first, last = max(hit[0] - 1, 0), min(hit[-1] + 1, len(doc.sentences) - 1)
    return doc.text[doc.sentences[first][0] : doc.sentences[last][1]]


def load_pairs(
    corpus_dir: Path = DEFAULT_CORPUS, gold_files: Sequence[Path] = GOLD_FILES, skipped: list[str] | None = None
) -> list[EvidencePair]:
    """Every distinct (source, quote) of the gold files with its premise, in file order.

    A quote not found in its cleaned document is left out and noted in ``skipped``.
    """
    docs = {d.doc_id: d for d in load_corpus(Path(corpus_dir))}
    seen: set[tuple[str, str]] = set()
    pairs = []
    for path in gold_files:
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            for ev in json.loads(line).get("evidence", []):
                key = (ev["source"], ev["quote"])
                if key in seen:
                    continue
                seen.add(key)
                doc = docs.get(ev["source"])
                span = _locate(doc, ev["quote"]) if doc else None
                if doc is None or span is None:
                    note = f"{ev['source']}: quote not found: {ev['quote'][:60]!r}"
                    log.warning("skipped %s", note)
                    if skipped is not None:
                        skipped.append(note)
                    continue
                pairs.append(EvidencePair(ev["source"], ev["quote"], passage_around(doc, *span)))
    return pairs


# --- positives --------------------------------------------------------------------------------

_ADVERBS = re.compile(r"\s+\b(?:also|reportedly|recently|directly)\b(?=\s)")
# Meaning-preserving swaps, applied in one pass so that a swap is never swapped back.
_SYNONYMS = {
    "said": "stated", "says": "states", "wants": "seeks",
    "met with": "held talks with", "expressed": "voiced", "helped": "assisted", "headed by": "led by",
    "strengthen": "bolster", "backs": "supports", "donated": "gave", "country": "nation", "wrote": "noted",
    "vowed": "pledged", "boasted": "bragged",
}
_SYNONYM_RE = re.compile(r"\b(" + "|".join(sorted(map(re.escape, _SYNONYMS), key=len, reverse=True)) + r")\b")
# "Khamenei's website" -> "the website of Khamenei", when the owned noun ends its phrase and
# the owner is not itself inside an "of" phrase ("the World of Islam's movement").
_POSSESSION = re.compile(
    r"(?<!of )\b([A-Z][a-z]+)(?:['\u2019]s|['\u2019])\s+([a-z]+)\b(?=\s+(?:to|in|for|with|and|on|at)\b|[.,;]|$)"
)


def paraphrase(sentence: str) -> str | None:
    """A light rule-based paraphrase (adverbs dropped, synonyms, possessive turned), or None."""
    out = _ADVERBS.sub("", sentence)
    out = _SYNONYM_RE.sub(lambda m: _SYNONYMS[m.group(1)], out)
    out = _POSSESSION.sub(lambda m: f"the {m.group(2)} of {m.group(1)}", out)
    return out if out != sentence else None


# --- negatives --------------------------------------------------------------------------------

# Words in a name run that are titles, not the name ("Supreme Leader Ali Khamenei").
_TITLES = frozenset(
    """supreme leader president deputy chief secretary general sheikh head bureau political foreign
    relations heights arabia islam fronts ayatollah ayatolla""".split()
)
# Affiliations that lead a person's name ("Hamas Deputy Chief Arouri", "Syrian President ...").
_AFFILIATIONS = frozenset("islamist hamas lebanese lebanon us syrian".split())
# Titles that only a person carries: the single word after one is a surname ("Chief Arouri").
_PERSON_TITLES = frozenset("leader chief general sheikh ayatollah ayatolla president".split())
# Demonyms and adjectives ("Iranian", "Zionist", "Islamic") are not places or bodies.
_ADJECTIVE = re.compile(r"(?:ian|ians|ese|ish|ern|ist|ists|ite|ites|eli|elis|udis|ican|icans|ic)$")
_DATE_WORDS = re.compile(rf"^(?:{T.MONTHS}|Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)$")
_OWNER = re.compile(r"(?:['\u2019]s|['\u2019])$")


@dataclass(frozen=True)
class EntityPool:
    """Names found in the corpus, by kind: people (full names and surnames), places and bodies."""

    people: tuple[str, ...]  # "Ismail Haniyeh"
    surnames: tuple[str, ...]  # "Haniyeh"
    others: tuple[str, ...]  # "Tehran", "Islamic Jihad"

    @classmethod
    def from_documents(cls, docs: Iterable[Document]) -> EntityPool:
        people: set[str] = set()
        surnames: set[str] = set()
        others: set[str] = set()
        docs = list(docs)
        # A capitalised word the corpus also writes in lower case is a common word ("Deal").
        common = {w for d in docs for w in T.raw_words(d.text) if w[0].islower()}
        for doc in docs:
            for i in range(len(doc.sentences)):
                for raw in T.entities(doc.sentence(i)):
                    ent = _OWNER.sub("", raw)
                    # Dates, headings and compounds ("Iran-backed") are not names to swap.
                    if _DATE_WORDS.match(ent) or ent.isupper() or re.search(r"-[a-z]", ent):
                        continue
                    parts = ent.split()
                    if not (T.is_person(ent) and len(parts) > 1):
                        if len(parts) > 1 or not (
                            _ADJECTIVE.search(ent) or ent.lower() in _TITLES | common or T.NUMBER_RE.fullmatch(ent)
                        ):
                            others.add(ent)
                        continue
                    if re.search(r"['\u2019]", ent):
                        continue  # "Lebanon's Al-Akhbar": an owner and a thing, not a name
                    titled = [k for k, w in enumerate(parts) if w.lower() in _TITLES | _AFFILIATIONS]
                    name = parts[titled[-1] + 1 :] if titled else parts
                    if len(name) >= 2 and name[0] != "Al" and len(name) <= 3:
                        people.add(" ".join(name))
                        surnames.add(name[-1])
                    elif len(name) == 1 and parts[titled[-1]].lower() in _PERSON_TITLES:
                        surnames.add(name[0])
        # A run that holds a person's name or a possessive is a phrase, not a place or body.
        name_words = {w.lower() for p in people for w in p.split()} | {w.lower() for w in surnames}
        others = {o for o in others if not set(o.lower().split()) & name_words and not re.search(r"['\u2019]", o)}
        return cls(tuple(sorted(people)), tuple(sorted(surnames)), tuple(sorted(others)))


def _distinct(name: str) -> set[str]:
    return {w for w in T.words(name) if w not in T.STOPWORDS and w not in {"al", "el", "ad", "bin", "ibn"}}


def _similar(a: str, b: str) -> bool:
    """Spelling variants (Kharazi/Kharrazi) and demonyms (Iran/Iranians) of one name are not a swap."""
    a, b = a.lower(), b.lower()
    shorter = min(len(a), len(b))
    return (shorter >= 4 and (a.startswith(b) or b.startswith(a))) or difflib.SequenceMatcher(None, a, b).ratio() > 0.75


def swap_entity(sentence: str, premise: str, pool: EntityPool) -> str | None:
    """Replace the first name of the sentence by another of its kind that the premise lacks."""
    in_premise = _distinct(premise)
    spots: list[tuple[int, str, tuple[str, ...]]] = []
    for kind in (pool.people, pool.surnames, pool.others):
        for name in kind:
            if m := re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", sentence):
                spots.append((m.start(), name, kind))
        if spots:  # people before surnames before places: a person is the answer most asked for
            break
    for _, name, kind in sorted(spots, key=lambda s: (s[0], -len(s[1]))):
        old = _distinct(name)
        options = [
            c for c in kind
            if len(c.split()) == len(name.split())
            and not any(_similar(w, x) for w in _distinct(c) for x in old | in_premise)
        ]
        if options:
            new = options[_key(sentence) % len(options)]
            return re.sub(rf"(?<![\w-]){re.escape(name)}(?![\w-])", new, sentence, count=1)
    return None


_MONTH_NAMES = "January February March April May June July August September October November December".split()
_DAY_NAMES = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
_NUMBER_WORDS = "two three four five six seven eight nine ten eleven twelve twenty thirty forty fifty".split()
# Months and days only capitalised ("may" is a verb); number words in either case.
_FIGURE = re.compile(
    r"\b(?:\d+(?:,\d{3})*|" + "|".join(_MONTH_NAMES + _DAY_NAMES) + r"|(?:Jan|Feb|Mar|Apr|Aug|Sept?|Oct|Nov|Dec)\.|"
    + "(?i:" + "|".join(_NUMBER_WORDS) + r"))(?![\w-])"
)


def _shift(token: str, step: int) -> str:
    """Another figure of the same kind: a digit bumped, a later month, weekday or number word."""
    if token[0].isdigit():
        nonzero = [i for i, c in enumerate(token) if c in "123456789"]
        i = nonzero[-1] if nonzero else len(token) - 1
        new = (int(token[i]) + step) % 10
        new = 1 if i == 0 and new == 0 else new  # never a leading zero
        return token[:i] + str(new) + token[i + 1 :]
    bare = token.rstrip(".").lower()
    for names in (_MONTH_NAMES, _DAY_NAMES, _NUMBER_WORDS):
        for k, name in enumerate(names):
            if name.lower() == bare or (token.endswith(".") and name.lower().startswith(bare)):
                out = names[(k + step) % len(names)]
                out = out[:3] + "." if token.endswith(".") else out
                return out if token[0].isupper() else out.lower()
    return token


def change_number(sentence: str, premise: str) -> str | None:
    """Alter the first number, date or amount to a value the premise does not contain."""
    present = set(T.words(premise))
    for m in _FIGURE.finditer(sentence):
        for step in range(1, 6):
            new = _shift(m.group(), step)
            if new != m.group() and not set(T.words(new)) & present:
                return sentence[: m.start()] + new + sentence[m.end() :]
    return None


_AUX = re.compile(r"\b(is|are|was|were|has|have|had|will|would|could|should|must)\b(?!\s+not\b)")
# A past-tense verb: "-ed" words not after an article, and the irregular ones news copy uses.
_PAST = re.compile(
    r"(?<![-\w])(?<!the )(?<!a )(?<!an )([a-z]{3,}ed|met|paid|led|gave|told|said|shot|fought|sent|wrote|held)\b"
)
_REMOVALS = (
    (re.compile(r"\b(?:not|never)\s+"), ""),
    (re.compile(r"\bcan['\u2019]t\b"), "can"),
    (re.compile(r"\bwon['\u2019]t\b"), "will"),
    (re.compile(r"n['\u2019]t\b"), ""),
    (re.compile(r"\bcannot\b"), "can"),
    (re.compile(r"\bunable\b"), "able"),
    (re.compile(r"\brefused\b"), "agreed"),
    (re.compile(r"\bno one\b"), "everyone"),
    (re.compile(r"\bno\b"), "some"),
    (re.compile(r"\bwithout\b"), "with"),
)


def toggle_negation(sentence: str) -> str | None:
    """Remove the sentence's first negation, or add one after an auxiliary or before a past verb."""
    for pattern, repl in _REMOVALS:
        if pattern.search(sentence):
            return pattern.sub(repl, sentence, count=1)
    if m := _AUX.search(sentence):
        return sentence[: m.end()] + " not" + sentence[m.end() :]
    if m := _PAST.search(sentence):
        return sentence[: m.start()] + "never " + sentence[m.start() :]
    return None


# Clauses no article says; content words are checked against the corpus before use.
CLAUSE_TEMPLATES = (
    ", after negotiations in Qatar collapsed",
    ", citing a leaked Pentagon memo",
    ", while Norwegian diplomats watched closely",
    ", despite objections from Turkish lawmakers",
    ", following clandestine consultations in Oman",
    ", according to a Kuwaiti television correspondent",
    ", shortly before Canadian inspectors arrived",
    ", amid protests by Moroccan farmers",
)
_END = re.compile(r"[.!?,;:]?[\"'\u201d\u2019]*\s*$")


def usable_clauses(corpus_terms: set[str]) -> list[str]:
    """The templates whose content words no document contains."""
    return [c for c in CLAUSE_TEMPLATES if not set(T.content_terms(c)) & corpus_terms]


def append_clause(sentence: str, clauses: Sequence[str]) -> str | None:
    """Insert an unsupported clause before the sentence's final period (or at its end)."""
    if not clauses:
        return None
    clause = clauses[_key(sentence) % len(clauses)]
    end = _END.search(sentence)
    cut = end.start() if end else len(sentence)
    return sentence[:cut] + clause + sentence[cut:]


def wrong_passage(pair: EvidencePair, docs: Sequence[Document], max_overlap: float = 0.8) -> str | None:
    """A three-sentence passage of another document that does not restate the quote.

    Passages covering ``max_overlap`` or more of the quote's content words may carry the same
    fact (the articles report one event) and are not used.
    """
    terms = set(T.content_terms(pair.quote))
    options = []
    for doc in docs:
        if doc.doc_id == pair.source:
            continue
        for i in range(1, len(doc.sentences) - 1):
            text = doc.text[doc.sentences[i - 1][0] : doc.sentences[i + 1][1]]
            if not terms or len(terms & set(T.content_terms(text))) / len(terms) < max_overlap:
                options.append(text)
    return options[_key(pair.quote) % len(options)] if options else None


def build_items(pairs: Sequence[EvidencePair], docs: Sequence[Document]) -> list[MetaItem]:
    """Positives and negatives for every pair; a perturbation that does not apply is skipped."""
    pool = EntityPool.from_documents(docs)
    corpus_terms = {t for d in docs for t in T.content_terms(d.text)}
    clauses = usable_clauses(corpus_terms)
    items = []
    for pair in pairs:
        q, p = pair.quote, pair.premise
        claims: list[tuple[str, str | None, str | None]] = [
            ("quote", q, p),
            ("paraphrase", paraphrase(q), p),
            ("entity_swap", swap_entity(q, p, pool), p),
            ("number_change", change_number(q, p), p),
            ("negation", toggle_negation(q), p),
            ("appended_clause", append_clause(q, clauses), p),
            ("wrong_citation", q, wrong_passage(pair, docs)),
            ("citation_removed", q, ""),
        ]
        items += [MetaItem(kind, c, prem, pair.source) for kind, c, prem in claims if c and prem is not None]
    return items
