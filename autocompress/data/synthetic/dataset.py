"""Writing a generated set to disk in the QUVA layout: ``videos/*.mp4`` (or ``.webm`` for VP9)
and ``annotations/*.npy``; each video in its own drawn size, frame rate and codec when the
style offers several."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeVar

import av
import numpy as np

from autocompress.data.synthetic.render import render
from autocompress.data.synthetic.scene import sample_scene
from autocompress.data.synthetic.style import CODECS, SynthStyle
from autocompress.data.synthetic.timeline import video_timeline
from autocompress.errors import UserError
from autocompress.files import atomic_path

_CHUNK = 64  # frames rendered at once
Choice = TypeVar("Choice")


@dataclass(frozen=True)
class SynthVideo:
    """What :func:`generate_dataset` wrote for one video."""

    name: str
    frames: int
    count: int
    period: float  # mean frames per repetition
    backdrop: str  # the photograph behind it, or "flat"
    file: str  # its file in videos/, NAME plus the codec's container suffix
    size: tuple[int, int]  # width, height
    fps: int
    codec: str


# The container each codec is written in, by its suffix (the format PyAV is told follows it).
CONTAINERS = {"libx264": ".mp4", "libx265": ".mp4", "mpeg4": ".mp4", "libvpx-vp9": ".webm"}
assert set(CONTAINERS) == set(CODECS)


def _codec_options(codec: str, crf: int, width: int) -> dict[str, str]:
    """Encoder options for x264's ``crf`` on ``codec``'s own scale, at about the same error:
    x265 shares the scale; VP9's runs to 63; MPEG-4 part 2 has a fixed quantiser instead
    (2 at crf 18, doubling every 5)."""
    if codec == "libx264":
        # No macroblock tree: with it this libx264 encodes the same frames to other bytes from
        # run to run, even on one thread (decoded pixels differed by up to 57 levels), so a
        # seeded data set would not be the same set, nor the MAE measured on it.
        return {"crf": str(crf), "preset": "fast", "x264-params": "no-mbtree=1"}
    if codec == "libx265":
        # This x265's SIMD code corrupts the heap (and the process aborts) on frames 33 to 48
        # pixels wide; its plain C code is right, and narrow frames encode fast without SIMD.
        params = "log-level=error" + (":asm=0" if width < 64 else "")
        return {"crf": str(crf), "preset": "fast", "x265-params": params}
    if codec == "libvpx-vp9":
        return {"crf": str(round(crf * 63 / 51)), "b": "0", "deadline": "good", "cpu-used": "4"}
    if codec == "mpeg4":
        quantiser = str(int(np.clip(round(2 ** ((crf - 13) / 5)), 2, 31)))
        return {"qmin": quantiser, "qmax": quantiser}
    raise ValueError(f"unknown codec {codec!r}; choose one of {CODECS}")


def write_video(
    path: Path,
    chunks: Iterator[np.ndarray],
    fps: int,
    width: int,
    height: int,
    crf: int = 18,
    codec: str = "libx264",
) -> None:
    """Encode RGB uint8 chunks (frames x H x W x 3) with ``codec`` in its container (see
    CONTAINERS; ``path`` should carry its suffix), atomically.

    yuv420p where both sides are even (what every player reads); yuv444p otherwise, since
    4:2:0 cannot hold odd sizes (MPEG-4 part 2 has no 4:4:4, so it refuses odd sizes).
    """
    even = width % 2 == 0 and height % 2 == 0
    if codec == "mpeg4" and not even:
        raise ValueError(f"mpeg4 writes only even frame sides (4:2:0), got {width}x{height}")
    options = _codec_options(codec, crf, width)
    container = CONTAINERS[codec].removeprefix(".")
    # Matroska (webm) writes a random segment id and the muxer's version unless bit-exact.
    flags = {} if container == "mp4" else {"fflags": "+bitexact"}
    with (
        atomic_path(path) as temporary,
        av.open(str(temporary), "w", format=container, options=flags) as output,
    ):
        stream = output.add_stream(codec, rate=fps, options=options)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p" if even else "yuv444p"
        for chunk in chunks:
            for frame in chunk:
                output.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        output.mux(stream.encode())


def _pick(rng: np.random.Generator, choices: tuple[Choice, ...]) -> Choice:
    """One of ``choices``, drawn from ``rng`` only when there is more than one."""
    return choices[int(rng.integers(len(choices)))] if len(choices) > 1 else choices[0]


def _prepare(out: Path, overwrite: bool) -> None:
    """Refuse to mix a new set into existing videos unless told to replace them."""
    existing = [
        path
        for folder in (out / "videos", out / "annotations")
        if folder.is_dir()
        for path in folder.iterdir()
        if path.is_file()
    ]
    if existing and not overwrite:
        raise UserError(
            f"{out} already holds {len(existing)} video/annotation files; "
            "choose an empty directory or pass --overwrite to replace them"
        )
    for path in existing:
        path.unlink()


def generate_dataset(
    out: str | Path,
    videos: int,
    seed: int = 0,
    style: SynthStyle = SynthStyle(),
    overwrite: bool = False,
    progress: bool = False,
) -> list[SynthVideo]:
    """Write ``videos`` videos and annotations under ``out`` in the QUVA layout.

    Video ``i`` depends only on ``(seed, i)``, so a bigger set extends a smaller one; it draws
    its frame size, rate and codec from the style's choices first (nothing is drawn where there
    is one), so a style without choices makes the videos it made before they existed.
    """
    from tqdm import tqdm

    out = Path(out)
    _prepare(out, overwrite)
    digits = max(3, len(str(videos - 1)))
    written = []
    for index in tqdm(range(videos), desc="generating", unit="video", disable=not progress):
        rng = np.random.default_rng([seed, index])
        size = _pick(rng, style.size_choices)
        fps = _pick(rng, style.fps_options)
        codec = _pick(rng, style.codecs)
        timeline = video_timeline(rng, style)
        scene = sample_scene(rng, replace(style, size=size), timeline, difficulty=1.0)
        name = f"{index:0{digits}d}_{scene.motion}_{scene.shape}"
        video_file = f"{name}{CONTAINERS[codec]}"
        total = len(timeline.cycles)
        chunks = (render(scene, s, min(s + _CHUNK, total), rng) for s in range(0, total, _CHUNK))
        write_video(out / "videos" / video_file, chunks, fps, *size, style.crf, codec)
        annotation = timeline.rep_ends
        with (
            atomic_path(out / "annotations" / f"{name}.npy") as temporary,
            open(temporary, "wb") as file,
        ):
            np.save(file, annotation)
        active = timeline.period[timeline.period > 0]
        mean_period = float(active.mean())
        written.append(
            SynthVideo(
                name,
                total,
                len(annotation),
                mean_period,
                scene.backdrop,
                video_file,
                size,
                fps,
                codec,
            )
        )
    return written
