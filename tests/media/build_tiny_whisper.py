"""Builds the tiny random Whisper model the fast ASR tests load (run by hand once; tests never run it).

The model has Whisper's real 51,865-token vocabulary and tokenizer (copied from the pinned bundled model, MIT)
but one encoder and one decoder layer of width 32 with random weights, so faster-whisper's whole loading and
transcription path runs in well under a second. It needs torch and transformers, which Chorus does not:

    python3 -m venv /tmp/buildenv
    /tmp/buildenv/bin/pip install torch==2.13.0 transformers ctranslate2==4.8.5
    /tmp/buildenv/bin/python tests/media/build_tiny_whisper.py BUNDLED_MODEL_DIR tests/media/data/tiny-whisper

BUNDLED_MODEL_DIR is the assembled bundled model (`python -c "from media.models import bundled_model_dir; print(bundled_model_dir())"`).
"""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import torch
from ctranslate2.converters.transformers import WhisperLoader
from transformers import WhisperConfig, WhisperForConditionalGeneration


def build(real: Path, out: Path) -> None:
    real_config = json.loads((real / "config.json").read_text())
    torch.manual_seed(20261122)
    config = WhisperConfig(
        vocab_size=51865, num_mel_bins=80, d_model=32, encoder_layers=1, decoder_layers=1,
        encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64,
        max_source_positions=1500, max_target_positions=448,
    )
    model = WhisperForConditionalGeneration(config).eval()
    loader = WhisperLoader()
    spec = loader.get_model_spec(model)
    # The real model's config (language ids, suppressed tokens) and vocabulary: the vocabulary holds the
    # empty-string token, which CTranslate2 4.8 needs to treat the model as multilingual.
    for key in ("suppress_ids", "suppress_ids_begin", "lang_ids"):
        setattr(spec.config, key, real_config[key])
    spec.config.alignment_heads = [[0, 0], [0, 1]]
    tokens = (real / "vocabulary.txt").read_text(encoding="utf-8").split("\n")
    if tokens and tokens[-1] == "" and len(tokens) > 51865:
        tokens = tokens[:-1]
    spec.register_vocabulary(tokens)
    spec.validate()
    spec.optimize(quantization="int8")
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    spec.save(str(out))
    shutil.copy(real / "tokenizer.json", out / "tokenizer.json")
    # A 30 s window's mel settings, as faster-whisper reads them.
    (out / "preprocessor_config.json").write_text(json.dumps({"feature_size": 80, "hop_length": 160, "chunk_length": 30,
                                                               "n_fft": 400, "sampling_rate": 16000}))
    print("built", out, sum(p.stat().st_size for p in out.iterdir()), "bytes")


if __name__ == "__main__":
    build(Path(sys.argv[1]), Path(sys.argv[2]))
