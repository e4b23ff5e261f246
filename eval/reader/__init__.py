"""Training the reader (``rag train-reader``): windows from SQuAD-format files (data.py), the
training loop (train.py) and the int8 ONNX export with its record and model card (export.py)."""
