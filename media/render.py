"""Rendering language variants: the master reframed per platform format with the captions burned in, many outputs per decode.

Who does what: Pillow draws each caption once (media/caption_images.py); the composition of a variant is
moviepy's (a CompositeVideoClip of the reframed master and one ImageClip per caption layer, see
`Composition.to_moviepy`), and the moviepy engine renders exactly that. The default ffmpeg engine compiles the same
layers into one ffmpeg filter graph per master: the master is decoded once, reframed once per format, each caption
image is overlaid only during its cue and only over its own rectangle, and every variant is encoded by libx264 in
the same process. The soundtrack is loudness-normalised and encoded to AAC once and copied into every variant.
"""
from __future__ import annotations

import hashlib
import math
import os
import subprocess
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterable, Literal

import numpy as np
from PIL import Image

from campaign.errors import ChorusError, MediaError
from campaign.platforms import Platform, VideoFormat
from media import ffmpeg, limits
from media.caption_images import CaptionLayer, CaptionStyle, layout_cues
from media.cues import Cue
from media.loudness import LoudnessTarget, normalised_soundtrack
from media.probe import VideoInfo, probe
from media.reframe import Reframe
from media.safezones import safe_rect

# How each format is reframed unless the campaign says otherwise: vertical and near-vertical frames crop the
# (usually vertical) master; a landscape frame keeps the whole picture over a blurred fill of itself.
DEFAULT_REFRAME: dict[str, str] = {"9:16": "crop", "1:1": "crop", "4:5": "crop", "16:9": "blur"}
Engine = Literal["ffmpeg", "moviepy"]
ProgressFn = Callable[[str, float], None]
_ATLAS_MAX_H = 4096


@dataclass(frozen=True)
class RenderOptions:
    style: CaptionStyle = CaptionStyle()
    reframe: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_REFRAME))
    loudness: LoudnessTarget | None = LoudnessTarget()
    preset: str = "veryfast"
    crf: int = 23
    audio_bitrate: str = "128k"
    x264_threads: int = 0          # 0: libx264 decides (all cores)
    engine: Engine = "ffmpeg"
    outputs_per_process: int = 0   # 0: every variant of a master in one ffmpeg process (one decode)
    workers: int = 1               # ffmpeg processes at once for one master, when outputs are split

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "RenderOptions":
        """Options from CHORUS_CAPTION_STYLE, CHORUS_REFRAME ("16:9=blur,1:1=crop"), CHORUS_LOUDNESS_LUFS ("-14" or
        "off") and CHORUS_RENDER_CRF / CHORUS_RENDER_PRESET; each bad value is one clear MediaError."""
        env = dict(os.environ if env is None else env)
        reframe = dict(DEFAULT_REFRAME)
        for item in filter(None, (x.strip() for x in env.get("CHORUS_REFRAME", "").split(","))):
            name, _, mode = item.partition("=")
            if name.strip() not in DEFAULT_REFRAME or mode.strip() not in ("crop", "blur"):
                raise MediaError(f"CHORUS_REFRAME: {item!r} is not FORMAT=crop|blur",
                                 f"write e.g. '16:9=blur,1:1=crop' with formats {', '.join(DEFAULT_REFRAME)}")
            reframe[name.strip()] = mode.strip()
        lufs = env.get("CHORUS_LOUDNESS_LUFS", "-14").strip().lower()
        try:
            target = None if lufs in ("off", "none", "") else LoudnessTarget(integrated=float(lufs))
        except ValueError:
            raise MediaError(f"CHORUS_LOUDNESS_LUFS: {lufs!r} is not a number", "write e.g. -14, or 'off'") from None
        try:
            crf = int(env.get("CHORUS_RENDER_CRF", "23"))
        except ValueError:
            raise MediaError("CHORUS_RENDER_CRF is not a whole number", "write e.g. 23 (lower is better quality)") from None
        return cls(style=CaptionStyle(env.get("CHORUS_CAPTION_STYLE", "outlined").strip() or "outlined"),  # type: ignore[arg-type]
                   reframe=reframe, loudness=target, crf=crf, preset=env.get("CHORUS_RENDER_PRESET", "veryfast"))

    def reframe_for(self, fmt: VideoFormat) -> Reframe:
        return Reframe(self.reframe.get(fmt.name, DEFAULT_REFRAME.get(fmt.name, "crop")), fmt)  # type: ignore[arg-type]


