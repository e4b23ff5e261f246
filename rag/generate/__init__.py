"""Writing the answer with a local causal language model."""
