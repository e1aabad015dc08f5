"""Footprint: ``import byoc_lab`` time, a kernel's memory with a Lab running, image size.

- **Import time**: best of 3 fresh interpreters, each timing ``import byoc_lab`` with
  ``time.perf_counter`` (interpreter start-up excluded), beside ``import numpy`` alone
  (the one heavy module byoc_lab imports eagerly) and, in the full run,
  ``import pytrickle`` in its own venv.
- **Kernel memory**: a real ipykernel started with jupyter_client; resident set size
  (``VmRSS`` in ``/proc/<pid>/status``) of the kernel process when idle, then with
  ``lab = byoc_lab.Lab(byoc_lab.GreenTint(), source="synthetic")`` displayed and its
  preview playing for a few seconds (no browser attached: frames are processed, not
  shown), plus the peak (``VmHWM``).
- **Exported image**: ``byoc_lab.export()`` of the quickstart's processor
  (``examples/green_tint.py``) to a temporary directory; the context's own size, then
  ``pip download --only-binary :all: -r requirements.txt`` (what the Dockerfile's
  ``pip install`` fetches) plus the bundled byoc_lab wheel: the wheels' size, and their
  unpacked size (what ``pip install`` writes, without ``.pyc``). The reference is the
  installed size of pytrickle 0.1.6 and its dependencies in its venv (RECORD sizes,
  without ``.pyc``). The base image (``python:3.11-slim``) is not counted.

``quick`` measures the import time and the exported context only.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from benchmarks.report import Row, Section, markdown_table

__all__ = ["run"]

ROOT: Final = Path(__file__).resolve().parents[1]
PEER_PYTHON: Final = ROOT / ".venv-pytrickle" / "bin" / "python"
EXAMPLE: Final = f"{ROOT / 'examples' / 'green_tint.py'}:GreenTintProcessor"
PREVIEW_SECONDS: Final = 4.0
_MB: Final = 1e6
_IMPORT_RUNS: Final = 3

_TIME_IMPORT = (
    "import time; t = time.perf_counter(); import {module}; print((time.perf_counter() - t) * 1000)"
)

# Run by a venv's python: installed size (RECORD, without .pyc) of a distribution and
# everything it requires (markers evaluated, extras not followed), as JSON {name: bytes}.
_CLOSURE_SIZES = """
import importlib.metadata as md, json, os, sys
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
todo, sizes = [sys.argv[1]], {}
while todo:
    name = canonicalize_name(todo.pop())
    if name in sizes:
        continue
    dist = md.distribution(name)
    total = 0
    for path in dist.files or ():
        if "__pycache__" in path.parts or path.suffix == ".pyc":
            continue
        if path.size is not None:
            total += path.size
        else:
            located = path.locate()
            total += os.path.getsize(located) if os.path.isfile(located) else 0
    sizes[name] = total
    for text in dist.requires or ():
        req = Requirement(text)
        if req.marker is None or req.marker.evaluate({"extra": ""}):
            todo.append(req.name)
