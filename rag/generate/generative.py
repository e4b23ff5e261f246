"""The generative answerer: a local causal LM writes the answer, the citation check vets it.

The answer selector (the extractive answerer's fitted models) decides first: a question it
refuses is refused, and reports that disagree are given side by side, without generating.
Otherwise the model sees only the two sentences the selector ranks best, grouped by passage
and numbered [1]..[k] (a hundred-odd tokens: a small model reads long prompts slowly and copies
them badly), and is asked for one short sentence: it phrases the chosen answer, and its
first sentence must restate the selector's best one. Each sentence it writes is checked
against the passages (rag/verify/citations.py) as soon as it is finished, and only the
sentences that pass are streamed; the citations come from the check. An answer with no
supported sentence falls back to the extractive answer, or to a refusal.

    >>> bot = rag.Chatbot.from_corpus("corpus", answerer="transformers")  # built-in SmolLM2
    >>> for partial in bot.stream("Who leads Hamas in the Gaza Strip?"):
    ...     print(partial.text)
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

from index import Embedder, IndexStore
from index.ingest.sentences import split_sentences

from ..answer.draft import Draft
from ..answer.extractive import ExtractiveAnswerer, Scored
from ..answer.qtypes import answer_items
from ..answer.vocabulary import CorpusVocabulary
from ..config import RagConfig
from ..records import Passage
from ..verify.citations import CitationVerifier, VerifiedDraft
from ..verify.support import SupportChecker, make_checker
from .lm import LocalLM
from .loader import load_lm, model_name
from .onnx_lm import OnnxLM
from .prompt import REFUSAL, Prompt, check_context, fit_prompt


class TransformersAnswerer:
    """Answers with a local causal LM (``config.generator_model``, else the built-in one),
    greedily decoded.

    ``lm`` reuses an already loaded model (a refreshed index keeps its model). Raises
    GeneratorError when the model folder is unusable or its context too small.
    """

    name = "transformers"

    def __init__(self, store: IndexStore, embedder: Embedder, config: RagConfig, lm: LocalLM | OnnxLM | None = None,
                 checker: SupportChecker | None = None, vocabulary: CorpusVocabulary | None = None):
        if lm is None:
            lm = load_lm(config, progress=True)
        self.model_name = model_name(config)  # what the page and the JSON say wrote an answer
        check_context(lm, config.max_new_tokens)  # fail at start-up, not on the first question
        self.lm = lm
        self.config = config
        self.checker = checker or make_checker(config.nli_model)
        self.verifier = CitationVerifier(store, self.checker, config.unsupported_policy)
        # Built once: it indexes the corpus vocabulary, too slow to repeat per question.
        self.selector = ExtractiveAnswerer(store, embedder, config, self.checker, vocabulary)

    def answer(self, question: str, passages: list[Passage]) -> Draft:
        """The checked draft (a VerifiedDraft), generated whole."""
        for piece in self.stream_answer(question, passages):
            if isinstance(piece, Draft):
                return piece
        raise AssertionError("stream_answer ends with a Draft")

    def stream_answer(self, question: str, passages: list[Passage]) -> Iterator[str | Draft]:
        """Yield each generated sentence once it has passed the check, then the checked Draft."""
        if not passages:
            yield VerifiedDraft(refused=True, refusal=REFUSAL,
                                verification=[_whole("refused", "no passage was retrieved")])
            return
        scored = self.selector.score(question, passages)
        selected = self.selector.decide(scored)
        if selected.refused or selected.conflicts:
            why = ("the answer selector refuses: the articles do not seem to answer" if selected.refused
                   else "the reports disagree: their accounts are given side by side")
            yield _as_verified(selected, [_whole("selector", why)])
            return
        prompt = self.prompt_for(question, passages, scored)
        # The model phrases the answer the selector chose; for a name, date or figure it may not pick another.
        expected = [i for s in selected.sentences for i in answer_items(s.text, scored.qtype, question)]
        anchor = selected.sentences[0].supports[0] if selected.sentences else None
        text, shown, finished = "", 0, 0
        for piece in self.generate(prompt):
            text += piece
            spans = split_sentences(text)
            if len(spans) - 1 <= finished:
                continue  # no sentence finished since the last check
            finished = len(spans) - 1
            # Every sentence but the last is finished: show the ones that pass the check.
            done = self.verifier.verify(text[: spans[-1][0]], prompt.passages, question, expected, anchor)
            for sentence in done.sentences[shown:]:
                yield (" " if shown else "") + sentence.text
                shown += 1
            if shown >= self.config.generator_answer_sentences:
                text = text[: spans[-1][0]]  # enough said: the sentence begun is not needed
                break
        draft = self.verifier.verify(text, prompt.passages, question, expected, anchor)
        if draft.sentences:
            draft.uncertain = selected.uncertain  # the model phrases the answer; the doubt stays
            draft.written_by = self.model_name
            yield draft
            return
        why = ("the model refused, but the answer selector finds an answer" if draft.refused
               else "no generated sentence is supported")
        yield self._fall_back(selected, draft.verification, why)

    def prompt_for(self, question: str, passages: list[Passage], scored: Scored | None = None) -> Prompt:
        """The prompt the model gets: the selector's best sentences, numbered by passage."""
        scored = scored or self.selector.score(question, passages)
        chosen = context(scored, passages, self.config.generator_sentences)
        return fit_prompt(self.lm, question, chosen, self.config.max_new_tokens)

    def generate(self, prompt: Prompt) -> Iterator[str]:
        """The generation step: the model's text for ``prompt``, streamed."""
        return self.lm.stream(prompt.ids, self.config.max_new_tokens)

    def _fall_back(self, selected: Draft, records: Sequence[dict[str, Any]], why: str) -> Draft:
        """The extractive answer (or a refusal) in place of a generated answer nothing supports."""
        if self.config.generator_fallback == "refuse":
            return VerifiedDraft(refused=True, refusal=REFUSAL, verification=[
                *records, _whole("refused", f"{why}; refusing")])
        return _as_verified(selected, [*records, _whole("fallback", f"{why}; answered extractively")])


def context(scored: Scored, passages: Sequence[Passage], limit: int) -> list[Passage]:
    """The passages the model is shown: the ``limit`` sentences the selector ranks best (its
    chosen sentence first among them), grouped by passage (the best passage first), each
    group in reading order: "It also paid ..." needs the sentence before it, for the model
    and for the check."""
    by_chunk = {p.chunk_id: p for p in passages}
    groups: dict[str, list[Any]] = {}
    for cand in scored.candidates[:limit]:
        groups.setdefault(cand.chunk_id, []).append(cand)
    return [replace(by_chunk[chunk], text=" ".join(c.text for c in sorted(group, key=lambda c: c.index)))
            for chunk, group in groups.items()]


def _as_verified(draft: Draft, records: list[dict[str, Any]]) -> VerifiedDraft:
    return VerifiedDraft(sentences=draft.sentences, refused=draft.refused, refusal=draft.refusal,
                         closest=draft.closest, conflicts=draft.conflicts, confidence=draft.confidence,
                         uncertain=draft.uncertain, short=draft.short, verification=records)


def _whole(action: str, reason: str) -> dict[str, Any]:
    """A record about the answer as a whole rather than one generated sentence."""
    return {"text": "", "markers_before": [], "markers_after": [], "chunks_after": [], "supported": None,
            "action": action, "reason": reason}
