"""`rag fit`: fit the answer selector on SQuAD-format data and the seed dev split.

    rag fit --squad ../shared/data/squad2-train.json --dev eval/data/dev.jsonl

Both sets go through the project's own retrieval; every candidate sentence becomes one row of
``rag.answer.features.SENTENCE_FEATURES`` labelled by whether it holds a gold answer, and every
question one row of ``QUESTION_FEATURES`` labelled by whether it is answerable. The sentence
model is fitted first; the shipped reader then reads the windows of each question's best
candidates, and the reading model is fitted on the first model's logit and what the reader
found (``READ_FEATURES``), the refusal model on the question rows and the reader's own
(``READ_QUESTION_FEATURES``). The reader was trained on other files: fit on none it read.
The refusal threshold is the one that refuses ``--false-refusals`` of the answerable
training questions, the confident threshold (on the probability of the answer's first
sentence) the one under which ``--uncertain`` of them are shown as uncertain, and the second-sentence
ratio the most focused one (the highest: fewest second sentences) whose answer containment
is within ``--focus-tolerance`` of the best at a median answer length of at most
``--max-median-words``. On the training file a second sentence holds the answer about one
time in five at the loosest ratios: the last points of containment they buy cost many
sentences that do not answer. The result is written to ``rag/answer/data/selector.json``.
Never fit on the sets you report on.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from .metrics import contains

SEED = 0
_RATIOS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.01)


@dataclass
class Example:
    """One question as the answerer sees it, with its gold answers."""

    query: str
    gold: list[str]  # any of these in a sentence makes it an answer; empty: unanswerable
    weight: float
    scored: Any = None  # rag.answer.extractive.Scored, filled in by ``_scored``
    fold: int | None = None  # the --fold-readers reader that never saw its article


def register(sub: Any) -> None:
    """Add the `fit` subcommand to the `rag` command's subparsers."""
    p = sub.add_parser("fit", help="fit the answer selector (weights, refusal threshold) on SQuAD-format data")
    p.add_argument("--squad", type=Path, required=True, help="SQuAD v2.0 training file")
    p.add_argument("--dev", type=Path, default=None, help="seed question file to fit on too (eval/data/dev.jsonl)")
    p.add_argument("--dev-weight", type=float, default=5.0, help="weight of a dev question against a SQuAD one")
    p.add_argument("--false-refusals", type=float, default=0.05, help="share of answerable questions refused")
    p.add_argument("--uncertain", type=float, default=0.25,
                   help="share of answerable questions whose answer is shown as uncertain (or refused)")
    p.add_argument("--reader", type=Path, default=None, help="reader folder (default: the shipped one)")
    p.add_argument("--fold-readers", type=Path, nargs="+", default=None, metavar="DIR",
                   help="cross-fitting: reader K was trained with --leave-out SQUAD:K/N and reads fold K's "
                        "questions (the --reader, trained on all of it, reads none of them)")
    p.add_argument("--max-median-words", type=float, default=31.0, help="answer length the ratio is chosen under")
    p.add_argument("--focus-tolerance", type=float, default=0.01,
                   help="containment given up for fewer second sentences when choosing the ratio")
    p.add_argument("--work", type=Path, default=None, help="folder for the corpora and indexes (reused)")
    p.add_argument("--out", type=Path, default=None, help="selector file to write (default: the shipped one)")
    p.add_argument("--pointwise", dest="listwise", action="store_false",
                   help="fit the sentence model per sentence instead of per question (softmax)")
    p.add_argument("--dump", type=Path, default=None, help="also save the question rows (.npz) for analysis")
    p.set_defaults(func=cmd_fit)


def cmd_fit(args: argparse.Namespace) -> int:
    from rag.answer.selector import DEFAULT_MODEL

    if args.work is None:
        with tempfile.TemporaryDirectory(prefix="rag-fit-") as tmp:
            selector, summary = fit(args, Path(tmp))
    else:
        selector, summary = fit(args, args.work)
    out = args.out or DEFAULT_MODEL
    import json

    out.write_text(json.dumps(selector.to_json(), indent=1) + "\n", encoding="utf-8")
    for key, value in summary.items():
        print(f"{key}: {value}")
    print(f"wrote {out}")
    return 0


class Parts(NamedTuple):
    """The retrieval half of a Chatbot over one corpus."""

    config: Any
    embedder: Any
    store: Any
    retriever: Any
    vocabulary: Any
    aliases: Any
    featurizer: Any


