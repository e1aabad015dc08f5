"""Reading what the page shows: pixels of ``<img>``, ``<canvas>`` and ``<video>`` elements.

Each element is drawn into a scratch canvas in the page (at its intrinsic size), so the
numbers are what the user sees, not what the kernel sent. :func:`read_pixels` returns
per-channel statistics; :func:`read_rgb` returns whole images as numpy arrays, reading
several elements in one synchronous step so that, for example, a FrameView's input
and output canvases come from the same frame.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from playwright.sync_api import Locator, Page

Region = tuple[float, float, float, float]  # x0, y0, x1, y1 as fractions of the element
WHOLE: Region = (0.0, 0.0, 1.0, 1.0)

# Shared by both readers: an element's intrinsic size once it can be drawn, else an error.
_SIZE = """
async function drawableSize(el) {
  if (el instanceof HTMLImageElement) {
    if (!el.complete || !el.naturalWidth) {
      try { await el.decode(); } catch (e) { return { error: `image not decodable: ${e}` }; }
    }
    return { width: el.naturalWidth, height: el.naturalHeight };
  }
  if (el instanceof HTMLCanvasElement) return { width: el.width, height: el.height };
  if (el instanceof HTMLVideoElement) return { width: el.videoWidth, height: el.videoHeight };
  return { error: `a <${el.tagName.toLowerCase()}>, not an img, canvas or video` };
}
function drawn(el, size, region) {
  const [x0, y0, x1, y1] = region;
  const sx = Math.floor(x0 * size.width), sy = Math.floor(y0 * size.height);
  const sw = Math.max(1, Math.floor((x1 - x0) * size.width));
  const sh = Math.max(1, Math.floor((y1 - y0) * size.height));
  const scratch = document.createElement('canvas');
  scratch.width = sw; scratch.height = sh;
  const ctx = scratch.getContext('2d', { willReadFrequently: true });
  ctx.drawImage(el, sx, sy, sw, sh, 0, 0, sw, sh);
  return ctx.getImageData(0, 0, sw, sh);
}
"""

STATS_JS = (
    "async (el, region) => {"
    + _SIZE
    + """
  const size = await drawableSize(el);
  if (size.error) return size;
  if (!size.width || !size.height) return { error: `no pixels yet (${size.width}x${size.height})` };
  const data = drawn(el, size, region).data;
  const n = data.length / 4;
  const sum = [0, 0, 0], sq = [0, 0, 0];
  for (let i = 0; i < data.length; i += 4) {
    for (let c = 0; c < 3; c++) { sum[c] += data[i + c]; sq[c] += data[i + c] * data[i + c]; }
  }
  const mean = sum.map((s) => s / n);
  const std = sq.map((s, c) => Math.sqrt(Math.max(0, s / n - mean[c] * mean[c])));
  return { width: size.width, height: size.height, mean, std };
}"""
)

RGB_JS = (
    "async (selectors) => {"
    + _SIZE
    + """
  const found = [];
  for (const selector of selectors) {
    const matches = document.querySelectorAll(selector);
    if (matches.length !== 1) {
      return { error: `${selector} matches ${matches.length} elements, not 1` };
    }
    const size = await drawableSize(matches[0]);
    if (size.error) return { error: `${selector}: ${size.error}` };
    if (!size.width || !size.height) return { error: `${selector}: no pixels yet` };
    found.push([matches[0], size]);
  }
  // No await from here on: every element is read in the same task, so from the same frame.
  const images = found.map(([el, size]) => drawn(el, size, [0, 0, 1, 1]));
  return images.map((image) => {
    let binary = '';
    for (let i = 0; i < image.data.length; i += 0x8000) {
      binary += String.fromCharCode.apply(null, image.data.subarray(i, i + 0x8000));
    }
    return { width: image.width, height: image.height, rgba: btoa(binary) };
  });
}"""
)


@dataclass(frozen=True)
class Pixels:
    """What an element shows: its intrinsic size and per-channel mean and std (0..255)."""

    width: int
    height: int
    mean: tuple[float, float, float]  # R, G, B
    std: tuple[float, float, float]

    @property
    def red(self) -> float:
        """Mean red."""
        return self.mean[0]

    @property
    def green(self) -> float:
        """Mean green."""
        return self.mean[1]

    @property
    def blue(self) -> float:
        """Mean blue."""
        return self.mean[2]


def read_pixels(element: Locator, region: Region = WHOLE) -> Pixels:
    """Per-channel mean and std of what one img/canvas/video shows (within ``region``).

    Raises:
        AssertionError: the element has no pixels yet, or is not an img/canvas/video.
        playwright.sync_api.Error: no single element matches (Playwright's strictness).
    """
    result: dict[str, Any] = element.evaluate(STATS_JS, list(region))
    if "error" in result:
        raise AssertionError(f"cannot read pixels of {element}: {result['error']}")
    mean, std = result["mean"], result["std"]
    return Pixels(
        int(result["width"]),
        int(result["height"]),
        (float(mean[0]), float(mean[1]), float(mean[2])),
        (float(std[0]), float(std[1]), float(std[2])),
    )


def read_rgb(page: Page, selectors: Sequence[str]) -> list[npt.NDArray[np.uint8]]:
    """``HxWx3`` uint8 RGB arrays of the elements ``selectors`` match (one each).

    All are drawn in one synchronous step in the page, so they show the same moment.

    Raises:
        AssertionError: a selector matches no or several elements, or one has no pixels.
    """
    result: Any = page.evaluate(RGB_JS, list(selectors))
    if isinstance(result, dict):
        raise AssertionError(f"cannot read pixels: {result['error']}")
    images: list[npt.NDArray[np.uint8]] = []
    for item in result:
        rgba = np.frombuffer(base64.b64decode(item["rgba"]), dtype=np.uint8)
        images.append(rgba.reshape(int(item["height"]), int(item["width"]), 4)[..., :3].copy())
    return images
