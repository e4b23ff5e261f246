"""Finding the passages: hybrid dense + BM25 retrieval, follow-ups, question splitting, aliases."""
