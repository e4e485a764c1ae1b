"""A model zoo nobody here wrote, at tiny sizes: Hugging Face transformers built from configs
(random weights, no download) and two small modules of kinds the search must take (a
recurrent net, data-dependent control flow). Shared by tests/test_zoo.py and
benchmarks/model_zoo.py.

Each entry builds ``(model, inputs)``: the model in eval mode and a batch of inputs (a tuple of
positional tensors, batch first): every other row is the search's example and evaluation data,
the rows between are held out (:func:`split_rows`). The pretrained models of
tests/zoo_pretrained.py join them in ``MODELS``.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from optuna.trial import TrialState
from torch import nn

import autocompress
from autocompress.compression import Pipeline
from autocompress.errors import typed_first_line
from autocompress.inputs import Inputs, output_tensors
from autocompress.study.context import build_context, compress
from autocompress.study.record import TrialRecord
from tests.zoo_pretrained import PRETRAINED

SAMPLES = 16  # rows per model the search selects on, and as many held out (split_rows)
ROWS = 2 * SAMPLES
Built = tuple[nn.Module, Inputs]


def _seeded() -> torch.Generator:
    torch.manual_seed(0)  # the random weights
    return torch.Generator().manual_seed(1)  # the inputs


def bert() -> Built:
    """A BERT-style encoder: token ids and an attention mask, two inputs."""
    from transformers import BertConfig, BertModel

    generator = _seeded()
    config = BertConfig(
        vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=32,
    )  # fmt: skip
    ids = torch.randint(0, 100, (ROWS, 12), generator=generator)
    mask = torch.ones_like(ids)
    mask[:, 9:] = torch.randint(0, 2, (ROWS, 3), generator=generator)
    return BertModel(config, add_pooling_layer=False).eval(), (ids, mask)


def vit() -> Built:
    from transformers import ViTConfig, ViTModel

    generator = _seeded()
    config = ViTConfig(
        image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64,
    )  # fmt: skip
    images = torch.randn(ROWS, 3, 32, 32, generator=generator)
    return ViTModel(config, add_pooling_layer=False).eval(), (images,)


def resnet() -> Built:
    from transformers import ResNetConfig, ResNetModel

    generator = _seeded()
    config = ResNetConfig(embedding_size=16, hidden_sizes=[16, 32], depths=[1, 1])
    images = torch.randn(ROWS, 3, 32, 32, generator=generator)
    return ResNetModel(config).eval(), (images,)


def whisper_encoder() -> Built:
    """Whisper's audio encoder: log-mel features in, one state per frame out."""
    from transformers import WhisperConfig
    from transformers.models.whisper.modeling_whisper import WhisperEncoder

    generator = _seeded()
    config = WhisperConfig(
        num_mel_bins=16, d_model=32, encoder_layers=2, encoder_attention_heads=2,
        encoder_ffn_dim=64, max_source_positions=16, vocab_size=100, pad_token_id=0,
        bos_token_id=1, eos_token_id=2, decoder_start_token_id=1,
    )  # fmt: skip
    features = torch.randn(ROWS, 16, 32, generator=generator)  # 2 x max_source_positions
    return WhisperEncoder(config).eval(), (features,)


