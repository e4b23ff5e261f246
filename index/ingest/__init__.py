"""Reading a corpus: load files, clean them, split sentences, cut passages."""
