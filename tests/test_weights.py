"""Weight loading: our checkpoints, the public PyTorch port's layout, and clear refusals."""

import pytest
import torch

from autocompress.errors import UserError
from autocompress.models.repnet.network import build_repnet
from autocompress.models.repnet.weights import load_checkpoint, load_model, save_checkpoint

# The port (materight/RepNet-pytorch, repnet/model.py) as written there, not derived from our
# renaming code: its encoder is timm's resnetv2_50 cut after stage 3, named as ours;
#   temporal_conv = Sequential(Conv3d(1024, 512, 3), BatchNorm3d(512), ReLU, pool, flatten)
#   tsm_conv = Sequential(Conv2d(1, 32, 3), ReLU)
#   each head = Sequential(TranformerLayer(2048 -> 512: input_projection, pos_encoding,
#       transformer_layer), Linear(512, 512), ReLU, Linear(512, 512), ReLU, Linear(512, out))
# with out 32 for period_length_head and 1 for periodicity_head.
_TRANSFORMER = {
    "in_proj_weight": (1536, 512),
    "in_proj_bias": (1536,),
    "out_proj.weight": (512, 512),
    "out_proj.bias": (512,),
}
_ENCODER_LAYER = {
    **{f"self_attn.{name}": shape for name, shape in _TRANSFORMER.items()},
    **{f"{lin}.weight": (512, 512) for lin in ("linear1", "linear2")},
    **{f"{lin}.bias": (512,) for lin in ("linear1", "linear2")},
    **{f"{norm}.{p}": (512,) for norm in ("norm1", "norm2") for p in ("weight", "bias")},
}


def _port_head(name: str, out: int) -> dict[str, tuple[int, ...]]:
    return {
        f"{name}.0.input_projection.weight": (512, 2048),
        f"{name}.0.input_projection.bias": (512,),
        f"{name}.0.pos_encoding": (1, 64, 1),
        **{f"{name}.0.transformer_layer.{k}": shape for k, shape in _ENCODER_LAYER.items()},
        f"{name}.1.weight": (512, 512),
        f"{name}.1.bias": (512,),
        f"{name}.3.weight": (512, 512),
        f"{name}.3.bias": (512,),
        f"{name}.5.weight": (out, 512),
        f"{name}.5.bias": (out,),
    }


PORT_SHAPES: dict[str, tuple[int, ...]] = {
    "temporal_conv.0.weight": (512, 1024, 3, 3, 3),
    "temporal_conv.0.bias": (512,),
    **{f"temporal_conv.1.{k}": (512,) for k in ("weight", "bias", "running_mean", "running_var")},
    "tsm_conv.0.weight": (32, 1, 3, 3),
    "tsm_conv.0.bias": (32,),
    **_port_head("period_length_head", 32),
    **_port_head("periodicity_head", 1),
}

# Where a port tensor must land in our model: one or more keys of every renamed part.
LANDS_ON = {
    "temporal_conv.0.weight": lambda m: m.temporal_conv.conv.weight,
    "temporal_conv.0.bias": lambda m: m.temporal_conv.conv.bias,
    "temporal_conv.1.weight": lambda m: m.temporal_conv.bn.weight,
    "temporal_conv.1.running_mean": lambda m: m.temporal_conv.bn.running_mean,
    "temporal_conv.1.running_var": lambda m: m.temporal_conv.bn.running_var,
    "tsm_conv.0.weight": lambda m: m.tsm_conv.conv.weight,
    "period_length_head.0.input_projection.weight": (
        lambda m: m.period_length_head.input_projection.weight
    ),
    "period_length_head.0.pos_encoding": lambda m: m.period_length_head.pos_encoding,
    "period_length_head.0.transformer_layer.self_attn.in_proj_weight": (
        lambda m: m.period_length_head.transformer_layer.self_attn.in_proj_weight
    ),
    "periodicity_head.0.transformer_layer.linear2.weight": (
        lambda m: m.periodicity_head.transformer_layer.linear2.weight
    ),
    "period_length_head.1.weight": lambda m: m.period_length_head.fc1.weight,
    "period_length_head.3.weight": lambda m: m.period_length_head.fc2.weight,
    "periodicity_head.1.bias": lambda m: m.periodicity_head.fc1.bias,
    "periodicity_head.3.bias": lambda m: m.periodicity_head.fc2.bias,
    "period_length_head.5.weight": lambda m: m.period_length_head.out.weight,
    "periodicity_head.5.bias": lambda m: m.periodicity_head.out.bias,
    "encoder.stem.conv.weight": lambda m: m.encoder.stem.conv.weight,
    "encoder.stages.0.blocks.0.downsample.conv.bias": (
        lambda m: m.encoder.stages[0].blocks[0].downsample.conv.bias
    ),
    "encoder.stages.1.blocks.3.conv2.weight": lambda m: m.encoder.stages[1].blocks[3].conv2.weight,
    "encoder.stages.2.blocks.2.norm3.running_var": (
        lambda m: m.encoder.stages[2].blocks[2].norm3.running_var
    ),
}