class Recurrent(nn.Module):
    """A GRU over token embeddings, classified from its last state."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(50, 32)
        self.gru = nn.GRU(32, 32, num_layers=2, batch_first=True)
        self.head = nn.Linear(32, 8)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        states, _ = self.gru(self.embed(ids))
        return self.head(states[:, -1])


def recurrent() -> Built:
    generator = _seeded()
    return Recurrent().eval(), (torch.randint(0, 50, (ROWS, 10), generator=generator),)


class Branching(nn.Module):
    """Data-dependent control flow: a second block runs only while the features are large
    (a Python ``if`` on a tensor's value, so FX and torch.export cannot trace it as is)."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU())
        self.extra = nn.Sequential(nn.Conv2d(16, 16, 3, padding=1), nn.ReLU())
        self.head = nn.Linear(16, 8)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        features = self.stem(images)
        if features.mean() > 0.1:
            features = features + self.extra(features)
        return self.head(features.mean((2, 3)))


def branching() -> Built:
    generator = _seeded()
    return Branching().eval(), (torch.randn(ROWS, 3, 16, 16, generator=generator),)


ZOO: dict[str, Callable[[], Built]] = {
    "bert": bert,
    "vit": vit,
    "resnet": resnet,
    "whisper-encoder": whisper_encoder,
    "gru": recurrent,
    "branching": branching,
}
MODELS: dict[str, Callable[[], Built]] = {**ZOO, **PRETRAINED}


def predictions(outputs: Any) -> torch.Tensor:
    """One label per sample from any output (a tensor, a tuple, a Hugging Face ModelOutput):
    the argmax of the first output's first position (a sequence's first token) or of its
    flattened features."""
    first = output_tensors(outputs)[0]
    if first.dim() == 3:
        first = first[:, 0]
    return first.flatten(1).argmax(1)


def disagreement_of(model: nn.Module, inputs: Inputs) -> Callable[[nn.Module], float]:
    """The task: the fraction of samples on which a model's prediction differs from the
    uncompressed ``model``'s."""
    with torch.no_grad():
        reference = predictions(model(*inputs))

    def disagreement(compressed: nn.Module) -> float:
        with torch.no_grad():
            return float((predictions(compressed(*inputs)) != reference).float().mean())

    return disagreement


# A short study: random pipelines from the first trial, a quick latency protocol.
QUICK_SETTINGS = {
    "sampler": "random",
    "warm_start": False,
    "latency": {"warmup": 1, "runs": 3},
    "recovery": {"rungs": [], "bn_batches": 0},  # scored raw: the zoo tests reach, not recovery
}


@dataclass(frozen=True)
class ZooRun:
    """One model's search: how many trials ran valid, and why the others failed."""

    name: str
    result: Any  # autocompress.api.SearchResult; None: the study failed before its trials
    inputs: Inputs
    valid: int
    total: int
    failures: Counter  # first line of each failure reason -> trials

    def __str__(self) -> str:
        lines = [f"{self.name}: {self.valid}/{self.total} valid trials"]
        if self.result is None:
            lines[0] += " (the study failed before its first trial)"
        lines += [f"  {count} x {reason}" for reason, count in self.failures.most_common()]
        return "\n".join(lines)


def split_rows(inputs: Inputs) -> tuple[Inputs, Inputs]:
    """Every other row to select on, the rows between held out: the same kind of items (the
    pitch models' tones interleave in pitch), none of them seen by the search."""
    return tuple(t[0::2] for t in inputs), tuple(t[1::2] for t in inputs)


def search_zoo_model(name: str, trials: int, run_dir: Path, **settings: Any) -> ZooRun:
    """Search model ``name`` of the zoo (``MODELS``) for ``trials`` trials (QUICK_SETTINGS,
    then ``settings``) on its selection rows, the held-out rows its test set; a study that
    fails as a whole is reported as a run of no valid trial."""
    model, rows = MODELS[name]()
    inputs, held_out = split_rows(rows)
    try:
        result = autocompress.search(
            model,
            inputs,
            evaluate=disagreement_of(model, inputs),
            test_evaluate=disagreement_of(model, held_out),
            objectives=["disagreement"],
            trials=trials,
            run_dir=run_dir,
            name=name,
            settings={**QUICK_SETTINGS, **settings},
            progress=False,
        )
    except Exception as error:
        reason = typed_first_line(error)[:160]
        return ZooRun(name, None, inputs, 0, trials, Counter({reason: trials}))
    done = [t for t in result.study.trials if not TrialRecord.of(t).surplus]
    failed = [t for t in done if t.state != TrialState.COMPLETE]
    reasons = Counter((TrialRecord.of(t).fail_reason or t.state.name)[:160] for t in failed)
    return ZooRun(name, result, inputs, len(done) - len(failed), len(done), reasons)


# Run in a fresh process: load the exported file with autocompress alone, run the saved inputs.
_LOAD_AND_RUN = """
import sys, torch
import autocompress
from autocompress.inputs import output_tensors
inputs = torch.load(sys.argv[2])
artifact = autocompress.load_artifact(sys.argv[1])
with torch.no_grad():
    outputs = artifact(*inputs)
leaves = output_tensors(outputs)
torch.save([leaf.detach() for leaf in leaves], sys.argv[3])
"""


def outputs_in_fresh_process(artifact: Path, inputs: Inputs, work: Path) -> list[torch.Tensor]:
    """The tensors ``artifact`` outputs on ``inputs``, loaded and run by a new Python."""
    torch.save(inputs, work / "inputs.pt")
    subprocess.run(
        [sys.executable, "-c", _LOAD_AND_RUN, str(artifact), str(work / "inputs.pt"),
         str(work / "outputs.pt")],
        check=True, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    return torch.load(work / "outputs.pt")


def trial_outputs(result: Any, number: int, inputs: Inputs) -> list[torch.Tensor]:
    """What trial ``number``'s compressed model outputs on ``inputs``, rebuilt from its stored
    pipeline as the study compressed it."""
    context = build_context(result.config, result.run_dir, result.study, result.adapter)
    pipeline = Pipeline.from_dict(TrialRecord.of(result.study.trials[number]).pipeline)
    model, _ = compress(context.model, pipeline, context.calibration)
    with torch.no_grad():
        return output_tensors(model(*inputs))