print(json.dumps(sizes))
"""


def _import_ms(python: Path | str, module: str) -> float:
    """Milliseconds one fresh interpreter takes to import ``module``."""
    result = subprocess.run(
        [str(python), "-c", _TIME_IMPORT.format(module=module)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        cwd=tempfile.gettempdir(),  # not the repo: import the installed package
    )
    return float(result.stdout.strip().splitlines()[-1])


def _best_imports(imports: list[tuple[Path | str, str]]) -> list[float]:
    """Best of 3 for each ``(python, module)``, taken in turns so noise hits all alike."""
    best = [float("inf")] * len(imports)
    for _ in range(_IMPORT_RUNS):
        for i, (python, module) in enumerate(imports):
            best[i] = min(best[i], _import_ms(python, module))
    return best


def import_rows(quick: bool) -> list[Row]:
    """``import byoc_lab`` beside ``import numpy`` (and ``import pytrickle`` when full)."""
    imports: list[tuple[Path | str, str]] = [
        (sys.executable, "byoc_lab"),
        (sys.executable, "numpy"),
    ]
    peer_ready = not quick and PEER_PYTHON.exists()
    if peer_ready:
        imports.append((PEER_PYTHON, "pytrickle"))
    times = _best_imports(imports)
    ours = f"{times[0]:.0f}"
    rows = [
        Row(
            "`import byoc_lab`, best of 3 fresh interpreters (ms)",
            ours,
            f"{times[1]:.0f}",
            note="reference: `import numpy` alone, which byoc_lab imports",
        )
    ]
    if quick:
        return rows
    if peer_ready:
        peer, note = f"{times[2]:.0f}", "reference: `import pytrickle` 0.1.6 in its venv (torch)"
    else:
        peer, note = "n/a", f"no pytrickle venv at {PEER_PYTHON} (make peers)"
    rows.append(Row("`import byoc_lab` vs `import pytrickle` (ms)", ours, peer, note=note))
    return rows


# -- kernel memory ------------------------------------------------------------------------


def _proc_status_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(f"{key} not in /proc/{pid}/status")


@dataclass(frozen=True)
class KernelMemory:
    """RSS of a kernel idle, and with a Lab previewing; its peak; what the preview did."""

    idle_kb: int
    lab_kb: int
    peak_kb: int
    preview: str


def kernel_memory(preview_seconds: float = PREVIEW_SECONDS) -> KernelMemory:
    """Start an ipykernel, measure it idle and with a Lab running, then shut it down.

    Raises:
        RuntimeError: a cell failed in the kernel (its error quoted).
    """
    from jupyter_client.manager import start_new_kernel

    # The kernel's stderr (its start-up warnings) goes to a file, quoted if a cell fails.
    with tempfile.TemporaryFile("w+") as log:
        km, kc = start_new_kernel(
            kernel_name="python3", startup_timeout=60, cwd=str(ROOT), stderr=log
        )
        try:
            return _measure_kernel(km, kc, preview_seconds)
        except RuntimeError as exc:
            log.seek(0)
            raise RuntimeError(f"{exc}; kernel stderr: {log.read()[-800:]}") from exc
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=False)


def _measure_kernel(km: Any, kc: Any, preview_seconds: float) -> KernelMemory:
    pid = km.provisioner.pid if km.provisioner is not None else None
    if not isinstance(pid, int):
        raise RuntimeError("jupyter_client did not report the kernel's process id")
    _execute(kc, "pass")
    time.sleep(0.5)
    idle = _proc_status_kb(pid, "VmRSS")
    _execute(
        kc, 'import byoc_lab\nlab = byoc_lab.Lab(byoc_lab.GreenTint(), source="synthetic")\nlab'
    )
    time.sleep(preview_seconds)
    stats = _execute(
        kc,
        "_s = lab.workbench.preview.stats()\n"
        'print(f"{_s.frames} frames, {_s.fps:.0f} fps, {_s.errors} errors")',
    )
    lab, peak = _proc_status_kb(pid, "VmRSS"), _proc_status_kb(pid, "VmHWM")
    _execute(kc, "lab.close()")
    return KernelMemory(idle, lab, peak, stats.strip())


def _execute(kc: Any, code: str) -> str:
    """Run ``code`` in the kernel; return its stdout.

    Raises:
        RuntimeError: the cell raised.
    """
    out: list[str] = []

    def hook(msg: dict[str, Any]) -> None:
        if msg["msg_type"] == "stream" and msg["content"].get("name") == "stdout":
            out.append(msg["content"]["text"])

    reply = kc.execute_interactive(code, timeout=120, output_hook=hook)
    content = reply["content"]
    if content["status"] != "ok":
        raise RuntimeError(
            f"kernel cell failed: {content.get('ename')}: {content.get('evalue')} ({code!r})"
        )
    return "".join(out)


def _kb_as_mb(kb: int) -> str:
    return f"{kb * 1024 / _MB:.0f}"


def memory_rows(memory: KernelMemory) -> list[Row]:
    """RSS with the Lab beside the idle kernel, the growth, and the peak."""
    mb = _kb_as_mb
    return [
        Row(
            "kernel RSS with a Lab previewing (MB)",
            mb(memory.lab_kb),
            mb(memory.idle_kb),
            note=f"reference: the same kernel idle; preview: {memory.preview}",
        ),
        Row("kernel RSS added by the Lab (MB)", mb(memory.lab_kb - memory.idle_kb)),
        Row("kernel peak RSS, VmHWM (MB)", mb(memory.peak_kb)),
    ]


# -- exported image -----------------------------------------------------------------------


def export_context(dest: Path) -> Path:
    """``byoc_lab.export()`` of the quickstart's processor into ``dest``; the context path."""
    import byoc_lab

    result = byoc_lab.export(EXAMPLE, dest, capability="green-tint-cpu", echo=lambda _: None)
    return result.path


def _files_size(paths: Iterable[Path]) -> int:
    return sum(p.stat().st_size for p in paths if p.is_file())


def _unpacked_size(wheel: Path) -> int:
    """Bytes ``pip install`` writes for ``wheel`` (its members, no ``.pyc``)."""
    with zipfile.ZipFile(wheel) as archive:
        return sum(info.file_size for info in archive.infolist() if not info.is_dir())


@dataclass(frozen=True)
class ImageSize:
    """Python packages an exported image installs."""

    wheels: int
    installed: int
    largest: list[tuple[str, int]]
    method: str


