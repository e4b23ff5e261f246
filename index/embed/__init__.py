"""Turning text into vectors: the sentence-transformers model, its ONNX export, Ray."""
