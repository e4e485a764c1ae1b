"""The sensitivity profile and the CLI's handling of bad input."""

from pathlib import Path

import pytest

from autocompress.analysis.profile import profile_model
from autocompress.cli import main
from autocompress.models.repnet.adapter import RepNetAdapter
from autocompress.models.repnet.network import build_repnet
from autocompress.timing import TimingProtocol

QUICK = TimingProtocol(warmup=1, runs=3)


def test_profile_covers_the_whole_model():
    model = build_repnet("repnet-s")
    adapter = RepNetAdapter("repnet-s", None, Path("unused"))
    profile = profile_model(model, adapter.example_inputs(1), adapter.profile_parts(), QUICK)
    names = [part.name for part in profile.parts]
    assert names == ["encoder", "temporal conv", "TSM + conv", "period head", "periodicity head"]
    assert sum(p.parameters for p in profile.parts) == sum(p.numel() for p in model.parameters())
    assert sum(profile.latency_share(p) for p in profile.parts) == pytest.approx(1.0)
    assert all(p.timing.median_ms > 0 and p.macs > 0 for p in profile.parts)
    # The encoder and temporal conv do nearly all of the arithmetic.
    heavy = sum(p.macs for p in profile.parts[:2])
    assert heavy > 0.9 * sum(p.macs for p in profile.parts)


def test_profile_command_prints_table_and_plot(tmp_path, capsys):
    plot = tmp_path / "shares.png"
    assert (
        main(["profile", "--warmup", "0", "--runs", "2", "--threads", "1", "--plot", str(plot)])
        == 0
    )
    out = capsys.readouterr().out
    assert "temporal conv" in out and "whole model" in out
    assert plot.stat().st_size > 1000


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["profile", "--preset", "nope"], "unknown preset"),
        (["profile", "--weights", "/nonexistent/w.pt"], "not found"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_bad_flag_value_exits_non_zero(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["profile", "--runs", "0"])
    assert exit_info.value.code == 2
    assert "must be >= 1" in capsys.readouterr().err