@dataclass(frozen=True)
class VariantJob:
    """One variant to render: its id, language, frame, cues, where the file goes and which platforms it is for."""

    key: str
    language: str
    fmt: VideoFormat
    cues: tuple[Cue, ...]
    out: Path
    platforms: tuple[Platform, ...] = ()


@dataclass(frozen=True)
class RenderResult:
    path: Path
    duration_s: float
    width: int
    height: int
    size_bytes: int
    fps: float = 0.0
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class VariantOutcome:
    job: VariantJob
    result: RenderResult | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.result is not None


@dataclass(frozen=True, eq=False)
class Composition:
    """What one variant is: the master, reframed to a format, under timed caption layers."""

    master: Path
    info: VideoInfo
    fmt: VideoFormat
    reframe: Reframe
    layers: tuple[CaptionLayer, ...]
    fps: float

    @property
    def duration_s(self) -> float:
        return self.info.duration_s

    def to_moviepy(self):
        """The composition as moviepy clips: the reframed master under one ImageClip per caption layer."""
        from moviepy import CompositeVideoClip, ImageClip, VideoFileClip

        base = VideoFileClip(str(self.master))
        framed = self.reframe.apply(base)
        clips = [framed]
        for layer in self.layers:
            clips.append(ImageClip(layer.image, transparent=True).with_start(layer.start).with_end(layer.end)
                         .with_position((layer.x, layer.y)))
        return CompositeVideoClip(clips, size=(self.fmt.width, self.fmt.height)).with_duration(self.duration_s)


def output_fps(info: VideoInfo) -> float:
    """A constant frame rate every platform accepts (23-60): the master's own when it is in range."""
    fps = info.fps
    if not math.isfinite(fps) or fps <= 0:
        return 30.0
    if fps > 60:
        return 30.0 if fps % 30 < fps % 25 + 1 else 25.0
    if fps < 23:
        return 24.0
    return round(fps, 3)


def compose(master: Path, info: VideoInfo, job: VariantJob, options: RenderOptions) -> Composition:
    safe = safe_rect(job.fmt, job.platforms)
    layers = layout_cues(list(job.cues), job.language, job.fmt, safe, options.style, duration_s=info.duration_s)
    return Composition(master, info, job.fmt, options.reframe_for(job.fmt), tuple(layers), output_fps(info))


# --- the ffmpeg engine --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Placed:
    atlas: int
    y: int
    w: int
    h: int


def _pack_atlases(comps: list[Composition], folder: Path) -> tuple[list[Path], dict[int, _Placed]]:
    """Every distinct caption image stacked into a few PNGs (one decode each); formats of the same width share them."""
    placed: dict[int, _Placed] = {}
    by_hash: dict[str, _Placed] = {}
    atlases: list[list[np.ndarray]] = [[]]
    heights = [0]
    for comp in comps:
        for layer in comp.layers:
            img = layer.image
            digest = hashlib.blake2b(img.tobytes() + str(img.shape).encode(), digest_size=16).hexdigest()
            if digest not in by_hash:
                h, w = img.shape[:2]
                if heights[-1] + h > _ATLAS_MAX_H and atlases[-1]:
                    atlases.append([])
                    heights.append(0)
                by_hash[digest] = _Placed(len(atlases) - 1, heights[-1], w, h)
                atlases[-1].append(img)
                heights[-1] += h
            placed[id(layer)] = by_hash[digest]
    paths: list[Path] = []
    for i, images in enumerate(atlases):
        if not images:
            continue
        width = max(im.shape[1] for im in images)
        sheet = np.zeros((sum(im.shape[0] for im in images), width, 4), dtype=np.uint8)
        y = 0
        for im in images:
            sheet[y:y + im.shape[0], : im.shape[1]] = im
            y += im.shape[0]
        path = folder / f"captions-{i}.png"
        Image.fromarray(sheet).save(path, compress_level=1)
        paths.append(path)
    return paths, placed