def _bot_parts(corpus: Path, index_dir: Path) -> Parts:
    """The retrieval half of a Chatbot (a Chatbot itself would need the selector being fitted)."""
    from index import open_index, rebuild_hint
    from rag.answer.features import Featurizer
    from rag.answer.vocabulary import CorpusVocabulary
    from rag.chatbot import make_embedder
    from rag.config import RagConfig
    from rag.retrieve.aliases import CapitalAliases
    from rag.retrieve.retriever import HybridRetriever

    cfg = RagConfig()
    embedder = make_embedder(cfg)
    store, _ = open_index(corpus, index_dir, cfg.index, embedder, fix=rebuild_hint(corpus, index_dir))
    vocabulary = CorpusVocabulary(store)
    return Parts(cfg, embedder, store, HybridRetriever(store, embedder, cfg), vocabulary,
                 CapitalAliases(vocabulary.mentions), Featurizer(store, vocabulary))


def _examples(args: argparse.Namespace, work: Path) -> list[tuple[Any, list[Example]]]:
    """Per corpus: its retrieval parts and its questions."""
    from rag.retrieve.followup import normalise_history, resolve_followup

    from .squad import load_squad, write_corpus

    out = []
    documents, questions = load_squad(args.squad)
    corpus = work / "squad" / "corpus"
    if not corpus.exists():
        write_corpus(documents, corpus)
    parts = _bot_parts(corpus, work / "squad" / "index")
    folds = _folds(args.squad, len(args.fold_readers)) if args.fold_readers else {}
    out.append((parts, [Example(parts.aliases.rewrite(q.question), q.answers, 1.0, fold=folds.get(q.id))
                        for q in questions]))
    if args.dev is not None:
        from rag.paths import DEFAULT_CORPUS

        from .dataset import load_items

        items = load_items(args.dev, DEFAULT_CORPUS)
        parts = _bot_parts(DEFAULT_CORPUS, work / "seed" / "index")
        dev = []
        for item in items:
            query = parts.aliases.rewrite(resolve_followup(item.question, normalise_history(item.history or None)))
            gold = [alt for fact in item.answers for alt in fact] if item.answerable else []
            dev.append(Example(query, gold, args.dev_weight))
        out.append((parts, dev))
    return out


def _folds(path: Path, n: int) -> dict[str, int]:
    """Each question id's fold of ``n``, by its article (as ``rag train-reader --leave-out`` cuts)."""
    import json

    from .reader.data import article_folds

    articles = json.loads(Path(path).read_text(encoding="utf-8"))["data"]
    fold = article_folds([a["title"].strip() for a in articles], n)
    return {qa["id"]: fold[a["title"].strip()] for a in articles for p in a["paragraphs"] for qa in p["qas"]}


def _fold_readers(args: argparse.Namespace) -> list[Any]:
    """The cross-fitting readers, each checked to have left out its own fold of this very file."""
    from index.hashing import file_sha256
    from rag.answer.reader import load_reader

    readers, sha = [], file_sha256(args.squad)
    for k, folder in enumerate(args.fold_readers):
        reader = load_reader(str(folder))
        want = f"{args.squad.name}:{k}/{len(args.fold_readers)}"
        if reader.record.get("leave_out") != want or reader.record["training_files"].get(args.squad.name) != sha:
            raise SystemExit(f"{folder}: not trained with --leave-out {want} on this {args.squad.name} "
                             f"(its record says {reader.record.get('leave_out') or 'nothing was left out'})")
        readers.append(reader)
    return readers


def _rows(parts: Any, examples: list[Example], cache: Path) -> list[tuple[Any, ...]]:
    """Each question's type, candidates, sentence rows, labels and unknown names. What was
    retrieved is kept in ``cache`` (retrieval does not depend on what is being fitted)."""
    import pickle

    from rag.answer.features import candidates
    from rag.answer.qtypes import classify

    from .metrics import normalize_answer

    embedder, store, retriever, vocabulary, featurizer = (
        parts.embedder, parts.store, parts.retriever, parts.vocabulary, parts.featurizer)
    retrieved = pickle.loads(cache.read_bytes()) if cache.exists() else {}
    if missing := [ex.query for ex in examples if ex.query not in retrieved]:
        retrieved.update((q, retriever.retrieve(q)) for q in missing)
        cache.write_bytes(pickle.dumps(retrieved))
    vectors = dict(zip([ex.query for ex in examples], embedder.encode_queries([ex.query for ex in examples]),
                       strict=True))
    out = []
    for ex in examples:
        cands = candidates(store, retrieved[ex.query])
        qtype = classify(ex.query)
        rows = featurizer.sentence_rows(ex.query, vectors[ex.query], qtype, cands)
        golds = [f" {g} " for g in map(normalize_answer, ex.gold) if g]
        texts = [f" {normalize_answer(c.text)} " for c in cands]
        labels = np.array([any(g in t for g in golds) for t in texts], dtype=bool)
        out.append((qtype, cands, rows, labels, vocabulary.unknown_names(ex.query)))
    return out


