"""A tiny, randomly initialised causal LM for tests, built in seconds with no download.

The tokenizer is a byte-level BPE trained on the corpus text with the ``tokenizers``
library; the model is a two-layer Llama (or GPT-2) of hidden size 64. Its output is
gibberish: tests that use it assert on mechanics, never on wording.

    python tests/tiny_lm.py /tmp/tiny-lm      # save one for trying `rag ask --answerer transformers`
"""

from __future__ import annotations

import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

CORPUS = Path(__file__).resolve().parent.parent / "corpus"
EOS = "<|endoftext|>"
# A ChatML-style template; the tokenizer without it exercises the plain prompt.
CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


@lru_cache(maxsize=2)
def train_tokenizer(corpus_dir: Path = CORPUS, vocab_size: int = 600) -> Any:
    """A byte-level BPE tokenizer trained on the corpus files, as a PreTrainedTokenizerFast
    (cached: copy it before changing it)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    texts = [p.read_text(encoding="utf-8", errors="replace") for p in sorted(corpus_dir.rglob("*")) if p.is_file()]
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[EOS, "<|im_start|>", "<|im_end|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tokenizer.train_from_iterator(texts, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token=EOS, pad_token=EOS, bos_token=EOS)


def build_tiny_lm(out_dir: Path, tokenizer: Any = None, *, chat_template: bool = True, context: int = 4096,
                  arch: str = "llama", seed: int = 0) -> Path:
    """Save a two-layer causal LM and its tokenizer to ``out_dir``; returns ``out_dir``.

    ``context`` is the model's max_position_embeddings; ``arch`` is "llama" or "gpt2".
    """
    import copy

    import torch
    from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

    tokenizer = copy.deepcopy(tokenizer or train_tokenizer())
    tokenizer.chat_template = CHAT_TEMPLATE if chat_template else None
    ids = {"bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id,
           "pad_token_id": tokenizer.pad_token_id}
    torch.manual_seed(seed)
    if arch == "llama":
        model = LlamaForCausalLM(LlamaConfig(
            vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
            num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=context, **ids))
    elif arch == "gpt2":
        model = GPT2LMHeadModel(GPT2Config(vocab_size=len(tokenizer), n_embd=64, n_layer=2, n_head=4,
                                           n_positions=context, **ids))
    else:
        raise ValueError(f"arch must be 'llama' or 'gpt2', got {arch!r}")
    out_dir = Path(out_dir)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/tiny-lm")
    print(f"saved a tiny causal LM to {build_tiny_lm(target)}")
