"""Does a cited passage support an answer sentence? Two tiers behind one small protocol.

``LexicalChecker`` needs no model: it asks that the claim's content words be covered by the
premise and that every checkable detail (number, date, amount, name, negation) agrees.
``NLIChecker`` runs a local NLI cross-encoder over windows of the premise.

    >>> checker = make_checker()
    >>> checker.check("Iran paid $651,000 to families.", "It also paid $615,000 to the families.").reason
    "number '651,000' not in the passage"
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from index.errors import RagError

from .. import text as T

_MARKER = re.compile(r"\s*\[\d+(?:\s*[,;]\s*\d+)*\]")
# Words that turn a statement around; contractions arrive from T.words() without the apostrophe.
NEGATION_CUES = frozenset(
    """not no never none nobody nothing neither nor without cannot unable refused refuse refuses
    refusing denied deny denies failed fail fails declined dont doesnt didnt isnt arent wasnt
    werent hasnt havent hadnt wont wouldnt cant couldnt shouldnt mustnt neednt""".split()
)
# Particles and joiners inside names: "al-Arouri" and "Arouri" name the same man.
_NAME_PARTICLES = frozenset("al el ad bin ibn of the for de and".split())
# Words a date match carries that say nothing about which date it is.
_DATE_FILLER = frozenset("on in at by of the a an since until early late mid".split())
_MONTH_CANON = {
    "january": "jan", "february": "feb", "march": "mar", "april": "apr", "june": "jun", "july": "jul",
    "august": "aug", "september": "sep", "sept": "sep", "october": "oct", "november": "nov",
    "december": "dec",
}


@dataclass(frozen=True)
class Judgement:
    """One verdict: supported (None when this tier cannot judge), a 0..1 score and why."""

    supported: bool | None  # None: unmeasured, never to be counted as 0 or 1
    score: float  # 0..1, strength of support
    reason: str  # short and human-readable, e.g. "number '651,000' not in the passage"


class SupportChecker(Protocol):
    """Judges whether ``premise`` (the cited passages) supports ``claim`` (one sentence)."""

    name: str

    def check(self, claim: str, premise: str) -> Judgement: ...


class SupportModelError(RagError, ValueError):
    """The NLI model folder is missing, incomplete or has no entailment label."""


def strip_markers(claim: str) -> str:
    """The text without its citation markers ("... in 2011 [1][2]." -> "... in 2011.")."""
    return " ".join(_MARKER.sub("", claim).split())


def _norm(token: str) -> str:
    """Lower-cased token with thousands separators dropped and month names in one spelling."""
    token = token.lower()
    if token[:1].isdigit():
        return token.replace(",", "")
    return _MONTH_CANON.get(token, token)


def norm_words(text: str) -> list[str]:
    """Normalised word tokens: case, possessives, hyphens, separators and months folded."""
    return [_norm(w) for w in T.words(text)]


def _is_content(token: str) -> bool:
    return token not in T.STOPWORDS and token not in T.QUESTION_WORDS


def _precheck(claim: str, premise: str) -> Judgement | None:
    """The verdict both tiers give without looking further: unmeasured when the claim has
    nothing to check, unsupported when nothing is cited."""
    if not any(_is_content(w) for w in norm_words(claim)):
        return Judgement(None, 0.0, "claim has no content words")
    if not premise.strip():
        return Judgement(False, 0.0, "no cited passage")
    return None


class _Premise:
    """The premise's tokens, token set and stem set, computed once per check."""

    def __init__(self, premise: str) -> None:
        self.tokens = norm_words(premise)
        self.vocab = set(self.tokens)
        self.stems = {T.stem(t) for t in self.tokens}
        self.amounts = {_amount_key(a) for a in T.amounts(premise)}

    def has(self, token: str) -> bool:
        """Token present as written, by stem, or as a demonym of a premise word (Iran/Iranian)."""
        if token in self.vocab or T.stem(token) in self.stems:
            return True
        return len(token) >= 5 and any(len(p) >= 4 and token.startswith(p) for p in self.vocab if p[0] == token[0])