def _graph(comps: list[Composition], atlas_inputs: list[int], placed: dict[int, _Placed]) -> tuple[str, list[str]]:
    """The filter graph: decode once, reframe once per format, overlay captions per variant; returns (graph, out labels)."""
    info = comps[0].info
    src_w, src_h = info.display_size
    parts: list[str] = []
    fmts: dict[tuple[str, int, int, str], list[int]] = {}
    for i, c in enumerate(comps):
        fmts.setdefault((c.fmt.name, c.fmt.width, c.fmt.height, c.reframe.mode), []).append(i)
    # Constant frame rate and 8-bit 4:2:0 once, before the split: VFR phone video and 10-bit masters become regular.
    parts.append(f"[0:v]setpts=PTS-STARTPTS,fps={comps[0].fps},format=yuv420p,split={len(fmts)}"
                 + "".join(f"[m{k}]" for k in range(len(fmts))))
    framed_label: dict[int, str] = {}
    for k, (_key, members) in enumerate(fmts.items()):
        comp = comps[members[0]]
        parts.append(comp.reframe.ffmpeg(src_w, src_h, f"m{k}", f"f{k}", tag=f"r{k}"))
        if len(members) == 1:
            framed_label[members[0]] = f"f{k}"
        else:
            parts.append(f"[f{k}]split={len(members)}" + "".join(f"[f{k}v{j}]" for j in range(len(members))))
            for j, i in enumerate(members):
                framed_label[i] = f"f{k}v{j}"
    uses: dict[int, int] = {}
    for c in comps:
        for layer in c.layers:
            uses[placed[id(layer)].atlas] = uses.get(placed[id(layer)].atlas, 0) + 1
    for a, n in uses.items():
        parts.append(f"[{atlas_inputs[a]}:v]split={n}" + "".join(f"[a{a}u{j}]" for j in range(n)))
    next_use = {a: 0 for a in uses}
    outs: list[str] = []
    for i, c in enumerate(comps):
        label = framed_label[i]
        for n, layer in enumerate(c.layers):
            p = placed[id(layer)]
            u = next_use[p.atlas]
            next_use[p.atlas] += 1
            cap, nxt = f"c{i}_{n}", f"v{i}_{n}"
            parts.append(f"[a{p.atlas}u{u}]crop={p.w}:{p.h}:0:{p.y}[{cap}]")
            # Overlaid only while the cue is on screen and only over its own rectangle; the held image is decoded once.
            parts.append(f"[{label}][{cap}]overlay=x={layer.x}:y={layer.y}:eof_action=repeat:"
                         f"enable='gte(t,{layer.start:.3f})*lt(t,{layer.end:.3f})'[{nxt}]")
            label = nxt
        outs.append(label)
    return ";\n".join(parts), outs


def _encode_args(options: RenderOptions, fps: float, duration: float) -> list[str]:
    args = ["-c:v", "libx264", "-preset", options.preset, "-crf", str(options.crf), "-pix_fmt", "yuv420p",
            "-r", f"{fps}", "-t", f"{duration:.3f}", "-c:a", "copy", "-movflags", "+faststart"]
    if options.x264_threads:
        args[2:2] = ["-threads", str(options.x264_threads)]
    return args


def _run_ffmpeg(args: list[str], duration: float, keys: list[str], progress: ProgressFn | None, log: Path) -> None:
    cmd = [ffmpeg.exe(), "-hide_banner", "-nostdin", "-y", "-progress", "pipe:1", "-nostats", *args]
    with open(log, "w+") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True)
        assert proc.stdout is not None
        for line in proc.stdout:
            if progress and line.startswith("out_time_us=") and line.strip() != "out_time_us=N/A":
                done = min(1.0, int(line.split("=", 1)[1]) / 1e6 / max(duration, 1e-6))
                for k in keys:
                    progress(k, done)
        rc = proc.wait()
        if rc != 0:
            err.seek(0)
            raise MediaError(f"ffmpeg could not render ({ffmpeg.last_error_line(err.read())})",
                             "check that the master plays; re-export it as MP4 (H.264/AAC) if it does not")
    if progress:
        for k in keys:
            progress(k, 1.0)


