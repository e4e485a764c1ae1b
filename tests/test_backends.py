"""Artifact formats: the bytes of a model do not depend on what the process did before, the
evaluator times the artifact prepared as its runtime prepares it, and `load_artifact` gives
users exactly that."""

import io
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
import torch
from torch import nn

import autocompress
from autocompress.backends import ARTIFACT_FORMATS
from autocompress.errors import UserError
from autocompress.evaluators.cost import CostEvaluator
from autocompress.evaluators.exclusive import MachineLock
from autocompress.study.export import _serialize_all
from autocompress.timing import TimingProtocol

# Two convolutions of one class but other shapes: TorchScript must tell their types apart,
# which is where a process's history used to leak into the file.
_SERIALIZE = """
import hashlib, sys, torch
from torch import nn
from autocompress.backends import ARTIFACT_FORMATS

fmt = ARTIFACT_FORMATS["torchscript"]
example = torch.zeros(1, 3, 8, 8)
def model(width):
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, width, 3), nn.ReLU(), nn.Conv2d(width, 2, 1)).eval()
if sys.argv[1] == "after-others":
    for width in (5, 6, 7):  # what a search does before: serialize, load and prepare others
        fmt.load(fmt.serialize(model(width), example))(example)
data = fmt.serialize(model(4), example)
print(len(data), hashlib.sha256(data).hexdigest())
"""


def _fresh_process(history: str, hash_seed: str | None) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONHASHSEED"}
    if hash_seed is not None:
        env["PYTHONHASHSEED"] = hash_seed
    command = [sys.executable, "-c", _SERIALIZE, history]
    size, digest = subprocess.run(
        command, check=True, capture_output=True, text=True, env=env
    ).stdout.split()
    return int(size), digest


def test_torchscript_bytes_do_not_depend_on_the_process_history():
    # The same bytes with Python's hash seed fixed; without, TorchScript lists a module's
    # constants in the per-process order of a set, so only the size is the same.
    assert _fresh_process("first", "0") == _fresh_process("after-others", "0")
    assert _fresh_process("first", None)[0] == _fresh_process("after-others", None)[0]


def test_torchscript_ignores_a_stale_builtin_id_on_a_plain_attribute():
    # TorchScript's table of builtin ops is keyed by id() and keeps the ids of ops torch has
    # replaced since; a list allocated at such an address was taken for the op (about one
    # process in eight failed to script a pruned RepNet). Here the collision is made on purpose.
    from torch.jit import _builtins

    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1)).eval()
    padding = model[0]._reversed_padding_repeated_twice
    _builtins._register_builtin(padding, "aten::add")
    try:
        data = ARTIFACT_FORMATS["torchscript"].serialize(model, torch.zeros(1, 3, 8, 8))
    finally:
        del _builtins._get_builtin_table()[id(padding)]
    loaded = ARTIFACT_FORMATS["torchscript"].load(data)
    example = torch.randn(1, 3, 8, 8)
    torch.testing.assert_close(loaded(example), model(example))


def _tiny_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU()).eval()


