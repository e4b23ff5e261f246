"""The generative answerer: a local causal LM writes the answer, the citation check vets it.

The retrieved passages are numbered [1]..[k] in the prompt (as many as the model's context
holds beside ``max_new_tokens``); the model is asked to end each sentence with the numbers
of its passages. Its text streams out token by token; then every sentence is checked
against what it cites (rag/verify.py), and an answer with no supported sentence falls back
to the extractive answer, or to a refusal.

    >>> bot = rag.Chatbot.from_corpus("corpus", answerer="transformers", generator_model="/models/qwen")
    >>> for partial in bot.stream("Who leads Hamas in the Gaza Strip?"):
    ...     print(partial.text)
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from index import Embedder, IndexStore

from ..answer.draft import Draft
from ..answer.extractive import ExtractiveAnswerer
from ..answer.vocabulary import CorpusVocabulary
from ..config import RagConfig
from ..records import Passage
from ..verify.citations import CitationVerifier, VerifiedDraft
from ..verify.support import SupportChecker, make_checker
from .lm import LocalLM
from .prompt import REFUSAL, Prompt, check_context, fit_prompt


class TransformersAnswerer:
    """Answers with a local causal LM from ``config.generator_model``, greedily decoded.

    ``lm`` reuses an already loaded model (a refreshed index keeps its model). Raises
    GeneratorError when the model folder is unusable or its context too small.
    """

    name = "transformers"

    def __init__(self, store: IndexStore, embedder: Embedder, config: RagConfig, lm: LocalLM | None = None,
                 checker: SupportChecker | None = None, vocabulary: CorpusVocabulary | None = None):
        if lm is None:
            if not config.generator_model:
                raise ValueError("TransformersAnswerer needs config.generator_model, a local model folder")
            lm = LocalLM(config.generator_model, config.generator_device)
        check_context(lm, config.max_new_tokens)  # fail at start-up, not on the first question
        self.lm = lm
        self.config = config
        self.checker = checker or make_checker(config.nli_model)
        self.verifier = CitationVerifier(store, self.checker, config.unsupported_policy)
        # Built once: it indexes the corpus vocabulary, too slow to repeat per question.
        self.fallback = (ExtractiveAnswerer(store, embedder, config, self.checker, vocabulary)
                         if config.generator_fallback == "extractive" else None)

    def answer(self, question: str, passages: list[Passage]) -> Draft:
        """The checked draft (a VerifiedDraft), generated whole."""
        for piece in self.stream_answer(question, passages):
            if isinstance(piece, Draft):
                return piece
        raise AssertionError("stream_answer ends with a Draft")

    def stream_answer(self, question: str, passages: list[Passage]) -> Iterator[str | Draft]:
        """Yield the generated text piece by piece, then the checked Draft."""
        if not passages:
            yield VerifiedDraft(refused=True, refusal=REFUSAL,
                                verification=[_whole("refused", "no passage was retrieved")])
            return
        prompt = fit_prompt(self.lm, question, passages, self.config.max_new_tokens)
        pieces: list[str] = []
        for piece in self.generate(prompt):
            pieces.append(piece)
            yield piece
        draft = self.verifier.verify("".join(pieces), prompt.passages)
        if draft.sentences or draft.refused:
            yield draft
            return
        yield self._fall_back(question, passages, draft.verification)

    def generate(self, prompt: Prompt) -> Iterator[str]:
        """The generation step: the model's text for ``prompt``, streamed."""
        return self.lm.stream(prompt.ids, self.config.max_new_tokens)

    def _fall_back(self, question: str, passages: list[Passage], records: Sequence[dict[str, Any]]) -> Draft:
        """The extractive answer (or a refusal) in place of a generated answer nothing supports."""
        if self.fallback is None:
            return VerifiedDraft(refused=True, refusal=REFUSAL, verification=[
                *records, _whole("refused", "no generated sentence is supported; refusing")])
        draft = self.fallback.answer(question, passages)
        note = _whole("fallback", "no generated sentence is supported; answered extractively")
        return VerifiedDraft(sentences=draft.sentences, refused=draft.refused, refusal=draft.refusal,
                             closest=draft.closest, conflicts=draft.conflicts, confidence=draft.confidence,
                             verification=[*records, note])


def _whole(action: str, reason: str) -> dict[str, Any]:
    """A record about the answer as a whole rather than one generated sentence."""
    return {"text": "", "markers_before": [], "markers_after": [], "chunks_after": [], "supported": None,
            "action": action, "reason": reason}