def image_size(context: Path, scratch: Path) -> ImageSize:
    """Download the requirements' wheels (or, failing that, read this venv's RECORDs)."""
    bundled = sorted(context.glob("*.whl"))
    download = scratch / "wheels"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--disable-pip-version-check",
            "--only-binary",
            ":all:",
            "-r",
            str(context / "requirements.txt"),
            "-d",
            str(download),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if result.returncode == 0:
        wheels = [*sorted(download.glob("*.whl")), *bundled]
        unpacked = {w.name.split("-")[0]: _unpacked_size(w) for w in wheels}
        return ImageSize(
            wheels=_files_size(wheels),
            installed=sum(unpacked.values()),
            largest=sorted(unpacked.items(), key=lambda kv: -kv[1])[:3],
            method="pip download --only-binary :all: -r requirements.txt, plus the bundled "
            "wheel; installed = the wheels unpacked",
        )
    reason = (result.stderr.strip().splitlines() or ["no message"])[-1]
    sizes = _venv_sizes(context / "requirements.txt")
    sizes.update({w.name.split("-")[0]: _unpacked_size(w) for w in bundled})
    return ImageSize(
        wheels=_files_size(bundled),
        installed=sum(sizes.values()),
        largest=sorted(sizes.items(), key=lambda kv: -kv[1])[:3],
        method=f"pip download failed ({reason[:120]}): installed sizes are this venv's "
        "RECORDs of the pinned distributions; wheels = the bundled wheel only",
    )


def _venv_sizes(requirements: Path) -> dict[str, int]:
    """RECORD sizes (no ``.pyc``) in this venv of each ``name==version`` line."""
    import importlib.metadata as md

    sizes = {}
    for line in requirements.read_text().splitlines():
        name = line.split("==")[0].strip()
        if not name or name.startswith(("#", "-")):
            continue
        files = md.distribution(name).files or []
        sizes[name] = sum(
            p.size or 0 for p in files if "__pycache__" not in p.parts and p.suffix != ".pyc"
        )
    return sizes


def pytrickle_installed() -> int | None:
    """Installed bytes of pytrickle 0.1.6 and its dependencies in the peer venv (None: no venv)."""
    if not PEER_PYTHON.exists():
        return None
    result = subprocess.run(
        [str(PEER_PYTHON), "-c", _CLOSURE_SIZES, "pytrickle"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    sizes: dict[str, int] = json.loads(result.stdout)
    return sum(sizes.values())


def image_rows(size: ImageSize, peer: int | None) -> list[Row]:
    """Wheels and installed size, beside pytrickle's installed runtime."""
    largest = ", ".join(f"{name} {n / _MB:.0f}" for name, n in size.largest)
    peer_text = "n/a" if peer is None else f"{peer / _MB:.0f}"
    peer_note = (
        "reference: pytrickle 0.1.6 + its dependencies (torch, ...) in its venv"
        if peer is not None
        else f"no pytrickle venv at {PEER_PYTHON} (make peers)"
    )
    return [
        Row("exported image's Python packages: wheels (MB)", f"{size.wheels / _MB:.1f}"),
        Row(
            "exported image's Python packages: installed, no .pyc (MB)",
            f"{size.installed / _MB:.0f}",
            peer_text,
            note=f"largest: {largest} MB; {peer_note}",
        ),
    ]


def run(quick: bool = False) -> Section:
    """Measure the footprint (``quick``: import time and the exported context only)."""
    rows = import_rows(quick)
    notes = []
    with tempfile.TemporaryDirectory(prefix="byoc-bench-") as tmp:
        context = export_context(Path(tmp) / "green-tint")
        files = [p for p in context.iterdir() if p.is_file()]
        rows.append(
            Row(
                "exported build context, all files (KiB)",
                f"{_files_size(files) / 1024:.0f}",
                note=f"{len(files)} files, the byoc_lab wheel included",
            )
        )
        if not quick:
            size = image_size(context, Path(tmp))
            rows += image_rows(size, pytrickle_installed())
            notes.append(f"Image size: {size.method}; the base image is not counted.")
    if not quick:
        rows += memory_rows(kernel_memory())
        notes.append(
            "Kernel memory: a real ipykernel (jupyter_client), RSS from /proc before and "
            f"{PREVIEW_SECONDS:g} s after `byoc_lab.Lab(byoc_lab.GreenTint(), "
            'source="synthetic")` was displayed; no browser attached, so the preview '
            "processes frames but does not show them."
        )
    notes.append(
        "Import time: `time.perf_counter()` around the import in a fresh interpreter "
        "(start-up excluded), best of 3; MB = 10^6 bytes."
    )
    return Section(
        title="Footprint",
        reference_name="reference (see note)",
        rows=rows,
        notes=notes,
    )


if __name__ == "__main__":
    print(markdown_table(run(quick="--quick" in sys.argv[1:])))
