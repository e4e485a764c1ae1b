"""RepNet (Dwibedi et al., CVPR 2020): a frame encoder, a temporal self-similarity matrix and two
transformer heads that predict per-frame period length and periodicity.

One class covers the full model and its scaled-down variants; a :class:`RepNetConfig` says which.
(Over 300 lines on purpose: the paper's architecture reads as one piece, each block beside the
next, as in the port whose weights it loads.)
Module names follow the public PyTorch port (timm ResNetV2 naming in the encoder) so that
converted checkpoints map onto this model with a handful of renames (see ``weights.py``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "PRESETS",
    "RepNet",
    "RepNetConfig",
    "RepNetOutput",
    "TemporalSelfSimilarity",
    "build_repnet",
]

RepNetOutput = tuple[torch.Tensor, torch.Tensor, torch.Tensor]
"""(period-length logits N x T x P, periodicity logits N x T x 1, frame embeddings N x T x E)."""


@dataclass(frozen=True)
class RepNetConfig:
    """Shape of a RepNet. Defaults are the authors' model (ResNet50-V2 up to conv4_block3)."""

    num_frames: int = 64
    image_size: int = 112
    stem_width: int = 64
    stage_widths: tuple[int, ...] = (256, 512, 1024)
    stage_depths: tuple[int, ...] = (3, 4, 3)
    embedding_dim: int = 512
    tsm_channels: int = 32
    head_dim: int = 512
    num_heads: int = 4
    dropout: float = 0.1
    temperature: float = 13.544
    # Trainability aid for small models trained from scratch: softmax rows of the TSM average
    # 1/num_frames, tiny next to the TSM conv's bias; multiplying by num_frames restores scale.
    # Off in the authors' model so their weights compute their function.
    tsm_scale_by_frames: bool = False
    max_period: int = field(default=0)

    def __post_init__(self) -> None:
        if len(self.stage_widths) != len(self.stage_depths) or not self.stage_widths:
            raise ValueError("stage_widths and stage_depths must be non-empty and of equal length")
        if self.max_period == 0:
            object.__setattr__(self, "max_period", self.num_frames // 2)
        if self.head_dim % self.num_heads:
            raise ValueError(f"head_dim {self.head_dim} is not divisible by {self.num_heads} heads")

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def input_shape(self) -> tuple[int, int, int, int]:
        """Shape of one clip: C x T x H x W."""
        return (3, self.num_frames, self.image_size, self.image_size)


PRESETS: dict[str, RepNetConfig] = {
    "repnet": RepNetConfig(),
    # The embedded default: the same layer types, about 1 M parameters, 64x64 frames.
    "repnet-s": RepNetConfig(
        image_size=64,
        stem_width=16,
        stage_widths=(32, 64, 128),
        stage_depths=(2, 2, 2),
        embedding_dim=96,
        tsm_channels=16,
        head_dim=128,
        num_heads=4,
        tsm_scale_by_frames=True,
    ),
}


def build_repnet(preset: str) -> RepNet:
    """A freshly initialised RepNet of a named preset."""
    if preset not in PRESETS:
        raise KeyError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    return RepNet(PRESETS[preset])


class PreActBottleneck(nn.Module):
    """ResNet-V2 bottleneck: BN-ReLU before each conv, stride on the 3x3 conv (TF placement).

    The shortcut is a 1x1 conv of the pre-activation on the first block of a stage, a strided
    1x1 max-pool of the raw input where the block downsamples, the identity otherwise.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int, project: bool):
        super().__init__()
        mid = out_channels // 4
        self.norm1 = nn.BatchNorm2d(in_channels, eps=1.001e-5)
        self.conv1 = nn.Conv2d(in_channels, mid, 1, bias=False)
        self.norm2 = nn.BatchNorm2d(mid, eps=1.001e-5)
        self.conv2 = nn.Conv2d(mid, mid, 3, stride=stride, padding=1, bias=False)
        self.norm3 = nn.BatchNorm2d(mid, eps=1.001e-5)
        self.conv3 = nn.Conv2d(mid, out_channels, 1)
        self.downsample = Projection(in_channels, out_channels, stride) if project else None
        self.pool = nn.MaxPool2d(1, stride=stride) if stride > 1 and not project else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        preact = F.relu(self.norm1(x))
        if self.downsample is not None:
            shortcut = self.downsample(preact)
        elif self.pool is not None:
            shortcut = self.pool(x)
        else:
            shortcut = x
        out = self.conv1(preact)
        out = self.conv2(F.relu(self.norm2(out)))
        out = self.conv3(F.relu(self.norm3(out)))
        return out + shortcut


class Projection(nn.Module):
    """1x1 conv shortcut; a module of its own so the state-dict key is ``downsample.conv``."""

    def __init__(self, in_channels: int, out_channels: int, stride: int):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 1, stride=stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class Stem(nn.Module):
    """7x7/2 conv with bias, zero padding, 3x3/2 max-pool (Keras ResNet50V2 has no stem BN)."""

    def __init__(self, width: int):
        super().__init__()
        self.conv = nn.Conv2d(3, width, 7, stride=2, padding=3)
        self.pool = nn.MaxPool2d(3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(F.pad(self.conv(x), (1, 1, 1, 1)))


class Stage(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, depth: int, downsample: bool):
        super().__init__()
        blocks = []
        for index in range(depth):
            last = index == depth - 1
            blocks.append(
                PreActBottleneck(
                    in_channels if index == 0 else out_channels,
                    out_channels,
                    stride=2 if (downsample and last) else 1,
                    project=index == 0,
                )
            )
        self.blocks = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(x)


class Encoder(nn.Module):
    """Pre-activation ResNet truncated like RepNet's: every stage but the last halves the size."""

    def __init__(self, config: RepNetConfig):
        super().__init__()
        self.stem = Stem(config.stem_width)
        widths = (config.stem_width, *config.stage_widths)
        last = len(config.stage_widths) - 1
        self.stages = nn.Sequential(
            *(
                Stage(widths[i], widths[i + 1], depth, downsample=i < last)
                for i, depth in enumerate(config.stage_depths)
            )
        )

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return self.stages(self.stem(frames))


class TemporalConv(nn.Module):
    """Dilated Conv3d over (time, space), BN, ReLU, then max over space: N x E x T."""

    def __init__(self, in_channels: int, embedding_dim: int):
        super().__init__()
        self.conv = nn.Conv3d(in_channels, embedding_dim, 3, padding=(3, 1, 1), dilation=(3, 1, 1))
        self.bn = nn.BatchNorm3d(embedding_dim, eps=1e-3)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return torch.amax(F.relu(self.bn(self.conv(features))), dim=(3, 4))


class TemporalSelfSimilarity(nn.Module):
    """Row-softmax of negative squared distances between frame embeddings: N x 1 x T x T.

    A module of its own so compression tools can see (and special-case) it: its output has one
    channel whatever the embedding width is.
    """

    def __init__(self, temperature: float, scale_by_frames: bool):
        super().__init__()
        self.temperature = temperature
        self.scale_by_frames = scale_by_frames

    def forward(self, embeddings: torch.Tensor) -> torch.Tensor:
        squared_norms = (embeddings * embeddings).sum(-1, keepdim=True)
        gram = embeddings @ embeddings.transpose(1, 2)
        distances = (squared_norms + squared_norms.transpose(1, 2) - 2 * gram).clamp_min(0)
        similarity = torch.softmax(-distances / self.temperature, dim=-1)
        if self.scale_by_frames:
            similarity = similarity * embeddings.shape[1]
        return similarity.unsqueeze(1)


class TSMConv(nn.Module):
    """3x3 conv + ReLU on the TSM, flattened channels-last per frame (as the TF model did)."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(1, channels, 3, padding=1)

    def forward(self, tsm: torch.Tensor) -> torch.Tensor:
        features = F.relu(self.conv(tsm))  # N x C x T x T
        return features.permute(0, 2, 3, 1).flatten(2)  # N x T x (T * C)


class PreNormTransformerLayer(nn.Module):
    """One pre-norm transformer encoder layer.

    Written out instead of ``nn.TransformerEncoderLayer`` because that class reads
    ``linear1.weight`` on its fast path, which breaks as soon as a compression step replaces
    ``linear1`` with a factorised or quantized module. Parameter names are the same.
    """

    def __init__(self, dim: int, num_heads: int, feedforward: int, dropout: float):
        super().__init__()
        self.self_attn = nn.MultiheadAttention(dim, num_heads, dropout=dropout, batch_first=True)
        self.linear1 = nn.Linear(dim, feedforward)
        self.linear2 = nn.Linear(feedforward, dim)
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        normed = self.norm1(x)
        attended, _ = self.self_attn(normed, normed, normed, need_weights=False)
        x = x + self.dropout(attended)
        hidden = self.dropout(F.relu(self.linear1(self.norm2(x))))
        return x + self.dropout(self.linear2(hidden))


class TransformerHead(nn.Module):
    """Projection + learned positional encoding + transformer layer + 3-layer MLP."""

    def __init__(self, config: RepNetConfig, out_features: int):
        super().__init__()
        dim = config.head_dim
        self.input_projection = nn.Linear(config.tsm_channels * config.num_frames, dim)
        # One scalar per frame, broadcast over features (the authors' shape: 1 x T x 1).
        self.pos_encoding = nn.Parameter(torch.randn(1, config.num_frames, 1) * 0.02)
        self.transformer_layer = PreNormTransformerLayer(dim, config.num_heads, dim, config.dropout)
        self.fc1 = nn.Linear(dim, dim)
        self.fc2 = nn.Linear(dim, dim)
        self.out = nn.Linear(dim, out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.transformer_layer(self.input_projection(x) + self.pos_encoding)
        return self.out(F.relu(self.fc2(F.relu(self.fc1(x)))))


class RepNet(nn.Module):
    """Input N x 3 x T x H x W in [-1, 1]; see :data:`RepNetOutput` for what comes out."""

    def __init__(self, config: RepNetConfig | None = None):
        super().__init__()
        self.config = config or RepNetConfig()
        cfg = self.config
        self.num_frames = cfg.num_frames
        self.encoder = Encoder(cfg)
        self.temporal_conv = TemporalConv(cfg.stage_widths[-1], cfg.embedding_dim)
        self.tsm = TemporalSelfSimilarity(cfg.temperature, cfg.tsm_scale_by_frames)
        self.tsm_conv = TSMConv(cfg.tsm_channels)
        self.period_length_head = TransformerHead(cfg, cfg.max_period)
        self.periodicity_head = TransformerHead(cfg, 1)

    def forward(self, video: torch.Tensor) -> RepNetOutput:
        batch, _, frames, height, width = video.shape
        torch._assert(frames == self.num_frames, "RepNet expects a fixed number of frames")
        per_frame = video.transpose(1, 2).reshape(batch * frames, 3, height, width)
        return self.from_frame_features(self.encoder(per_frame).unflatten(0, (batch, frames)))

    def from_frame_features(self, features: torch.Tensor) -> RepNetOutput:
        """The outputs from the encoder's features of every frame, N x T x C x h x w. The
        encoder sees each frame alone, so a video's frames can be encoded once and shared by
        every chunk that holds them (autocompress.models.repnet.counting)."""
        features = features.transpose(1, 2)
        embeddings = self.temporal_conv(features).transpose(1, 2)  # N x T x E
        tsm_features = self.tsm_conv(self.tsm(embeddings))
        return (
            self.period_length_head(tsm_features),
            self.periodicity_head(tsm_features),
            embeddings,
        )