def _logistic(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, float]:
    """Weights and bias of a seeded logistic regression on standardised features, folded back
    so that they apply to the raw features."""
    from sklearn.linear_model import LogisticRegression

    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=1.0, max_iter=2000, random_state=SEED).fit((x - mean) / scale, y, sample_weight=w)
    coef = model.coef_[0] / scale
    return coef, float(model.intercept_[0] - (coef * mean).sum())


def _listwise(x: np.ndarray, y: np.ndarray, w: np.ndarray, groups: np.ndarray,
              l2: float = 1.0) -> tuple[np.ndarray, float]:
    """Weights that put each question's probability mass on its answer sentences (a softmax
    over the question's candidates, the quantity the answerer acts on: which sentence is
    best), then a logistic calibration of that score so that its sigmoid is a probability."""
    from scipy.optimize import minimize
    from scipy.special import logsumexp
    from sklearn.linear_model import LogisticRegression

    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    z = (x - mean) / scale
    keep = np.isin(groups, np.unique(groups[y]))  # questions with an answer among their candidates
    z, yk, g = z[keep], y[keep], groups[keep]
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    qw = w[keep][starts]

    def loss(beta: np.ndarray) -> tuple[float, np.ndarray]:
        s = z @ beta
        total, grad = 0.0, np.zeros_like(beta)
        for q, (a, b) in enumerate(zip(starts, np.r_[starts[1:], len(s)], strict=True)):
            sq, pos = s[a:b], yk[a:b]
            p_all = np.exp(sq - logsumexp(sq))
            p_pos = np.exp(sq[pos] - logsumexp(sq[pos]))
            total -= qw[q] * (logsumexp(sq[pos]) - logsumexp(sq))
            grad -= qw[q] * (p_pos @ z[a:b][pos] - p_all @ z[a:b])
        return total / qw.sum() + l2 * beta @ beta / len(qw), grad / qw.sum() + 2 * l2 * beta / len(qw)

    beta = minimize(loss, np.zeros(z.shape[1]), jac=True, method="L-BFGS-B").x
    score = ((x - mean) / scale) @ beta
    platt = LogisticRegression(C=1.0, max_iter=1000, random_state=SEED).fit(score[:, None], y, sample_weight=w)
    a, b = float(platt.coef_[0][0]), float(platt.intercept_[0])
    coef = a * beta / scale
    return coef, float(b - (coef * mean).sum())