class LexicalChecker:
    """Content-word coverage plus strict agreement of numbers, dates, amounts, names and negation."""

    name = "lexical"

    def __init__(
        self,
        # Share of the claim's content words the premise must cover. Calibrated with eval/meta.py
        # on the dev+test gold quotes: quotes cover 1.0 and rule-based paraphrases >= 0.78
        # (0.8 would fail some), wrong-passage citations have a median of 0.15 (99% below 0.7).
        min_coverage: float = 0.7,
        # A run of this many consecutive claim content words absent from the premise is an
        # unsupported addition. Same calibration: 2 fails 3.6% of paraphrases ("held talks"),
        # 3 and 4 catch every appended clause with none.
        min_unsupported_run: int = 3,
        # Negation cues are compared in the shortest premise span that best matches the claim;
        # spans may be this many tokens longer than the claim. Same calibration: 0 misses
        # negations, 1 to 5 catch all with no false alarm; 3 leaves room for wordier paraphrases.
        window_slack: int = 3,
    ) -> None:
        if not 0.0 < min_coverage <= 1.0:
            raise ValueError(f"min_coverage must be in (0, 1], got {min_coverage}")
        if min_unsupported_run < 1:
            raise ValueError(f"min_unsupported_run must be >= 1, got {min_unsupported_run}")
        if window_slack < 0:
            raise ValueError(f"window_slack must be >= 0, got {window_slack}")
        self.min_coverage = min_coverage
        self.min_unsupported_run = min_unsupported_run
        self.window_slack = window_slack

    def check(self, claim: str, premise: str) -> Judgement:
        """Judge one claim; the first failed rule is the reason, the score the coverage."""
        claim = strip_markers(claim)
        if (early := _precheck(claim, premise)) is not None:
            return early
        p = _Premise(premise)
        content = [w for w in norm_words(claim) if _is_content(w)]
        covered = {w for w in content if p.has(w)}
        coverage = len({T.stem(w) for w in covered}) / len({T.stem(w) for w in content})
        failures = [
            *self._detail_failures(claim, p),
            *self._run_failure(content, covered),
            *self._negation_failure(claim, p),
        ]
        if coverage < self.min_coverage:
            failures.append(f"covers {coverage:.0%} of the claim's content words")
        if failures:
            return Judgement(False, round(coverage * 0.5 ** len(failures), 4), failures[0])
        return Judgement(True, round(coverage, 4), f"covers {coverage:.0%}; details agree")

    def _detail_failures(self, claim: str, p: _Premise) -> list[str]:
        """Numbers, dates, amounts and names of the claim that the premise lacks."""
        out = []
        for kind, found in (("number", T.numbers(claim)), ("amount", T.amounts(claim)), ("date", T.dates(claim))):
            for item in found:
                # Figures match exactly (separators and month spellings folded), never by stem
                # or prefix: "651,000" must not pass for "65".
                need = [w for w in norm_words(item) if w not in _DATE_FILLER]
                if any(w not in p.vocab for w in need):
                    out.append(f"{kind} {item!r} not in the passage")
        for item in T.amounts(claim):
            # A currency is part of the figure: "20,000 meals" does not say "$20,000".
            if _has_currency(item) and _amount_key(item) not in p.amounts:
                out.append(f"amount {item!r} not in the passage as an amount")
        for entity in T.entities(claim):
            need = [w for w in norm_words(entity) if w not in _NAME_PARTICLES and _is_content(w)]
            if missing := [w for w in need if not p.has(w)]:
                out.append(f"name {entity!r} not in the passage ({', '.join(missing)})")
        return out

    def _run_failure(self, content: list[str], covered: set[str]) -> list[str]:
        """An appended clause: consecutive content words none of which the premise has."""
        run: list[str] = []
        for w in [*content, ""]:
            if w and w not in covered:
                run.append(w)
                continue
            if len(run) >= self.min_unsupported_run:
                return [f"unsupported words {' '.join(run)!r}"]
            run = []
        return []

    def _negation_failure(self, claim: str, p: _Premise) -> list[str]:
        """Claim and the best-matching part of the premise must carry as many negation cues."""
        tokens = norm_words(claim)
        want = sum(w in NEGATION_CUES for w in tokens)
        stems = {T.stem(w) for w in tokens if _is_content(w) and w not in NEGATION_CUES}
        counts = _aligned_cue_counts(p.tokens, stems, len(tokens) + self.window_slack)
        if not counts or want in counts:
            return []
        said = "negated" if want > max(counts) else "not negated"
        return [f"claim is {said} but the passage is {'not ' if said == 'negated' else ''}negated"]


_CURRENCY = re.compile(r"[$\u20ac\u00a3]|dollars|euros|pounds|shekels|rials", re.IGNORECASE)


def _has_currency(amount: str) -> bool:
    return bool(_CURRENCY.search(amount))


def _amount_key(amount: str) -> str:
    """An amount folded for comparison: case, spaces and thousands separators dropped."""
    return re.sub(r"[\s,]", "", amount.lower()).rstrip(".")


def _window_coverage(token_stems: list[str], stems: set[str], size: int) -> list[int]:
    """Distinct claim stems in each premise window of ``size`` tokens, by start position."""
    hits: Counter[str] = Counter(s for s in token_stems[:size] if s in stems)
    out = [len(hits)]
    for start in range(1, len(token_stems) - size + 1):
        gone, new = token_stems[start - 1], token_stems[start + size - 1]
        if gone in stems:
            hits[gone] -= 1
            if not hits[gone]:
                del hits[gone]
        if new in stems:
            hits[new] += 1
        out.append(len(hits))
    return out


def _aligned_cue_counts(tokens: list[str], stems: set[str], max_size: int) -> set[int]:
    """Negation-cue counts of the premise spans that best match the claim.

    A span is a shortest window (at most ``max_size`` tokens) covering as many claim stems as
    any window can, widened by one token each side so that a cue just before the matched
    words ("not becoming closer") is seen. Ties give several counts.
    """
    if not tokens or not stems:
        return set()
    token_stems = [T.stem(t) for t in tokens]
    max_size = min(max_size, len(tokens))
    best = max(_window_coverage(token_stems, stems, max_size))
    if not best:
        return set()
    for size in range(best, max_size + 1):
        starts = [i for i, c in enumerate(_window_coverage(token_stems, stems, size)) if c == best]
        if starts:
            return {sum(t in NEGATION_CUES for t in tokens[max(i - 1, 0) : i + size + 1]) for i in starts}
    return set()


