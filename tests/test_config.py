"""Configuration: YAML files and section.key=value overrides fill the dataclasses; bad keys fail by name."""
from __future__ import annotations

import pytest
import yaml

from asr.config import Config, DecodeConfig, FeatureConfig, ModelConfig, load_config, save_config


def write(tmp_path, text: str):
    path = tmp_path / "cfg.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_load_config_from_yaml(tmp_path):
    path = write(tmp_path, """
features: {kind: mfcc, deltas: true, n_mels: 40}
model:
  hidden: 64
  bidirectional: false
train: {epochs: 3, out_dir: exp/x}
optim: {lr: 1.0e-3, betas: [0.8, 0.9]}
""")
    cfg = load_config(path)
    assert cfg.features == FeatureConfig(kind="mfcc", deltas=True, n_mels=40)
    assert cfg.features.dim == 39
    assert cfg.model.hidden == 64 and cfg.model.bidirectional is False and cfg.model.layers == ModelConfig().layers
    assert cfg.train.epochs == 3 and cfg.train.out_dir == "exp/x"
    assert cfg.optim.lr == 1e-3 and cfg.optim.betas == (0.8, 0.9)
    assert cfg.data == Config().data and cfg.augment == Config().augment  # sections left out keep defaults


def test_no_file_and_empty_file_give_defaults(tmp_path):
    assert load_config() == Config()
    assert load_config(write(tmp_path, "")) == Config()
    assert load_config(write(tmp_path, "model: {}\n")) == Config()


def test_yaml_that_is_not_a_mapping_raises(tmp_path):
    path = write(tmp_path, "- a\n- b\n")
    with pytest.raises(ValueError, match="mapping"):
        load_config(path)


@pytest.mark.parametrize("override,section,key,value", [
    ("model.hidden=128", "model", "hidden", 128),
    ("optim.lr=0.0005", "optim", "lr", 0.0005),
    ("optim.lr=1e-3", "optim", "lr", 1e-3),  # YAML 1.1 reads this as a string; floats fields take it
    ("features.f_max=7600", "features", "f_max", 7600),
    ("features.f_max=null", "features", "f_max", None),
    ("model.bidirectional=false", "model", "bidirectional", False),
    ("data.cache_features=true", "data", "cache_features", True),
    ("data.train=[a.jsonl, b.jsonl]", "data", "train", ["a.jsonl", "b.jsonl"]),
    ("optim.betas=[0.9, 0.99]", "optim", "betas", (0.9, 0.99)),
    ("train.out_dir=exp/run 2", "train", "out_dir", "exp/run 2"),
    ("data.dev=dev.jsonl", "data", "dev", "dev.jsonl"),
])
def test_overrides_are_parsed_as_yaml(override, section, key, value):
    got = getattr(getattr(load_config(overrides=[override]), section), key)
    assert got == value and type(got) is type(value)


def test_overrides_apply_on_top_of_the_file_in_order(tmp_path):
    path = write(tmp_path, "model: {hidden: 64, layers: 2}\n")
    cfg = load_config(path, ["model.hidden=32", "train.epochs=7", "model.hidden=16"])
    assert (cfg.model.hidden, cfg.model.layers, cfg.train.epochs) == (16, 2, 7)


def test_float_field_rejects_non_numbers():
    with pytest.raises(ValueError, match="lr"):
        load_config(overrides=["optim.lr=fast"])


@pytest.mark.parametrize("text,name", [
    ("modle: {hidden: 3}\n", "modle"),
    ("model: {hiden: 3}\n", "hiden"),
    ("features: {n_mel: 40}\n", "n_mel"),
])
def test_unknown_names_in_file_raise(tmp_path, text, name):
    with pytest.raises(ValueError, match=name):
        load_config(write(tmp_path, text))


@pytest.mark.parametrize("override,name", [
    ("model.hiden=3", "hiden"),
    ("modle.hidden=3", "modle.hidden"),
    ("hidden=3", "hidden"),
    ("model.hidden", "model.hidden"),
    ("model.lstm.hidden=3", "model.lstm.hidden"),
])
def test_bad_overrides_raise(override, name):
    with pytest.raises(ValueError, match=name):
        load_config(overrides=[override])


def test_save_load_round_trip(tmp_path):
    cfg = load_config(overrides=["features.kind=mfcc", "features.deltas=true", "features.f_max=7000.5",
                                 "model.stride=2", "model.proj_size=64", "optim.betas=[0.85, 0.95]",
                                 "data.train=[x.jsonl]", "augment.speed_factors=[1.0]", "train.seed=42"])
    path = tmp_path / "saved.yaml"
    save_config(cfg, path)
    assert load_config(path) == cfg
    raw = yaml.safe_load(path.read_text())  # plain YAML: no Python tags
    assert set(raw) == {"features", "model", "data", "augment", "optim", "train"}
    assert raw["optim"]["betas"] == [0.85, 0.95]
    save_config(Config(), path)
    assert load_config(path) == Config()


@pytest.mark.parametrize("kwargs,match", [
    ({"kind": "fbank"}, "fbank"),
    ({"win_length": 512, "n_fft": 400}, "512"),
    ({"hop_length": 0}, "hop_length"),
])
def test_feature_config_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        FeatureConfig(**kwargs)


def test_feature_config_dims():
    assert FeatureConfig().dim == 80
    assert FeatureConfig(kind="mfcc").dim == 13
    assert FeatureConfig(kind="mfcc", n_mfcc=20, deltas=True).dim == 60
    assert FeatureConfig(deltas=True).dim == 80  # deltas apply to MFCC only
    assert FeatureConfig().frame_shift == pytest.approx(0.01)
    assert FeatureConfig(sample_rate=8000, n_fft=256, win_length=200, hop_length=80).frame_shift == pytest.approx(0.01)


@pytest.mark.parametrize("kwargs,match", [
    ({"stack": 2, "stride": 3}, "stride=3"),
    ({"stride": 0}, "stride=0"),
    ({"layers": 0}, "layers"),
    ({"hidden": 0}, "hidden"),
])
def test_model_config_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ModelConfig(**kwargs)


def test_invalid_values_in_file_raise(tmp_path):
    with pytest.raises(ValueError, match="stride"):
        load_config(write(tmp_path, "model: {stack: 1, stride: 2}\n"))


def test_decode_config_checks_the_confidence_gate():
    assert DecodeConfig().min_confidence == 0.0  # off unless asked for
    assert DecodeConfig(min_confidence=0.6).min_confidence == 0.6
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError, match="min_confidence"):
            DecodeConfig(min_confidence=bad)
