"""`autocompress apply`: a hand-written pipeline to an artifact, and clear errors."""

import torch

from autocompress.cli import main

PIPELINE = """\
steps:
  - prune:
      ratios: {encoder.stages.2: 0.5, temporal_conv: 0.5}
  - tensorize:
      ranks: {temporal_conv.conv: 0.25}
  - quantize:
      layers: [temporal_conv.conv.1]
"""


def test_apply_writes_a_loadable_artifact(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("AUTOCOMPRESS_CACHE", str(tmp_path / "cache"))
    (tmp_path / "p.yaml").write_text(PIPELINE)
    out = tmp_path / "model.pt"
    args = [
        "apply",
        str(tmp_path / "p.yaml"),
        "--out",
        str(out),
        "--preset",
        "repnet-s",
        "--calibration-clips",
        "1",
        "--warmup",
        "0",
        "--runs",
        "1",
    ]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "random clips in [-1, 1]" in printed
    assert "temporal_conv.conv" in printed and "requested 50%, achieved 50.0%" in printed
    assert "compressed" in printed and "latency x" in printed
    embeddings = torch.jit.load(out)(torch.zeros(1, 3, 64, 64, 64))[2]
    assert embeddings.shape == (1, 64, 48)


def test_apply_refuses_bad_pipelines_in_one_line(tmp_path, capsys):
    bad = "steps:\n  - quantize: {layers: [fc]}\n  - prune: {ratios: {a: 0.5}}\n"
    (tmp_path / "bad.yaml").write_text(bad)
    assert main(["apply", str(tmp_path / "bad.yaml"), "--out", str(tmp_path / "m.pt")]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("autocompress: error: step 2 (prune) follows quantize")
    assert "\n" not in error
    assert main(["apply", str(tmp_path / "missing.yaml"), "--out", "m.pt"]) == 2
    assert "pipeline file not found" in capsys.readouterr().err
