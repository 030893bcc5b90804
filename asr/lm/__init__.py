"""N-gram language models: estimation (modified Kneser-Ney) and ARPA output."""
from .ngram import NGramModel, char_sentences, estimate, read_sentences, spelled_sentences, write_arpa

__all__ = ["NGramModel", "char_sentences", "estimate", "read_sentences", "spelled_sentences", "write_arpa"]
