"""Natural-image backgrounds: crops of the photographs scikit-image ships in its wheel.

Flat shapes on smooth textures are all a generated video had; a model (or a compressed one)
that only copes with those looks better on them than on real footage. Crops of photographs
(faces, fur, gravel, brick, coins, a rocket, the moon) bring edges, clutter and colour at every
scale. Only images inside the wheel are used, so generation never needs the network.
"""

from __future__ import annotations

import functools

import numpy as np

__all__ = ["PHOTOS", "photo_crop"]

# skimage.data images in the wheel (none needs a download); grey ones become grey RGB.
PHOTOS = (
    "astronaut",
    "brick",
    "camera",
    "cat",
    "clock",
    "coffee",
    "coins",
    "grass",
    "gravel",
    "hubble_deep_field",
    "immunohistochemistry",
    "moon",
    "rocket",
)


@functools.cache
def _photo(name: str) -> np.ndarray:
    """Photograph ``name`` as float32 RGB in 0..1 (read once per process)."""
    import skimage.data

    image = getattr(skimage.data, name)().astype(np.float32) / 255
    return np.repeat(image[..., None], 3, axis=2) if image.ndim == 2 else image[..., :3]


def photo_crop(rng: np.random.Generator, name: str, height: int, width: int) -> np.ndarray:
    """A random window of photograph ``name``, of the frame's aspect and between a third and
    all of the largest such window, maybe mirrored, resized to ``height`` x ``width``."""
    from skimage.transform import resize

    image = _photo(name)
    rows, cols = image.shape[:2]
    fit = min(rows / height, cols / width)  # largest window of the frame's aspect
    scale = fit * rng.uniform(1 / 3, 1)
    down, across = max(1, round(height * scale)), max(1, round(width * scale))
    top = int(rng.integers(0, rows - down + 1))
    left = int(rng.integers(0, cols - across + 1))
    window = image[top : top + down, left : left + across]
    if rng.random() < 0.5:
        window = window[:, ::-1]
    return resize(window, (height, width), order=1, anti_aliasing=True).astype(np.float32)
