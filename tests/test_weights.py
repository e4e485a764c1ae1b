"""Weight loading: our checkpoints, the public PyTorch port's layout, and clear refusals."""

import re

import pytest
import torch

from autocompress.errors import UserError
from autocompress.models.repnet.network import build_repnet
from autocompress.models.repnet.weights import load_checkpoint, load_model, save_checkpoint

# Our name -> the port's name (materight/RepNet-pytorch: nn.Sequential wrappers, timm encoder).
_TO_PORT = (
    (r"^temporal_conv\.conv\.", "temporal_conv.0."),
    (r"^temporal_conv\.bn\.", "temporal_conv.1."),
    (r"^tsm_conv\.conv\.", "tsm_conv.0."),
    (r"^(period_length_head|periodicity_head)\.fc1\.", r"\1.1."),
    (r"^(period_length_head|periodicity_head)\.fc2\.", r"\1.3."),
    (r"^(period_length_head|periodicity_head)\.out\.", r"\1.5."),
    (
        r"^(period_length_head|periodicity_head)\.(input_projection|pos_encoding|transformer_layer)",
        r"\1.0.\2",
    ),
)


def _port_state_dict(seed: int) -> dict[str, torch.Tensor]:
    """A state dict in the port's key layout, as its TF conversion writes it (no step counters)."""
    torch.manual_seed(seed)
    ours = build_repnet("repnet").state_dict()
    port = {}
    for key, value in ours.items():
        if key.endswith("num_batches_tracked"):
            continue
        for pattern, replacement in _TO_PORT:
            key = re.sub(pattern, replacement, key)
        port[key] = torch.randn_like(value) if value.is_floating_point() else value
    return port


def test_port_layout_has_the_keys_its_conversion_writes():
    port = _port_state_dict(0)
    for key in (
        "encoder.stem.conv.weight",
        "encoder.stages.0.blocks.0.downsample.conv.bias",
        "encoder.stages.2.blocks.2.conv3.bias",
        "temporal_conv.0.weight",
        "temporal_conv.1.running_var",
        "tsm_conv.0.weight",
        "period_length_head.0.input_projection.weight",
        "period_length_head.0.pos_encoding",
        "period_length_head.0.transformer_layer.self_attn.in_proj_weight",
        "periodicity_head.0.transformer_layer.linear1.weight",
        "periodicity_head.5.bias",
    ):
        assert key in port, key


def test_port_state_dict_loads_into_the_right_places(tmp_path):
    port = _port_state_dict(1)
    path = tmp_path / "pytorch_weights.pth"
    torch.save(port, path)
    model = load_checkpoint(path)
    torch.testing.assert_close(model.temporal_conv.conv.weight, port["temporal_conv.0.weight"])
    torch.testing.assert_close(
        model.temporal_conv.bn.running_var, port["temporal_conv.1.running_var"]
    )
    torch.testing.assert_close(model.periodicity_head.out.bias, port["periodicity_head.5.bias"])
    torch.testing.assert_close(
        model.period_length_head.pos_encoding, port["period_length_head.0.pos_encoding"]
    )
    torch.testing.assert_close(
        model.encoder.stages[1].blocks[3].conv2.weight,
        port["encoder.stages.1.blocks.3.conv2.weight"],
    )


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda sd: sd.pop("temporal_conv.0.bias"), r"missing: temporal_conv\.conv\.bias"),
        (lambda sd: sd.update({"head.fc.weight": torch.zeros(1)}), r"unexpected: head\.fc\.weight"),
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
