"""SentencePiece vocabularies: training, encode/decode, the space piece, checkpoints (inside,
loaded without code), greedy and lexicon decoding, training with data.tokenizer, the CLI."""
from __future__ import annotations

import json

import pytest
import torch

pytest.importorskip("sentencepiece")

from asr.cli import main  # noqa: E402
from asr.config import DecodeConfig, FeatureConfig, ModelConfig  # noqa: E402
from asr.decoding import make_decoder  # noqa: E402
from asr.model import AcousticModel  # noqa: E402
from asr.text import SentencePieceVocabulary, Vocabulary, make_vocabulary, train_sentencepiece, vocabulary_from_dict  # noqa: E402

TEXTS = ["the cat sat on the mat", "a dog sat on a log", "the cat and the dog", "seven eight nine",
         "hello there general", "enter pittsburgh", "rubout seven"] * 5


@pytest.fixture(scope="module")
def tok(tmp_path_factory):
    return train_sentencepiece(TEXTS, tmp_path_factory.mktemp("tok") / "tok.model", vocab_size=40, model_type="unigram")


def peaky(vocab, ids: list[int]):
    """Log-probs with one frame per token and a blank between tokens."""
    frames = []
    for i in ids:
        frames += [i, vocab.blank]
    lp = torch.full((len(frames), len(vocab)), -12.0)
    lp[torch.arange(len(frames)), torch.tensor(frames)] = -0.01
    return lp.log_softmax(-1)


def test_roundtrip_and_space_piece(tok):
    v = SentencePieceVocabulary.load(tok)
    for t in ["the cat sat on the mat", "seven pittsburgh", "zebra"]:  # unseen letters: <unk>, dropped
        ids = v.encode(t)
        assert all(0 < i < len(v) for i in ids)
        assert v.decode(ids) == t or ("z" in t and v.decode(ids).replace(" ", "") in t)
    ids = v.encode("the cat")
    assert v.space in ids and v.token(v.space) == " " and v.token(0) == "<blank>"
    assert any(len(v.token(i)) > 1 for i in v.encode(" ".join(TEXTS)))  # real multi-letter pieces


@pytest.mark.parametrize("kind", ["unigram", "bpe"])
def test_both_model_types_train(tmp_path, kind):
    v = SentencePieceVocabulary.load(train_sentencepiece(TEXTS, tmp_path / "t.model", 30, kind))
    assert v.decode(v.encode("the dog sat")) == "the dog sat"


def test_dict_roundtrip_and_checkpoint(tok, tmp_path):
    v = make_vocabulary(tok)
    assert vocabulary_from_dict(v.to_dict()) == v
    assert make_vocabulary(None) == Vocabulary()
    m = AcousticModel(FeatureConfig(), ModelConfig(hidden=8, layers=1), v)
    m.save(tmp_path / "m.pt")
    (tok).unlink()  # the checkpoint carries the tokenizer: the file is no longer needed
    m2 = AcousticModel.load(tmp_path / "m.pt")
    assert m2.vocab == v and m2.output.out_features == len(v)


def test_greedy_and_lexicon_decoding_group_words_at_the_space_piece(tmp_path):
    v = SentencePieceVocabulary.load(train_sentencepiece(TEXTS, tmp_path / "t.model", 40))
    lp = peaky(v, v.encode("the cat sat"))
    g = make_decoder(v, DecodeConfig(), 0.04).decode(lp)[0]
    assert g.text == "the cat sat" and [w.text for w in g.words] == ["the", "cat", "sat"]
    (tmp_path / "lex.txt").write_text("the\ncat\nsat\nmat\n")
    b = make_decoder(v, DecodeConfig(decoder="beam", lexicon=str(tmp_path / "lex.txt")), 0.04).decode(lp)[0]
    assert b.text == "the cat sat" and b.words[1].start == pytest.approx(g.words[1].start)


def test_missing_or_foreign_tokenizer(tmp_path):
    with pytest.raises(FileNotFoundError, match="tokenizer model not found"):
        make_vocabulary(tmp_path / "nope.model")


def test_cli_trains_a_tokenizer(tmp_path, capsys):
    m = tmp_path / "train.jsonl"
    m.write_text("".join(json.dumps({"audio": "x.wav", "text": t}) + "\n" for t in TEXTS))
    assert main(["tokenizer", "train", "--manifest", str(m), "--vocab-size", "30", "-o", str(tmp_path / "t.model")]) == 0
    assert "data.tokenizer=" in capsys.readouterr().out
    assert SentencePieceVocabulary.load(tmp_path / "t.model").decode(SentencePieceVocabulary.load(tmp_path / "t.model").encode("the cat")) == "the cat"


def test_training_with_a_tokenizer_saves_it_in_the_checkpoint(synth_corpus, tmp_path):
    from asr.config import load_config
    from asr.data.manifest import read_manifest, write_manifest
    from asr.lm import read_sentences
    from asr.train.loop import Trainer
    from asr.transcribe import load_model

    texts = [" ".join(w) for w in read_sentences([synth_corpus["train"]])]
    tok = train_sentencepiece(texts, tmp_path / "tok.model", 60)
    train = tmp_path / "train.jsonl"  # a small slice: this checks plumbing, not learning
    write_manifest(train, read_manifest(synth_corpus["train"])[:24])
    cfg = load_config(None, [f"data.train=[{train}]", f"data.dev={synth_corpus['dev']}", f"data.tokenizer={tok}",
                             f"train.out_dir={tmp_path / 'run'}", "train.epochs=1", "train.batch_size=8",
                             "model.hidden=16", "model.layers=1", "train.threads=1"])
    Trainer(cfg).fit()
    rec = load_model(tmp_path / "run" / "best.pt")
    assert rec.model.vocab == SentencePieceVocabulary.load(tok)
    assert isinstance(rec.transcribe(torch.zeros(16000).numpy(), sample_rate=16000).text, str)