def fit(args: argparse.Namespace, work: Path) -> tuple[Any, dict[str, Any]]:
    """Fit both models and the operating points; returns the Selector and a summary."""
    from rag.answer.extractive import Scored, answer_order
    from rag.answer.features import QUESTION_FEATURES, SENTENCE_FEATURES
    from rag.answer.reader import load_reader
    from rag.answer.reading import READ_FEATURES, READ_QUESTION_FEATURES, read_candidates
    from rag.answer.selector import Linear, Selector, sigmoid

    reader = load_reader(str(args.reader) if args.reader else None)
    fold_readers = _fold_readers(args) if args.fold_readers else []
    corpora = _examples(args, work)
    data = [(parts, ex, r) for n, (parts, exs) in enumerate(corpora)
            for ex, r in zip(exs, _rows(parts, exs, work / f"retrieved-{n}.pkl"), strict=True)]
    answerable = [(ex, r) for _, ex, r in data if ex.gold and len(r[2])]
    y = np.concatenate([r[3] for _, r in answerable])
    w = np.concatenate([np.full(len(r[2]), ex.weight) for ex, r in answerable])
    groups = np.concatenate([np.full(len(r[2]), n) for n, (_, r) in enumerate(answerable)])
    fit_rows = _listwise if args.listwise else (lambda x, y, w, _groups: _logistic(x, y, w))
    coef, bias = fit_rows(np.vstack([r[2] for _, r in answerable]), y, w, groups)
    sentence = Linear(SENTENCE_FEATURES, coef.astype(np.float32), bias)

    readings = {}
    for parts, ex, (_, cands, rows, _, _) in data:
        by = reader if ex.fold is None else fold_readers[ex.fold]
        readings[id(ex)] = read_candidates(by, parts.store, ex.query, cands, sentence.logits(rows),
                                           parts.config.read_windows)
    read_x = {id(ex): readings[id(ex)].rows(sentence.logits(r[2])) for _, ex, r in data}
    coef, bias = fit_rows(np.vstack([read_x[id(ex)] for ex, _ in answerable]), y, w, groups)
    reading = Linear(READ_FEATURES, coef.astype(np.float32), bias)

    qrows, qlabels, qweights, scored = [], [], [], []
    for parts, ex, (qtype, cands, rows, _, unknown) in data:
        logits = reading.logits(read_x[id(ex)])
        for i, c in enumerate(cands):
            c.span = readings[id(ex)].spans.get(i)
        order = answer_order(cands, logits, qtype, parts.config.typed_first_ratio)
        qrow = np.r_[parts.featurizer.question_row(ex.query, qtype, cands, rows, logits, unknown),
                     readings[id(ex)].question_row(int(order[0]) if len(order) else None)]
        ex.scored = Scored(ex.query, qtype, unknown, [cands[i] for i in order], rows[order], qrow, 0.0)
        qrows.append(qrow)
        qlabels.append(bool(ex.gold))
        qweights.append(ex.weight)
        scored.append((parts, ex))
    qx, qy, qw = np.vstack(qrows), np.array(qlabels), np.array(qweights)
    if args.dump is not None:
        np.savez(args.dump, qx=qx, qy=qy, qw=qw, y=y, w=w)
    qcoef, qbias = _logistic(qx, qy, qw)
    refusal = Linear(QUESTION_FEATURES + READ_QUESTION_FEATURES, qcoef.astype(np.float32), qbias)
    p_answerable = sigmoid(refusal.logits(qx))
    threshold = float(np.quantile(p_answerable[qy], args.false_refusals))
    # The first sentence's probability ranks right answers above wrong ones better than the
    # question's P(answerable): at 70% coverage, containment 0.936 against 0.926 on Rhine.
    leads = np.array([ex.scored.candidates[0].probability if ex.scored.candidates else 0.0 for _, ex in scored])
    confident = float(np.quantile(leads[qy], args.uncertain))

    best_ratio, table = _choose_ratio(scored, p_answerable, threshold, args)
    selector = Selector(sentence, reading, refusal, threshold, confident, best_ratio, {
        "fitted_on": [args.squad.name] + ([args.dev.name] if args.dev else []),
        "command": " ".join([
            "rag fit --squad FILE", "--dev FILE" if args.dev else "",
            f"--fold-readers ({len(fold_readers)} folders)" if fold_readers else "",
            "" if args.listwise else "--pointwise",
            f"--dev-weight {args.dev_weight} --false-refusals {args.false_refusals} --uncertain {args.uncertain}",
            f"--max-median-words {args.max_median_words} --focus-tolerance {args.focus_tolerance}"]).replace("  ", " "),
        "seed": SEED,
    })
    top1 = [bool(ex.scored.candidates and any(contains(ex.scored.candidates[0].text, g) for g in ex.gold))
            for _, ex in scored if ex.gold]
    summary = {
        "questions": len(data), "sentence_rows": len(y),
        "train_top1_holds_answer": round(float(np.mean(top1)), 4),
        "train_refusal_recall": round(float((p_answerable[~qy] < threshold).mean()), 4),
        "refusal_threshold": round(threshold, 4),
        "confident_threshold": round(confident, 4),
        "second_ratio (containment, median words)": table,
        "chosen_second_ratio": best_ratio,
    }
    return selector, summary


def _choose_ratio(scored: list[tuple[Any, Example]], p_answerable: np.ndarray, threshold: float,
                  args: argparse.Namespace) -> tuple[float, dict[float, Any]]:
    """The most focused second-sentence ratio within ``args.focus_tolerance`` of the best
    containment under the median word bar; the table gives, per ratio, containment, median
    words, second sentences added and the share of them holding a gold answer."""
    from rag.answer.extractive import select_sentences

    table: dict[float, Any] = {}
    allowed: dict[float, float] = {}
    for ratio in _RATIOS:
        hits, n, lengths, seconds, second_hits = 0, 0, [], 0, 0
        for (parts, ex), p in zip(scored, p_answerable, strict=True):
            if not ex.gold or not ex.scored.candidates:
                continue
            n += 1
            if p < threshold:
                continue
            chosen = select_sentences(ex.scored, ratio, parts.config)
            text = " ".join(c.text for c in chosen)
            hits += any(contains(text, g) for g in ex.gold)
            lengths.append(len(text.split()))
            seconds += len(chosen) - 1
            second_hits += sum(any(contains(c.text, g) for g in ex.gold) for c in chosen[1:])
        median = statistics.median(lengths) if lengths else 0
        table[ratio] = (round(hits / max(n, 1), 4), median, seconds, round(second_hits / max(seconds, 1), 3))
        if median <= args.max_median_words:
            allowed[ratio] = hits / max(n, 1)
    return focused_ratio(allowed, args.focus_tolerance), table


def focused_ratio(containment: dict[float, float], tolerance: float) -> float:
    """The highest ratio whose containment is within ``tolerance`` of the best one's
    (``containment`` holds the ratios under the word bar); no second sentences when none is."""
    if not containment:
        return _RATIOS[-1]
    best = max(containment.values())
    return max(r for r, c in containment.items() if c >= best - tolerance - 1e-12)