def _render_group(master: Path, soundtrack: Path, comps: list[Composition], jobs: list[VariantJob],
                  options: RenderOptions, folder: Path, progress: ProgressFn | None) -> None:
    atlases, placed = _pack_atlases(comps, folder)
    atlas_inputs = list(range(2, 2 + len(atlases)))
    graph, outs = _graph(comps, atlas_inputs, placed)
    script = folder / f"graph-{jobs[0].key[:40]}.txt".replace("/", "_")
    script.write_text(graph)
    args = ["-i", str(master), "-i", str(soundtrack)]
    for a in atlases:
        args += ["-i", str(a)]
    args += ["-/filter_complex", str(script)]
    for label, job in zip(outs, jobs):
        job.out.parent.mkdir(parents=True, exist_ok=True)
        args += ["-map", f"[{label}]", "-map", "1:a", *_encode_args(options, comps[0].fps, comps[0].duration_s),
                 str(_part(job.out))]
    _run_ffmpeg(args, comps[0].duration_s, [j.key for j in jobs], progress, folder / "ffmpeg.log")


def _part(out: Path) -> Path:
    return out.with_name(out.stem + ".part.mp4")


def _render_moviepy(comp: Composition, soundtrack: Path, job: VariantJob, options: RenderOptions) -> None:
    from moviepy import AudioFileClip

    clip = comp.to_moviepy().with_audio(AudioFileClip(str(soundtrack)))
    try:
        job.out.parent.mkdir(parents=True, exist_ok=True)
        clip.write_videofile(str(_part(job.out)), fps=comp.fps, codec="libx264", audio_codec="aac",
                             audio_bitrate=options.audio_bitrate, preset=options.preset, logger=None,
                             ffmpeg_params=["-crf", str(options.crf), "-movflags", "+faststart", "-pix_fmt", "yuv420p"])
    finally:
        clip.close()


def _accept(job: VariantJob, warnings: list[str]) -> VariantOutcome:
    part = _part(job.out)
    facts = limits.inspect(part)
    problems = limits.output_problems(facts, job.platforms)
    if facts.width != job.fmt.width or facts.height != job.fmt.height:
        problems.append(f"frame is {facts.width}x{facts.height}, not {job.fmt.width}x{job.fmt.height}")
    if problems:
        part.unlink(missing_ok=True)
        return VariantOutcome(job, None, f"rendered file refused: {'; '.join(problems)}")
    part.replace(job.out)
    return VariantOutcome(job, RenderResult(job.out, facts.duration_s, facts.width, facts.height, facts.size_bytes,
                                            facts.fps, tuple(warnings)))


def _chunks(items: list, size: int) -> list[list]:
    if size <= 0:
        return [items] if items else []
    return [items[i:i + size] for i in range(0, len(items), size)]