def _port_state_dict(seed: int) -> dict[str, torch.Tensor]:
    """A state dict in the port's layout, as its TF conversion writes it (no step counters),
    every tensor distinct random values: the encoder under its own (timm) names, the rest by
    the literal layout above."""
    generator = torch.Generator().manual_seed(seed)
    encoder = build_repnet("repnet").encoder.state_dict()
    shapes = {
        f"encoder.{key}": tuple(value.shape)
        for key, value in encoder.items()
        if not key.endswith("num_batches_tracked")
    }
    shapes.update(PORT_SHAPES)
    return {key: torch.randn(shape, generator=generator) for key, shape in shapes.items()}


def test_port_layout_covers_the_model_and_the_encoder_keys_the_port_writes():
    port = _port_state_dict(0)
    # The encoder keys the port names (its CONVS_WITH_BIAS adds these biases).
    for key in (
        "encoder.stem.conv.weight",
        "encoder.stem.conv.bias",
        "encoder.stages.0.blocks.0.downsample.conv.bias",
        "encoder.stages.2.blocks.2.conv3.bias",
    ):
        assert key in port, key
    ours = {k for k in build_repnet("repnet").state_dict() if not k.endswith("num_batches_tracked")}
    assert len(port) == len(ours)  # one port tensor for each of ours, no more


def test_port_state_dict_loads_into_the_right_places(tmp_path):
    port = _port_state_dict(1)
    path = tmp_path / "pytorch_weights.pth"
    torch.save(port, path)
    model = load_checkpoint(path)
    for key, where in LANDS_ON.items():
        torch.testing.assert_close(where(model), port[key], rtol=0, atol=0, msg=key)
    # every value of the file is in the model, each exactly once
    loaded = sorted(round(float(v.sum()), 3) for v in model.state_dict().values() if v.numel() > 1)
    written = sorted(round(float(v.sum()), 3) for v in port.values() if v.numel() > 1)
    assert loaded == written


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda sd: sd.pop("temporal_conv.0.bias"), r"missing: temporal_conv\.conv\.bias"),
        (
            lambda sd: sd.pop("periodicity_head.3.weight"),
            r"missing: periodicity_head\.fc2\.weight",
        ),
        (
            lambda sd: sd.update({"encoder.head.fc.weight": torch.zeros(1)}),
            r"unexpected: encoder\.head\.fc\.weight",
        ),
        (
            lambda sd: sd.update({"periodicity_head.7.weight": torch.zeros(1, 512)}),
            r"unexpected: periodicity_head\.7\.weight",
        ),
        (
            lambda sd: sd.update({"tsm_conv.0.weight": torch.zeros(16, 1, 3, 3)}),
            r"shape: tsm_conv\.conv\.weight",
        ),
    ],
)
def test_mismatched_port_state_dict_is_refused_with_the_keys(tmp_path, edit, message):
    port = _port_state_dict(2)
    edit(port)
    path = tmp_path / "bad.pth"
    torch.save(port, path)
    with pytest.raises(UserError, match=message):
        load_checkpoint(path)


def test_a_file_missing_one_key_and_adding_another_is_refused_naming_both(tmp_path):
    port = _port_state_dict(3)
    del port["period_length_head.5.bias"]
    port["period_length_head.6.bias"] = torch.zeros(32)
    path = tmp_path / "bad.pth"
    torch.save(port, path)
    with pytest.raises(UserError) as refused:
        load_checkpoint(path)
    assert "missing: period_length_head.out.bias" in str(refused.value)
    assert "unexpected: period_length_head.6.bias" in str(refused.value)


def test_own_checkpoint_round_trip(tmp_path):
    model = build_repnet("repnet-s")
    path = tmp_path / "small.pt"
    save_checkpoint(model, path, note="test")
    loaded, source = load_model("repnet-s", path)
    assert source == str(path)
    for (name, a), b in zip(model.state_dict().items(), loaded.state_dict().values(), strict=True):
        assert torch.equal(a, b), name


def test_checkpoint_of_another_preset_is_refused(tmp_path):
    path = tmp_path / "small.pt"
    save_checkpoint(build_repnet("repnet-s"), path)
    with pytest.raises(UserError, match="another model shape"):
        load_model("repnet", path)


def test_missing_and_corrupt_files(tmp_path):
    with pytest.raises(UserError, match="not found"):
        load_model("repnet-s", tmp_path / "absent.pt")
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"not a checkpoint")
    with pytest.raises(UserError, match="cannot read weights"):
        load_model("repnet-s", corrupt)
    with pytest.raises(UserError, match="unknown preset"):
        load_model("resnet")


def test_random_init_is_the_same_model_every_time_and_leaves_the_rng_alone():
    # Workers and resumed runs of a study without weights must all see one model.
    state = torch.random.get_rng_state()
    first, source = load_model("repnet")
    assert torch.equal(torch.random.get_rng_state(), state)
    second, _ = load_model("repnet")
    assert source.startswith("random init")
    for (name, a), (_, b) in zip(
        first.state_dict().items(), second.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), name