def entailment_index(config: Any) -> int:
    """Index of the entailment class in a model config (id2label, else label2id).

    Raises SupportModelError when no label contains "entail".
    """
    id2label = getattr(config, "id2label", None) or {}
    for idx, label in id2label.items():
        if "entail" in str(label).lower() and "not" not in str(label).lower():
            return int(idx)
    for label, idx in (getattr(config, "label2id", None) or {}).items():
        if "entail" in str(label).lower() and "not" not in str(label).lower():
            return int(idx)
    raise SupportModelError(
        f"The NLI model has no entailment label (labels: {dict(id2label)}); "
        "use a model fine-tuned for NLI whose config names its 'entailment' class"
    )


class NLIChecker:
    """A local NLI cross-encoder: max entailment probability over premise windows."""

    name = "nli"

    def __init__(
        self,
        model_dir: str | Path,
        threshold: float = 0.5,  # entailment probability at which a claim counts as supported
        window_tokens: int = 320,  # premise tokens per window, leaving room for the claim in 512
        stride: int = 128,  # tokens shared by neighbouring windows, so no fact is cut in two
        device: str = "cpu",
    ) -> None:
        if not 0.0 < threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1], got {threshold}")
        if window_tokens < 8:
            raise ValueError(f"window_tokens must be >= 8, got {window_tokens}")
        if not 0 <= stride < window_tokens:
            raise ValueError(f"stride must be in [0, window_tokens), got {stride}")
        path = Path(model_dir).expanduser()
        if not path.is_dir():
            raise SupportModelError(f"NLI model folder not found: {path} (give a local folder, no hub is used)")
        if not (path / "config.json").is_file():
            raise SupportModelError(
                f"No model in {path}: config.json is missing (save one with model.save_pretrained({str(path)!r}))"
            )
        self.model_dir = path
        self.threshold = threshold
        self.window_tokens = window_tokens
        self.stride = stride
        self.device = device
        self.last_windows = 0  # windows the last check scored; exposed for tests and reports
        self._loaded: tuple[Any, Any, int] | None = None

    def _load(self) -> tuple[Any, Any, int]:
        """Tokenizer, model and entailment index, loaded on first use and kept."""
        if self._loaded is None:
            from transformers import AutoModelForSequenceClassification, AutoTokenizer

            try:
                tokenizer = AutoTokenizer.from_pretrained(self.model_dir, local_files_only=True)
                model = AutoModelForSequenceClassification.from_pretrained(self.model_dir, local_files_only=True)
            except (OSError, ValueError, KeyError) as exc:
                raise SupportModelError(f"Cannot load the NLI model from {self.model_dir}: {exc}") from exc
            index = entailment_index(model.config)
            model.to(self.device).eval()
            self._loaded = (tokenizer, model, index)
        return self._loaded

    @property
    def entailment_index(self) -> int:
        return self._load()[2]

    def windows(self, premise: str) -> list[str]:
        """The premise cut into overlapping windows of ``window_tokens`` tokens."""
        tokenizer = self._load()[0]
        enc = tokenizer(premise, add_special_tokens=False, return_offsets_mapping=True)
        offsets = enc["offset_mapping"]
        if len(offsets) <= self.window_tokens:
            return [premise]
        step = self.window_tokens - self.stride
        out = []
        for start in range(0, len(offsets), step):
            end = min(start + self.window_tokens, len(offsets))
            out.append(premise[offsets[start][0] : offsets[end - 1][1]])
            if end == len(offsets):
                break
        return out

    def check(self, claim: str, premise: str) -> Judgement:
        """Supported when some window entails the claim with probability >= threshold."""
        import torch

        claim = strip_markers(claim)
        if (early := _precheck(claim, premise)) is not None:
            return early
        tokenizer, model, index = self._load()
        windows = self.windows(premise)
        self.last_windows = len(windows)
        max_len = min(getattr(model.config, "max_position_embeddings", 512) or 512, 512)
        best = 0.0
        for i in range(0, len(windows), 16):
            batch = windows[i : i + 16]
            enc = tokenizer(batch, [claim] * len(batch), truncation="longest_first", max_length=max_len,
                            padding=True, return_tensors="pt").to(self.device)
            with torch.inference_mode():
                probs = torch.softmax(model(**enc).logits.float(), dim=-1)[:, index]
            best = max(best, float(probs.max()))
        ok = best >= self.threshold
        return Judgement(ok, round(best, 4), f"entailment {best:.2f} {'>=' if ok else '<'} {self.threshold:.2f}")


def make_checker(nli_model: str | Path | None = None) -> SupportChecker:
    """LexicalChecker when ``nli_model`` is None, else NLIChecker(nli_model)."""
    return LexicalChecker() if nli_model is None else NLIChecker(nli_model)
