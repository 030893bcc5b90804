"""asr: a streaming BiLSTM-CTC speech recognizer."""
from .transcribe import Recognizer, Transcript, load_model

__version__ = "0.1.0"
__all__ = ["load_model", "Recognizer", "Transcript", "__version__"]
