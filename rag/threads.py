"""Thread counts of the question path: set once per process, not per question."""

from __future__ import annotations

_pinned: int | None = None


def pin_query_threads(threads: int) -> None:
    """Run FAISS searches and numpy's BLAS on ``threads`` threads. A question multiplies one
    vector by a few thousand: more threads only add wake-ups, and under load from other work
    they oversubscribe the cores (a thirty-fold slowdown measured with two threads on two busy
    cores). torch is not touched: document embedding in the same process keeps every core."""
    global _pinned
    if _pinned == threads:
        return
    import faiss
    from threadpoolctl import threadpool_limits

    faiss.omp_set_num_threads(threads)
    threadpool_limits(limits=threads, user_api="blas")
    _pinned = threads