def test_torchscript_is_loaded_frozen_and_optimised():
    model, example = _tiny_model(), torch.randn(1, 3, 8, 8)
    fmt = ARTIFACT_FORMATS["torchscript"]
    prepared = fmt.load(fmt.serialize(model, example))
    assert not list(prepared.parameters())  # frozen: weights became constants
    assert "aten::batch_norm" not in str(prepared.graph)  # folded into the convolution
    with torch.no_grad():
        torch.testing.assert_close(prepared(example), model(example), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize(
    ("name", "suffix"), [("torchscript", ".pt"), ("exported-program", ".pt2"), ("aoti", ".pt2")]
)
def test_load_artifact_reads_every_format(name, suffix, tmp_path):
    model, example = _tiny_model(), torch.randn(1, 3, 8, 8)
    path = tmp_path / f"model{suffix}"
    path.write_bytes(ARTIFACT_FORMATS[name].serialize(model, example))
    loaded = autocompress.load_artifact(path)
    with torch.no_grad():
        torch.testing.assert_close(loaded(example), model(example), atol=1e-5, rtol=1e-4)


def test_load_artifact_refuses_what_it_cannot_read(tmp_path):
    with pytest.raises(UserError, match="not an artifact"):
        autocompress.load_artifact(tmp_path / "model.onnx")
    with pytest.raises(UserError, match="not found"):
        autocompress.load_artifact(tmp_path / "absent.pt")
    (tmp_path / "broken.pt").write_bytes(b"not a zip file")
    with pytest.raises(UserError, match="cannot load it as torchscript"):
        autocompress.load_artifact(tmp_path / "broken.pt")


def test_a_model_that_cannot_script_fails_with_its_reason():
    class Untypable(nn.Module):
        def forward(self, x):
            return x.numpy()  # not TorchScript

    with pytest.raises(UserError, match="numpy"):
        ARTIFACT_FORMATS["torchscript"].serialize(Untypable(), torch.zeros(1))


class _FailsWhenRun(nn.Module):
    """Scripts and saves, then fails on its first run."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if bool(x.sum() > -1.0):
            raise RuntimeError("refuses to run")
        return x


def test_an_artifact_that_cannot_run_gets_no_latency_and_no_size(tmp_path):
    evaluator = CostEvaluator(
        example=torch.zeros(1, 3),
        protocol=TimingProtocol(warmup=0, runs=1),
        lock=MachineLock(tmp_path / "measure.lock"),
        artifact_format=ARTIFACT_FORMATS["torchscript"],
    )
    with pytest.raises(torch.jit.Error, match="refuses to run"):  # the trial fails with it
        evaluator(_FailsWhenRun())


def test_export_writes_no_artifact_that_cannot_run():
    written, skipped = _serialize_all(
        _FailsWhenRun(), torch.zeros(1, 3), ("torchscript", "exported-program")
    )
    assert not written and set(skipped) == {"torchscript", "exported-program"}
    assert skipped["torchscript"] == "builtins.RuntimeError: refuses to run"


_SLOW_CHILD = """
import os, sys, time
from autocompress.backends.fresh_process import run_in_fork

def work(path):
    with open(path, "w") as file:
        file.write(str(os.getpid()))
    time.sleep(60)
    return b""

run_in_fork(work, sys.argv[1])
"""


def test_a_killed_parent_leaves_no_child_behind(tmp_path):
    """A worker killed mid-serialization must not leave its forked child (which holds the
    machine's timing lock it inherited) running."""
    pid_file = tmp_path / "child.pid"
    parent = subprocess.Popen([sys.executable, "-c", _SLOW_CHILD, str(pid_file)])
    deadline = time.monotonic() + 60
    while not pid_file.exists() or not pid_file.read_text():
        assert time.monotonic() < deadline and parent.poll() is None
        time.sleep(0.05)
    child = int(pid_file.read_text())
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    while _alive(child):
        assert time.monotonic() < deadline, "the child outlived its killed parent"
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/stat")
    return not (status.exists() and status.read_text().split()[2] == "Z")  # a zombie is gone


def test_a_torch_export_program_holds_the_model_only():
    """torch.export.save would store the example input, with the whole storage it is a view
    of (the study's calibration clips), and count it in the size."""
    model, clips = _tiny_model(), torch.randn(1024, 3, 8, 8)
    data = ARTIFACT_FORMATS["exported-program"].serialize(model, clips[:1])
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        stored = [i.file_size for i in archive.infolist() if "sample_inputs" in i.filename]
    assert sum(stored) < 1024
    assert len(data) < clips.numel() * 4


def _raise_without_message() -> bytes:
    raise RuntimeError()


def test_a_child_error_without_a_message_says_where_it_was_raised():
    from autocompress.backends.fresh_process import ChildFailed, run_in_fork

    expected = r"RuntimeError without a message, raised at .*test_backends"
    with pytest.raises(ChildFailed, match=expected):
        run_in_fork(_raise_without_message)
