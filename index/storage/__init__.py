"""Where an index lives: the SQLite database, its FAISS and BM25 snapshots, Milvus."""