def render_variants(master: Path, jobs: Iterable[VariantJob], options: RenderOptions = RenderOptions(),
                    progress: ProgressFn | None = None) -> list[VariantOutcome]:
    """Render every job from one master; a job that cannot be rendered gets its reason and the others go on."""
    jobs = list(jobs)
    if not jobs:
        return []
    try:
        info = probe(master)
    except ChorusError as err:
        return [VariantOutcome(j, None, err.line) for j in jobs]
    if not info.rotation:
        # Phone video carries its rotation as a display matrix that moviepy's probe does not always read;
        # ffmpeg applies it when decoding, so the frame to reframe is the rotated one.
        info = replace(info, rotation=ffmpeg.rotation(str(master)))
    outcomes: dict[str, VariantOutcome] = {}
    ready: list[tuple[VariantJob, Composition, list[str]]] = []
    for job in jobs:
        problems = [p for p in (limits.master_problem(info.duration_s, pl, master.name) for pl in job.platforms) if p]
        if job.platforms and len(problems) == len(job.platforms):
            outcomes[job.key] = VariantOutcome(job, None, "; ".join(problems))
            continue
        problems += [w for w in (limits.master_warning(info.duration_s, pl, master.name) for pl in job.platforms) if w]
        try:
            ready.append((job, compose(master, info, job, options), problems))
        except ChorusError as err:
            outcomes[job.key] = VariantOutcome(job, None, err.line)
    if ready:
        with tempfile.TemporaryDirectory(prefix="chorus-render-") as tmp:
            folder = Path(tmp)
            try:
                soundtrack = normalised_soundtrack(master, folder / "soundtrack.m4a", info.duration_s, info.has_audio,
                                                   options.loudness, options.audio_bitrate)
            except ChorusError as err:
                return [outcomes.get(j.key) or VariantOutcome(j, None, err.line) for j in jobs]
            groups = _chunks(ready, 1 if options.engine == "moviepy" else options.outputs_per_process)

            def run_group(index: int, group: list[tuple[VariantJob, Composition, list[str]]]) -> list[VariantOutcome]:
                sub = folder / f"g{index}"
                sub.mkdir()
                try:
                    if options.engine == "moviepy":
                        try:
                            _render_moviepy(group[0][1], soundtrack, group[0][0], options)
                        except (OSError, ValueError, RuntimeError) as err:  # moviepy's errors carry ffmpeg's output
                            raise MediaError(f"moviepy could not render ({ffmpeg.last_error_line(str(err))})",
                                             "render with the ffmpeg engine or re-export the master") from None
                    else:
                        _render_group(master, soundtrack, [c for _, c, _ in group], [j for j, _, _ in group],
                                      options, sub, progress)
                except ChorusError as err:
                    if len(group) == 1:
                        return [VariantOutcome(group[0][0], None, err.line)]
                    # One bad output must not sink the rest: render each alone to find which one fails.
                    return [o for k, g in enumerate(group) for o in run_group(index * 1000 + k + 1, [g])]
                out = []
                for job, _, warns in group:
                    try:
                        out.append(_accept(job, warns))
                    except (ChorusError, OSError) as err:
                        out.append(VariantOutcome(job, None, f"rendered file cannot be checked ({err})"))
                return out

            with ThreadPoolExecutor(max_workers=max(1, options.workers)) as pool:
                for result in pool.map(lambda ig: run_group(*ig), enumerate(groups)):
                    for o in result:
                        outcomes[o.job.key] = o
    return [outcomes[j.key] for j in jobs]


def render_variant(master: Path, cues: list[Cue], fmt: VideoFormat, language: str, out: Path, *,
                   platforms: tuple[Platform, ...] = (), options: RenderOptions = RenderOptions(),
                   progress: ProgressFn | None = None) -> RenderResult:
    """One variant on its own (raises MediaError when it cannot be rendered)."""
    job = VariantJob(f"{language}-{fmt.slug}", language, fmt, tuple(cues), out, platforms)
    outcome = render_variants(master, [job], options, progress)[0]
    if outcome.result is None:
        raise MediaError(f"{language} {fmt.name} variant of {master.name}: {outcome.error}",
                         "fix the problem named and render again")
    return outcome.result


class ConsoleProgress:
    """A progress bar per render (rich), usable as the `progress` callback of render_variants."""

    def __init__(self, labels: dict[str, str] | None = None, *, disable: bool | None = None):
        from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

        self._labels = labels or {}
        disable = (not os.isatty(2)) if disable is None else disable
        self._progress = Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
                                  TimeRemainingColumn(), disable=disable, transient=False)
        self._tasks: dict[str, int] = {}
        self._lock = threading.Lock()

    def __enter__(self) -> "ConsoleProgress":
        self._progress.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._progress.__exit__(*exc)

    def __call__(self, key: str, fraction: float) -> None:
        with self._lock:
            if key not in self._tasks:
                self._tasks[key] = self._progress.add_task(self._labels.get(key, key), total=1.0)
            self._progress.update(self._tasks[key], completed=fraction)


__all__ = ["Composition", "ConsoleProgress", "DEFAULT_REFRAME", "RenderOptions", "RenderResult", "VariantJob",
           "VariantOutcome", "compose", "render_variant", "render_variants", "replace"]
