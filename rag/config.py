"""One frozen, typed configuration for the whole question-answering path."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

from index import IndexConfig

MAX_QUESTION_CHARS = 2000


@dataclass(frozen=True)
class RagConfig:
    """Retrieval and answering settings. The answer selector's weights and refusal threshold are fitted
    (``rag fit``) and shipped in rag/answer/data/selector.json."""

    index: IndexConfig = field(default_factory=IndexConfig)
    # Passages handed to the answerer (and shown as sources).
    top_k: int = 8
    # Dense + BM25 fused by reciprocal rank fusion; False uses dense retrieval only.
    hybrid: bool = True
    # Passages of this many best-matching sentences are always among those retrieved.
    sentence_slots: int = 2
    # RRF constant from Cormack et al. (2009); larger flattens the rank curve.
    rrf_k: int = 60
    # Candidates each retriever contributes before fusion, as a multiple of top_k.
    candidate_factor: int = 4
    # Passages whose embeddings are at least this similar count as one (syndicated copies).
    dedup_threshold: float = 0.95
    # The default, fully offline answerer.
    answerer: str = "extractive"
    # Answer length: at most this many sentences and words (the first sentence always fits).
    max_sentences: int = 2
    max_words: int = 130
    # The fitted sentence and refusal models (``rag fit`` writes them); None: the shipped file.
    selector_model: str | None = None
    # The trained reader's folder (``rag train-reader`` writes it); None: the shipped one.
    reader_model: str | None = None
    # Windows (a candidate sentence with its neighbours) the reader reads per question, around
    # the best candidates: four cover the answer's sentence for most questions at ~25 ms.
    read_windows: int = 4
    # A typed question's best sentence holding the asked-for kind of thing (a name, a date)
    # goes first when it is at least this likely, relative to the best sentence overall.
    typed_first_ratio: float = 0.6
    # Two sentences this similar say the same thing: one is kept, the other corroborates.
    same_fact_similarity: float = 0.80
    # ... as do two whose words beyond the question's are at least this share the same (of
    # the shorter one's): on the training file such second sentences never held the answer.
    restated_share: float = 0.7
    # A sentence of another article that carries the same answer (name, date, figure) and
    # is at least this similar corroborates it and is cited too.
    corroborate_similarity: float = 0.55
    # Disagreeing reports are given side by side when the other account is at least this
    # likely (relative to the best sentence) to answer ...
    show_conflicts: bool = True
    conflict_ratio: float = 0.5
    # ... and at least this similar to the best sentence for a different name or figure (or
    # ``polarity_similarity`` for a name spelled two ways, and for "did" against "did not").
    conflict_similarity: float = 0.7
    polarity_similarity: float = 0.5
    max_question_chars: int = MAX_QUESTION_CHARS
    # The files' modification dates are their publication dates: an article that states no
    # date (in its text, front matter or page metadata) is shown with its file's. Off: copied
    # files carry the day they were copied, and such an article is shown as undated.
    file_dates: bool = False
    # Local NLI cross-encoder directory for the support checker; None uses the lexical checker.
    nli_model: str | None = None
    # -- the generative answerer (answerer="transformers") ------------------------------------
    # Local folder of a causal LM and its tokenizer (save_pretrained layout); never downloaded.
    # None: the built-in SmolLM2-135M-Instruct (rag/generate/builtin.py).
    generator_model: str | None = None
    # Tokens the model may generate per answer: room for a short sentence or two.
    max_new_tokens: int = 48
    # The model is shown this many of the sentences the answer selector ranks best ...
    generator_sentences: int = 2
    # ... and asked for a one-sentence answer: once this many have passed the check,
    # generation stops (a small model's further sentences are mostly repetition).
    generator_answer_sentences: int = 1
    # A generated sentence its cited passages do not support is "drop"ped from the answer or
    # kept and "flag"ged in Answer.verification; dropping keeps every shown sentence checked.
    unsupported_policy: str = "drop"
    # When no generated sentence is supported: answer "extractive"ly instead, or "refuse".
    generator_fallback: str = "extractive"
    # "auto" takes the GPU when there is one, else the CPU; or a torch device ("cpu", "cuda:0").
    generator_device: str = "auto"
    # How the model runs: "onnx" (ONNX Runtime GenAI: the built-in model exported once, or a
    # folder that is such an export), "torch" (transformers), or "auto": onnx when it is
    # installed and the model runs on the CPU, else torch.
    generator_runtime: str = "auto"
    # Intra-op threads of the ONNX runtime; 0 leaves ONNX Runtime's default (the cores).
    generator_threads: int = 0
    # -- one question -------------------------------------------------------------------------
    # What encodes questions: "onnx" (ONNX Runtime over an export of the embedding model, made
    # once and cached; no torch to answer) or "torch" (sentence-transformers).
    query_encoder: str = "onnx"
    # Threads one question uses (question encoder, FAISS, numpy's BLAS). A single small
    # question gains nothing from more, and with other work on the cores more threads only
    # wait on each other; index builds and document embedding still use every core.
    query_threads: int = 1

    def __post_init__(self) -> None:
        if self.top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {self.top_k}")
        if not 1 <= self.max_sentences <= 10:
            raise ValueError(f"max_sentences must be between 1 and 10, got {self.max_sentences}")
        if self.read_windows < 0:
            raise ValueError(f"read_windows must be >= 0, got {self.read_windows}")
        if self.sentence_slots < 0:
            raise ValueError(f"sentence_slots must be >= 0, got {self.sentence_slots}")
        if self.rrf_k < 1 or self.candidate_factor < 1:
            raise ValueError("rrf_k and candidate_factor must be >= 1")
        if self.generator_sentences < 1 or self.generator_answer_sentences < 1:
            raise ValueError("generator_sentences and generator_answer_sentences must be >= 1")
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if self.generator_runtime not in ("auto", "onnx", "torch"):
            raise ValueError(f"generator_runtime must be 'auto', 'onnx' or 'torch', got {self.generator_runtime!r}")
        if self.unsupported_policy not in ("drop", "flag"):
            raise ValueError(f"unsupported_policy must be 'drop' or 'flag', got {self.unsupported_policy!r}")
        if self.query_encoder not in ("onnx", "torch"):
            raise ValueError(f"query_encoder must be 'onnx' or 'torch', got {self.query_encoder!r}")
        if self.query_threads < 1:
            raise ValueError(f"query_threads must be >= 1, got {self.query_threads}")
        if self.generator_fallback not in ("extractive", "refuse"):
            raise ValueError(f"generator_fallback must be 'extractive' or 'refuse', got {self.generator_fallback!r}")

    @classmethod
    def from_kwargs(cls, **kwargs: Any) -> RagConfig:
        """Build from flat keyword arguments; index fields (``model``, ``max_tokens``…) go
        to the nested IndexConfig. Unknown names raise TypeError."""
        index_names = {f.name for f in fields(IndexConfig)}
        own_names = {f.name for f in fields(cls)} - {"index"}
        unknown = set(kwargs) - index_names - own_names
        if unknown:
            raise TypeError(f"unknown config option(s): {', '.join(sorted(unknown))}")
        index = kwargs.pop("index", None) or IndexConfig()
        index = replace(index, **{k: kwargs.pop(k) for k in list(kwargs) if k in index_names})
        return cls(index=index, **kwargs)
