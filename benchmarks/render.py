"""Benchmark: 9 variants (3 languages x 3 formats) of a generated 1080x1920 master, rendered three ways in one run.

  naive   moviepy as usually written (and as Chorus's first version did it): per variant, VideoFileClip ->
          resized to cover -> centre crop -> CompositeVideoClip with a TextClip per cue -> write_videofile
          (moviepy decodes, scales and composites every frame in Python; ffmpeg encodes).
  chorus  media.render.render_variants: captions drawn once, one ffmpeg graph decoding the master once,
          overlays only while a cue is on, soundtrack loudness-normalised once.
  floor   ffmpeg alone: the same 9 encodes (same crops, libx264 veryfast crf 23, AAC) from one decode, no captions.

Each way runs in its own child process; CPU is user+system of that process and everything it started
(resource.getrusage(RUSAGE_CHILDREN) around it), peak memory is the largest total RSS of its process tree,
sampled from /proc every 0.1 s. Run:  .venv/bin/python benchmarks/render.py [--quick] [--ways naive,chorus,floor]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

LANGS = ("en", "de", "ar")
FORMATS = ("9:16", "1:1", "4:5")
LINES = {
    "en": ["Your vote is your voice.", "Next spring, millions of young\nEuropeans vote for the first time.",
           "Register today and make sure\nyour voice is heard."],
    "de": ["Deine Stimme zählt.", "Im Frühling wählen Millionen junger\nEuropäerinnen und Europäer zum ersten Mal.",
           "Lass dich heute registrieren –\ndamit deine Stimme gehört wird."],
    "ar": ["صوتك هو صوتك الانتخابي.", "في الربيع القادم، يصوّت ملايين الشباب\nالأوروبيين لأول مرة.",
           "سجّل اليوم،\nوتأكد من أن صوتك مسموع."],
}


def cues_for(lang: str, seconds: float):
    from media.cues import Cue

    out, t, i = [], 0.3, 0
    while t + 2.0 < seconds:
        out.append(Cue(round(t, 2), round(t + 2.6, 2), LINES[lang][i % 3]))
        t += 3.0
        i += 1
    return out


def make_master(path: Path, seconds: float) -> None:
    from media import ffmpeg

    ffmpeg.run(["-y", "-f", "lavfi", "-i", f"testsrc2=size=1080x1920:rate=30:duration={seconds}", "-f", "lavfi",
                "-i", f"sine=frequency=330:duration={seconds}", "-c:v", "libx264", "-preset", "ultrafast", "-crf", "18",
                "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(path)], what="making the master", fix="")


def variants():
    from campaign.platforms import FORMATS as ALL

    return [(lang, ALL[f]) for lang in LANGS for f in FORMATS]


# --- the three ways (each runs in its own process) ---------------------------------------------------------

def run_naive(master: Path, out: Path, seconds: float) -> None:
    from moviepy import CompositeVideoClip, TextClip, VideoFileClip

    from media.fonts import font_for

    for lang, fmt in variants():
        clip = VideoFileClip(str(master))
        # The generic reframe as the project's first version wrote it: scale to cover, then centre crop.
        scale = max(fmt.width / clip.w, fmt.height / clip.h)
        framed = clip.resized(scale).cropped(x_center=clip.w * scale / 2, y_center=clip.h * scale / 2,
                                             width=fmt.width, height=fmt.height)
        font = str(font_for(lang).path)
        layers = [framed]
        for cue in cues_for(lang, seconds):
            txt = TextClip(font=font, text=cue.text, font_size=54, color="white", stroke_color="black", stroke_width=5,
                           text_align="center", margin=(10, 10))
            layers.append(txt.with_start(cue.start).with_end(cue.end).with_position(("center", int(fmt.height * 0.68))))
        final = CompositeVideoClip(layers, size=(fmt.width, fmt.height)).with_duration(clip.duration)
        final.write_videofile(str(out / f"naive-{lang}-{fmt.slug}.mp4"), codec="libx264", audio_codec="aac",
                              preset="veryfast", ffmpeg_params=["-crf", "23", "-movflags", "+faststart", "-pix_fmt", "yuv420p"],
                              logger=None)
        clip.close()


def run_chorus(master: Path, out: Path, seconds: float) -> None:
    from media.render import RenderOptions, VariantJob, render_variants

    jobs = [VariantJob(f"{lang}-{fmt.slug}", lang, fmt, tuple(cues_for(lang, seconds)), out / f"chorus-{lang}-{fmt.slug}.mp4")
            for lang, fmt in variants()]
    outcomes = render_variants(master, jobs, RenderOptions())
    bad = [o.error for o in outcomes if not o.ok]
    if bad:
        raise SystemExit(f"chorus failed: {bad}")


def run_floor(master: Path, out: Path, seconds: float) -> None:
    from media import ffmpeg

    vs = variants()
    fmts = list(dict.fromkeys(f for _, f in vs))
    parts = [f"[0:v]split={len(fmts)}" + "".join(f"[m{k}]" for k in range(len(fmts)))]
    labels = []
    for k, f in enumerate(fmts):
        crop = "null" if (f.width, f.height) == (1080, 1920) else f"crop={f.width}:{f.height}"
        members = [i for i, (_, g) in enumerate(vs) if g == f]
        parts.append(f"[m{k}]{crop},split={len(members)}" + "".join(f"[o{i}]" for i in members))
    args = ["-y", "-i", str(master), "-filter_complex", ";".join(parts)]
    for i, (lang, f) in enumerate(vs):
        args += ["-map", f"[o{i}]", "-map", "0:a", "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt",
                 "yuv420p", "-c:a", "aac", "-b:a", "128k", "-movflags", "+faststart", str(out / f"floor-{lang}-{f.slug}.mp4")]
        labels.append(i)
    ffmpeg.run(args, what="the ffmpeg floor", fix="")


WAYS = {"naive": run_naive, "chorus": run_chorus, "floor": run_floor}


# --- measuring -----------------------------------------------------------------------------------------------

def _tree_rss(root: int) -> int:
    """Total resident memory of a process and all its descendants, in bytes (Linux /proc)."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    page = os.sysconf("SC_PAGE_SIZE")
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            parents[int(d)] = int(fields[1])
            rss[int(d)] = int(fields[21]) * page
        except (OSError, IndexError, ValueError):
            continue
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(p for p, pp in parents.items() if pp == pid)
    return total


