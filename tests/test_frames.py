from __future__ import annotations

import numpy as np
import pytest

from byoc_lab import FrameError, SyntheticSource, read_frame_number
from byoc_lab.builtins import Grayscale, GreenTint
from byoc_lab.framecode import burn_frame_number
from byoc_lab.frames import (
    decode_image,
    encode_image,
    from_bgr,
    rgb_from_bytes,
    rgb_to_bytes,
    to_bgr,
    validate_rgb,
)


def test_bytes_round_trip_is_row_major_rgb() -> None:
    image = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    data = rgb_to_bytes(image)
    assert data[:6] == bytes([0, 1, 2, 3, 4, 5])
    assert np.array_equal(rgb_from_bytes(data, 3, 2), image)


def test_wrong_byte_count_names_both_sizes() -> None:
    with pytest.raises(FrameError) as info:
        rgb_from_bytes(bytes(100), 640, 480)
    text = str(info.value)
    assert "921,600 bytes (640*480*3)" in text
    assert "got 100 bytes" in text


@pytest.mark.parametrize(
    "bad",
    [np.zeros((4, 4), np.uint8), np.zeros((4, 4, 4), np.uint8), np.zeros((4, 4, 3)), b"raw", None],
)
def test_validate_rgb_rejects_non_rgb(bad: object) -> None:
    with pytest.raises(FrameError, match="expected a numpy uint8 array of shape"):
        validate_rgb(bad)


def test_bgr_swap_only_at_the_edges() -> None:
    image = np.zeros((1, 1, 3), dtype=np.uint8)
    image[0, 0] = (1, 2, 3)
    assert to_bgr(image)[0, 0].tolist() == [3, 2, 1]
    assert from_bgr(to_bgr(image))[0, 0].tolist() == [1, 2, 3]


def test_png_is_lossless_and_jpeg_is_close() -> None:
    image = SyntheticSource("gradient", width=64, height=48).render(3)
    assert np.array_equal(decode_image(encode_image(image, "png")), image)
    jpeg = decode_image(encode_image(image, "jpeg", quality=95))
    assert jpeg.shape == image.shape
    assert float(np.abs(jpeg.astype(int) - image.astype(int)).mean()) < 4.0


def test_decode_garbage_says_what_arrived() -> None:
    with pytest.raises(FrameError, match="starting with 6e 6f 70 65"):
        decode_image(b"nope, not an image")


@pytest.mark.parametrize("index", [0, 1, 255, 4242, 65535])
def test_frame_numbers_survive_tint_grayscale_and_jpeg(index: int) -> None:
    image = np.full((240, 320, 3), 128, dtype=np.uint8)
    burn_frame_number(image, index)
    tinted = GreenTint(boost=80).process(image)
    gray = Grayscale().process(image)
    jpeg = decode_image(encode_image(image, "jpeg", quality=50))
    assert [read_frame_number(x) for x in (image, tinted, gray, jpeg)] == [index] * 4


def test_unstamped_frames_read_as_none() -> None:
    assert read_frame_number(np.full((240, 320, 3), 90, dtype=np.uint8)) is None
    assert read_frame_number(np.zeros((8, 8, 3), dtype=np.uint8)) is None


def test_missing_opencv_names_the_extra_to_install() -> None:
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['cv2'] = None\n"
        "import numpy as np\n"
        "from byoc_lab import DependencyError\n"
        "from byoc_lab.frames import encode_image\n"
        "try:\n"
        "    encode_image(np.zeros((2, 2, 3), np.uint8))\n"
        "except DependencyError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    assert "OpenCV is needed to encode JPEG images" in out
    assert 'pip install "byoc_lab[lab]"' in out
    assert 'pip install "byoc_lab[container]"' in out
