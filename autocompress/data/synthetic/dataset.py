"""Writing a generated set to disk in the QUVA layout: ``videos/*.mp4``, ``annotations/*.npy``."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from autocompress.data.synthetic.render import render
from autocompress.data.synthetic.scene import sample_scene
from autocompress.data.synthetic.style import SynthStyle
from autocompress.data.synthetic.timeline import video_timeline
from autocompress.errors import UserError
from autocompress.files import atomic_path

_CHUNK = 64  # frames rendered at once


@dataclass(frozen=True)
class SynthVideo:
    """What :func:`generate_dataset` wrote for one video."""

    name: str
    frames: int
    count: int
    period: float  # mean frames per repetition
    backdrop: str  # the photograph behind it, or "flat"


def write_video(
    path: Path, chunks: Iterator[np.ndarray], fps: int, width: int, height: int, crf: int = 18
) -> None:
    """Encode RGB uint8 chunks (frames x H x W x 3) as H.264 in mp4, atomically.

    yuv420p where both sides are even (what every player reads); yuv444p otherwise, since
    4:2:0 cannot hold odd sizes.
    """
    with atomic_path(path) as temporary, av.open(str(temporary), "w", format="mp4") as output:
        # No macroblock tree: with it this libx264 encodes the same frames to other bytes from
        # run to run, even on one thread (decoded pixels differed by up to 57 levels), so a
        # seeded data set would not be the same set, nor the MAE measured on it.
        options = {"crf": str(crf), "preset": "fast", "x264-params": "no-mbtree=1"}
        stream = output.add_stream("libx264", rate=fps, options=options)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p" if width % 2 == 0 and height % 2 == 0 else "yuv444p"
        for chunk in chunks:
            for frame in chunk:
                output.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        output.mux(stream.encode())


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

    Video ``i`` depends only on ``(seed, i)``, so a bigger set extends a smaller one.
    """
    from tqdm import tqdm

    out = Path(out)
    _prepare(out, overwrite)
    digits = max(3, len(str(videos - 1)))
    written = []
    for index in tqdm(range(videos), desc="generating", unit="video", disable=not progress):
        rng = np.random.default_rng([seed, index])
        timeline = video_timeline(rng, style)
        scene = sample_scene(rng, style, timeline, difficulty=1.0)
        name = f"{index:0{digits}d}_{scene.motion}_{scene.shape}"
        total = len(timeline.cycles)
        chunks = (render(scene, s, min(s + _CHUNK, total), rng) for s in range(0, total, _CHUNK))
        write_video(out / "videos" / f"{name}.mp4", chunks, style.fps, *style.size, style.crf)
        annotation = timeline.rep_ends
        with (
            atomic_path(out / "annotations" / f"{name}.npy") as temporary,
            open(temporary, "wb") as file,
        ):
            np.save(file, annotation)
        active = timeline.period[timeline.period > 0]
        video = SynthVideo(name, total, len(annotation), float(active.mean()), scene.backdrop)
        written.append(video)
    return written
