"""Tokens, attention and the text models, as numbers.

:mod:`.data` (corpus, tokenizer), :mod:`.models` (the chapter's small models), :mod:`.attention`.
``helpers.text`` keeps the API of the former flat ``helpers/text.py`` (:mod:`.attention`).
"""

from .attention import (SPECIAL_TOKENS, attention_from_bert, attention_from_tiny_transformer,
                        evaluate_shipped, load_bert, strip_special, word_attention)

__all__ = ["SPECIAL_TOKENS", "attention_from_bert", "attention_from_tiny_transformer",
           "evaluate_shipped", "load_bert", "strip_special", "word_attention"]