def measure(way: str, master: Path, out: Path, seconds: float) -> dict:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, __file__, "--run", way, "--master", str(master), "--out", str(out),
                             "--seconds", str(seconds)])
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss(proc.pid))
            done.wait(0.1)
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    rc = proc.wait()
    done.set()
    sampler.join()
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if rc != 0:
        raise SystemExit(f"{way} failed with exit code {rc}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"way": way, "cpu_s": cpu, "wall_s": wall, "peak_mib": peak / 1024**2}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="a 6 s master instead of 30 s (smoke run)")
    p.add_argument("--seconds", type=float, default=None)
    p.add_argument("--ways", default="floor,chorus,naive")
    p.add_argument("--json", default=None, help="also write the figures to this file")
    p.add_argument("--run", choices=WAYS, help=argparse.SUPPRESS)
    p.add_argument("--master", help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    a = p.parse_args()
    seconds = a.seconds or (6.0 if a.quick else 30.0)
    if a.run:
        WAYS[a.run](Path(a.master), Path(a.out), seconds)
        return
    with tempfile.TemporaryDirectory(prefix="chorus-bench-") as tmp:
        master = Path(tmp) / "master.mp4"
        make_master(master, seconds)
        out = Path(tmp) / "out"
        out.mkdir()
        print(f"master: {seconds:g} s 1080x1920 30 fps; 9 variants = {', '.join(LANGS)} x {', '.join(FORMATS)}; "
              f"libx264 veryfast crf 23; cores: {os.cpu_count()}; load before: {os.getloadavg()[0]:.2f}", flush=True)
        rows = []
        for way in a.ways.split(","):
            row = measure(way.strip(), master, out, seconds)
            rows.append(row)
            print(f"  {row['way']:<7} cpu {row['cpu_s']:8.1f} s   wall {row['wall_s']:8.1f} s   peak {row['peak_mib']:7.0f} MiB",
                  flush=True)
        by = {r["way"]: r for r in rows}
        print(f"load after: {os.getloadavg()[0]:.2f}")
        if "floor" in by and "chorus" in by:
            print(f"chorus / floor CPU: {by['chorus']['cpu_s'] / by['floor']['cpu_s']:.2f}x   (target <= 1.2x)")
            print(f"chorus / floor wall: {by['chorus']['wall_s'] / by['floor']['wall_s']:.2f}x")
        if "naive" in by and "chorus" in by:
            print(f"naive / chorus CPU: {by['naive']['cpu_s'] / by['chorus']['cpu_s']:.1f}x faster   (target >= 5x)")
            print(f"naive / chorus wall: {by['naive']['wall_s'] / by['chorus']['wall_s']:.1f}x")
        if "naive" in by and "floor" in by:
            print(f"naive / floor CPU: {by['naive']['cpu_s'] / by['floor']['cpu_s']:.1f}x")
        if a.json:
            Path(a.json).write_text(json.dumps({"seconds": seconds, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
