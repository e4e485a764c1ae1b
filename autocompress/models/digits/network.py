"""A small residual CNN on scikit-learn's handwritten digits: the second shipped model.

The data set (1,797 grayscale 8 x 8 images of the digits 0-9, shipped inside scikit-learn) is
split once by a seeded permutation: 1,297 images train, the last 500 are held out to score
compressed models. Images are scaled to [-1, 1] and upsampled to 32 x 32, so that the
convolutions carry the latency a compression can remove. The network is two residual stages
(16 then 32 channels, two pre-activation-free basic blocks each), global average pooling and
one Linear layer; it trains to about 2 % top-1 error in seconds on one CPU thread
(:func:`train_digits`). Its prune groups follow the residual widths, like RepNet's stages.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from autocompress.compression.finetune.distillation import OutputDistillation
from autocompress.compression.layers import output_layer
from autocompress.compression.structure import ModelStructure, register_structure

__all__ = [
    "DigitsConfig",
    "DigitsNet",
    "digits_split",
    "error_rate",
    "train_digits",
]

IMAGE_SIZE = 32
HELD_OUT = 500
SPLIT_SEED = 0


@dataclass(frozen=True)
class DigitsConfig:
    widths: tuple[int, ...] = (16, 32)
    depths: tuple[int, ...] = (2, 2)
    classes: int = 10

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (1, IMAGE_SIZE, IMAGE_SIZE)


class BasicBlock(nn.Module):
    """conv-bn-relu-conv-bn plus the input (projected when the width or stride changes)."""

    def __init__(self, in_channels: int, channels: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.shortcut = (
            nn.Sequential(
                nn.Conv2d(in_channels, channels, 1, stride, bias=False), nn.BatchNorm2d(channels)
            )
            if stride != 1 or in_channels != channels
            else nn.Identity()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class DigitsNet(nn.Module):
    def __init__(self, config: DigitsConfig = DigitsConfig()):
        super().__init__()
        self.config = config
        self.stem = nn.Sequential(
            nn.Conv2d(1, config.widths[0], 3, 1, 1, bias=False),
            nn.BatchNorm2d(config.widths[0]),
            nn.ReLU(),
        )
        stages, width = [], config.widths[0]
        for index, (channels, depth) in enumerate(zip(config.widths, config.depths, strict=True)):
            blocks = [BasicBlock(width, channels, 1 if index == 0 else 2)]
            blocks += [BasicBlock(channels, channels) for _ in range(depth - 1)]
            stages.append(nn.Sequential(*blocks))
            width = channels
        self.stages = nn.Sequential(*stages)
        self.classifier = nn.Linear(width, config.classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        features = self.stages(self.stem(images))
        return self.classifier(features.mean(dim=(2, 3)))


def _digits_groups(model: DigitsNet) -> dict[str, list[str]]:
    """Each stage's residual width (its blocks' second convs, shortcuts and, for the first
    stage, the stem), and each block's inner width (its first conv)."""
    groups: dict[str, list[str]] = {}
    for index, stage in enumerate(model.stages):
        members = ["stem.0"] if index == 0 else []
        for block_index, block in enumerate(stage):
            if not isinstance(block, BasicBlock):  # dropped by depth pruning
                continue
            name = f"stages.{index}.{block_index}"
            groups[f"{name}.inner"] = [f"{name}.conv1"]
            members.append(f"{name}.conv2")
            if isinstance(block.shortcut, nn.Sequential):
                members.append(f"{name}.shortcut.0")
        groups[f"stages.{index}"] = members
    return {group: [output_layer(model, n) for n in names] for group, names in groups.items()}


def _removable_blocks(model: DigitsNet) -> list[str]:
    """Blocks whose shortcut is the identity: dropping one leaves every shape as it was."""
    return [
        f"stages.{index}.{block_index}"
        for index, stage in enumerate(model.stages)
        for block_index, block in enumerate(stage)
        if isinstance(block, BasicBlock) and isinstance(block.shortcut, nn.Identity)
    ]


def _training_images() -> torch.Tensor:
    return digits_split(held_out=False)[0]


register_structure(
    DigitsNet,
    ModelStructure(
        prune_groups=_digits_groups,
        distillation=OutputDistillation(_training_images, kind="kl"),
        removable_blocks=_removable_blocks,
        input_shape=lambda model: model.config.input_shape,
    ),
)


@cache
def _images_and_labels() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits  # ships the data: nothing is downloaded

    images, labels = load_digits(return_X_y=True)
    return images.reshape(-1, 1, 8, 8).astype(np.float32), labels.astype(np.int64)


def split_indices(held_out: bool) -> np.ndarray:
    """Which images (indices into scikit-learn's digits) the training or held-out split holds."""
    order = np.random.default_rng(SPLIT_SEED).permutation(len(_images_and_labels()[1]))
    return order[-HELD_OUT:] if held_out else order[:-HELD_OUT]


def digits_split(held_out: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """(images N x 1 x 32 x 32 in [-1, 1], labels N) of the training or the held-out split."""
    images, labels = _images_and_labels()
    picked = split_indices(held_out)
    scaled = torch.from_numpy(images[picked]) / 8.0 - 1.0  # pixel values are 0..16
    upsampled = F.interpolate(scaled, size=IMAGE_SIZE, mode="bilinear", align_corners=False)
    return upsampled.contiguous(), torch.from_numpy(labels[picked])


@torch.no_grad()
def predictions(model: nn.Module, images: torch.Tensor, batch_size: int = 250) -> torch.Tensor:
    return torch.cat([model(batch).argmax(-1) for batch in images.split(batch_size)])


def error_rate(model: nn.Module) -> float:
    """Top-1 error on the held-out split."""
    images, labels = digits_split(held_out=True)
    return (predictions(model.eval(), images) != labels).double().mean().item()


def train_digits(epochs: int = 12, seed: int = 0, batch_size: int = 64) -> DigitsNet:
    """A DigitsNet trained on the training split: AdamW with a cosine schedule and small
    random shifts, on one thread, so the result is the same on every run of one machine."""
    images, labels = digits_split(held_out=False)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            model = DigitsNet()
            steps = epochs * (len(labels) // batch_size)
            optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
            schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, 3e-3, total_steps=steps)
            model.train()
            for _ in range(epochs):
                order = torch.randperm(len(labels))
                for start in range(0, len(order) - batch_size + 1, batch_size):
                    batch = order[start : start + batch_size]
                    shifted = _random_shift(images[batch])
                    loss = F.cross_entropy(model(shifted), labels[batch])
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
                    schedule.step()
    finally:
        torch.set_num_threads(threads)
    return model.eval()


def _random_shift(images: torch.Tensor, pixels: int = 2) -> torch.Tensor:
    """Each image moved by up to ``pixels`` in each direction (background filled in)."""
    padded = F.pad(images, (pixels,) * 4, value=-1.0)
    dx, dy = torch.randint(0, 2 * pixels + 1, (2,)).tolist()
    return padded[..., dy : dy + IMAGE_SIZE, dx : dx + IMAGE_SIZE]


def main(out: Path) -> None:
    """Train and write the shipped weights: ``python -m autocompress.models.digits.network OUT``."""
    model = train_digits()
    torch.save({"state_dict": model.state_dict()}, out)
    print(f"top-1 error {error_rate(model):.3f} on the held-out split; weights written to {out}")


if __name__ == "__main__":
    import sys

    main(Path(sys.argv[1]))
