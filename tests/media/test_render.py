"""Rendering variants: captions in the safe zone, right-to-left Arabic, every format's size, styles, loudness, bad input."""
from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from campaign.errors import MediaError
from campaign.platforms import Platform, VideoFormat
from media import limits, loudness
from media.caption_images import CaptionStyle, _font, layout_cue, text_kwargs
from media.cues import Cue, Word
from media.fonts import font_for
from media.render import RenderOptions, VariantJob, render_variant, render_variants
from media.safezones import safe_rect
from tests.conftest import FFMPEG

GREY = 128
V916 = VideoFormat("9:16", 270, 480)


def ff(*args: str) -> None:
    subprocess.run([FFMPEG, "-y", "-v", "error", *args], check=True)


def grey_master(path: Path, seconds: float = 1.0, size: str = "270x480", fps: int = 24, audio: bool = True) -> Path:
    """A flat grey clip: every pixel that is not grey in a render is a caption pixel."""
    args = ["-f", "lavfi", "-i", f"color=c=0x808080:s={size}:r={fps}:d={seconds}"]
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}", "-c:a", "aac", "-shortest"]
    ff(*args, "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(path))
    return path


def frame_at(path: Path, t: float, w: int, h: int) -> np.ndarray:
    raw = subprocess.run([FFMPEG, "-v", "error", "-ss", f"{t}", "-i", str(path), "-frames:v", "1", "-f", "rawvideo",
                          "-pix_fmt", "rgb24", "-"], check=True, capture_output=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(h, w, 3)


def ink(frame: np.ndarray, tol: int = 48) -> np.ndarray:
    return (np.abs(frame.astype(int) - GREY) > tol).any(axis=2)


@pytest.fixture(scope="module")
def grey(tmp_path_factory) -> Path:
    return grey_master(tmp_path_factory.mktemp("grey") / "grey.mp4")


def test_caption_pixels_are_inside_the_safe_zone_and_only_while_the_cue_is_on(grey, tmp_path):
    cue = Cue(0.25, 0.85, "Deine Stimme zählt,\nregistriere dich heute!")
    out = render_variant(grey, [cue], V916, "de", tmp_path / "de.mp4", platforms=(Platform.TIKTOK,))
    assert (out.width, out.height) == (270, 480)
    mask = ink(frame_at(out.path, 0.5, 270, 480))
    assert mask.sum() > 200, "no caption pixels at the cue's time"
    safe = safe_rect(V916, (Platform.TIKTOK,))
    ys, xs = np.nonzero(mask)
    # 2 px of slack: 4:2:0 chroma is stored at half resolution, so an edge can bleed one pixel pair.
    assert xs.min() >= safe.x0 - 2 and xs.max() < safe.x1 + 2 and ys.min() >= safe.y0 - 2 and ys.max() < safe.y1 + 2
    outside = mask.copy()
    outside[safe.y0:safe.y1, safe.x0:safe.x1] = False
    assert outside.sum() == 0
    assert ink(frame_at(out.path, 0.1, 270, 480)).sum() == 0, "caption shown before its cue"


def test_arabic_renders_right_to_left_like_pillows_own_shaping():
    text = "سجّل اليوم يا شباب"
    fmt = VideoFormat("9:16", 1080, 1920)
    style = CaptionStyle("outlined")
    layers = layout_cue(Cue(0, 1, text), "ar", fmt, safe_rect(fmt), style)
    ours = layers[0].image[..., 3] > 128
    choice = font_for("ar", text)
    size = round(1080 * style.size)
    font = _font(choice.path, size, choice.variation)
    stroke = max(1, round(size * 0.09))

    def pillow(t: str, **kw) -> np.ndarray:
        img = Image.new("L", (1400, 300), 0)
        ImageDraw.Draw(img).text((50, 150), t, font=font, fill=255, anchor="ls", stroke_width=stroke, stroke_fill=255, **kw)
        a = np.asarray(img) > 128
        ys, xs = np.nonzero(a)
        return a[ys.min():ys.max() + 1, xs.min():xs.max() + 1]

    def crop(a: np.ndarray) -> np.ndarray:
        ys, xs = np.nonzero(a)
        return a[ys.min():ys.max() + 1, xs.min():xs.max() + 1]

    ours = crop(ours)
    reference = pillow(text, **text_kwargs("ar"))
    assert ours.shape == reference.shape and (ours == reference).mean() > 0.99
    # A renderer that ignores direction and shaping draws something else.
    naive = pillow(text, direction="ltr", features=["-liga", "-init", "-medi", "-fina", "-rlig", "-calt"])
    assert naive.shape != reference.shape or (naive == reference).mean() < 0.95
    # The first word read is drawn at the right end of the line.
    first = pillow("سجّل", **text_kwargs("ar"))
    h, w = first.shape
    # Align the word on the line's bottom rows (same baseline and font), then compare both ends of the line.
    def best(part: np.ndarray) -> float:
        return max((part[y:y + h] == first).mean() for y in range(0, part.shape[0] - h + 1))
    right, left = best(ours[:, -w:]), best(ours[:, :w])
    assert right > 0.97 and right > left + 0.05


def test_every_format_has_its_size_and_is_a_platform_ready_mp4(tmp_path):
    master = grey_master(tmp_path / "m.mp4", size="320x568", seconds=1.0)
    fmts = {"9:16": VideoFormat("9:16", 180, 320), "1:1": VideoFormat("1:1", 240, 240),
            "4:5": VideoFormat("4:5", 240, 300), "16:9": VideoFormat("16:9", 320, 180)}
    jobs = [VariantJob(name, "en", f, (Cue(0.1, 0.9, "Your vote is your voice."),), tmp_path / f"{f.slug}.mp4",
                       (Platform.TIKTOK,)) for name, f in fmts.items()]
    outcomes = render_variants(master, jobs, RenderOptions(reframe={"16:9": "blur", "1:1": "crop"}))
    for o in outcomes:
        assert o.ok, o.error
        facts = limits.inspect(o.result.path)
        assert (facts.width, facts.height) == (o.job.fmt.width, o.job.fmt.height)
        assert facts.video_codec == "h264" and facts.audio_codec == "aac" and facts.moov_first
        assert not limits.output_problems(facts, [Platform.TIKTOK])


def test_blurred_fill_keeps_the_whole_picture_and_crop_fills_the_frame(tmp_path):
    # A black frame with a white bar across the middle: cropped to 16:9 the bar fills the width, with a blurred
    # fill the original frame sits in the middle with its black top and bottom visible around the bar.
    master = tmp_path / "bar.mp4"
    ff("-f", "lavfi", "-i", "color=c=black:s=180x320:r=24:d=0.5", "-vf", "drawbox=x=0:y=150:w=180:h=20:c=white:t=fill",
       "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(master))
    f = VideoFormat("16:9", 320, 180)
    jobs = [VariantJob(m, "en", f, (), tmp_path / f"{m}.mp4") for m in ("crop", "blur")]
    crop_o, = render_variants(master, jobs[:1], RenderOptions(reframe={"16:9": "crop"}, loudness=None))
    blur_o, = render_variants(master, jobs[1:], RenderOptions(reframe={"16:9": "blur"}, loudness=None))
    crop_f, blur_f = frame_at(crop_o.result.path, 0.2, 320, 180), frame_at(blur_o.result.path, 0.2, 320, 180)
    assert crop_f[90, 5].mean() > 200 and crop_f[90, 315].mean() > 200       # the bar is cut at both edges
    assert blur_f[90, 160].mean() > 200                                       # bar in the middle of the picture
    assert blur_f[20, 160].mean() < 40                                        # the master's black above it
    assert blur_f[90, 5].mean() < blur_f[90, 160].mean() - 60                 # beside it: fill, not the bar


def test_word_by_word_highlight_follows_the_word_timings(grey, tmp_path):
    words = (Word(0.1, 0.45, "Your"), Word(0.45, 0.9, "vote"))
    cue = Cue(0.1, 0.9, "Your vote", words)
    out = render_variant(grey, [cue], V916, "en", tmp_path / "hl.mp4", options=RenderOptions(style=CaptionStyle("highlight")))

    def yellow_x(t: float) -> float:
        f = frame_at(out.path, t, 270, 480).astype(int)
        m = (f[..., 0] > 180) & (f[..., 1] > 150) & (f[..., 2] < 90)
        assert m.sum() > 10, f"no highlighted word at {t}s"
        return float(np.nonzero(m)[1].mean())

    assert yellow_x(0.3) < yellow_x(0.7)   # first the left word, then the right one


def test_boxed_style_draws_a_box_behind_the_text():
    fmt = VideoFormat("9:16", 540, 960)
    outlined = layout_cue(Cue(0, 1, "Vote"), "en", fmt, safe_rect(fmt), CaptionStyle("outlined"))[0].image
    boxed = layout_cue(Cue(0, 1, "Vote"), "en", fmt, safe_rect(fmt), CaptionStyle("boxed"))[0].image
    assert boxed[..., 3].mean() > outlined[..., 3].mean() * 1.5
    assert boxed[2, boxed.shape[1] // 2, 3] == 0 or boxed[boxed.shape[0] // 2, 2, 3] > 0
    with pytest.raises(MediaError, match="unknown"):
        CaptionStyle("neon")  # type: ignore[arg-type]


def test_greek_cyrillic_and_latin_diacritics_have_a_font():
    for lang, text in {"el": "Η ψήφος σου μετράει", "uk": "Твій голос має значення", "ru": "Твой голос",
                       "pl": "Zażółć gęślą jaźń", "ro": "Votul tău contează", "fa": "رأی تو صدای توست"}.items():
        choice = font_for(lang, text)
        layers = layout_cue(Cue(0, 1, text), lang, V916, safe_rect(V916), font=choice)
        assert layers and layers[0].image[..., 3].any()


def test_loudness_is_normalised_to_the_target(tmp_path):
    master = tmp_path / "quiet.mp4"
    ff("-f", "lavfi", "-i", "color=c=gray:s=64x112:r=24:d=3", "-f", "lavfi", "-i", "sine=frequency=440:duration=3",
       "-af", "volume=-14dB", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest", str(master))
    before = loudness.integrated(master)
    out = render_variant(master, [], VideoFormat("9:16", 64, 112), "en", tmp_path / "loud.mp4")
    after = loudness.integrated(out.path)
    assert before is not None and after is not None
    assert abs(before + 14) > 5 and abs(after + 14) < 1.0


def test_rotated_vfr_odd_and_unusual_masters_render(tmp_path):
    base = tmp_path / "landscape.mp4"
    ff("-f", "lavfi", "-i", "testsrc2=s=320x180:r=30:d=1", "-c:v", "libx264", "-preset", "ultrafast", str(base))
    rotated = tmp_path / "rotated.mp4"
    ff("-display_rotation:v:0", "90", "-i", str(base), "-c", "copy", str(rotated))
    vfr = tmp_path / "vfr.mp4"
    ff("-f", "lavfi", "-i", "testsrc2=s=180x320:r=30:d=1", "-vf", r"select='lt(n\,10)+not(mod(n\,4))'",
       "-fps_mode", "vfr", "-c:v", "libx264", "-preset", "ultrafast", str(vfr))
    odd = tmp_path / "odd.mkv"
    ff("-f", "lavfi", "-i", "testsrc2=s=181x321:r=25:d=1", "-f", "lavfi", "-i", "sine=duration=1", "-c:v", "mpeg4",
       "-c:a", "pcm_s16le", "-shortest", str(odd))
    fmt = VideoFormat("9:16", 180, 320)
    for master in (rotated, vfr, odd):
        out = render_variant(master, [Cue(0.1, 0.9, "Hello")], fmt, "en", tmp_path / f"{master.stem}-out.mp4")
        facts = limits.inspect(out.path)
        assert (facts.width, facts.height) == (180, 320) and facts.video_codec == "h264" and facts.audio_codec == "aac"
        assert 23 <= facts.fps <= 60
    # The rotated landscape clip is portrait once rotated: its centre crop keeps the full width, no black bars.
    f = frame_at(tmp_path / "rotated-out.mp4", 0.05, 180, 320)
    assert f[:, :8].mean() > 10 and f[:, -8:].mean() > 10
    # Variable frame rate becomes constant: as many frames as duration x fps.
    frames = subprocess.run([FFMPEG, "-v", "error", "-i", str(tmp_path / "vfr-out.mp4"), "-map", "0:v", "-c", "copy",
                             "-f", "null", "-", "-stats_period", "100", "-progress", "pipe:1"], capture_output=True,
                            text=True).stdout
    count = int([ln for ln in frames.splitlines() if ln.startswith("frame=")][-1].split("=")[1])
    facts = limits.inspect(tmp_path / "vfr-out.mp4")
    assert abs(count - facts.duration_s * facts.fps) <= 1


def test_bad_input_gets_one_clear_message_and_other_variants_go_on(tmp_path):
    long_master = grey_master(tmp_path / "long.mp4", seconds=91.0, size="36x64", fps=24, audio=False)
    fmt = VideoFormat("9:16", 36, 64)
    jobs = [
        VariantJob("facebook", "en", fmt, (), tmp_path / "fb.mp4", (Platform.FACEBOOK,)),        # 90 s at most
        VariantJob("amharic", "am", fmt, (Cue(0, 1, "ድምጽህ"),), tmp_path / "am.mp4", (Platform.TIKTOK,)),
        VariantJob("tiktok", "en", fmt, (Cue(0, 1, "Vote"),), tmp_path / "tt.mp4", (Platform.TIKTOK,)),
    ]
    fb, am, tt = render_variants(long_master, jobs, RenderOptions(loudness=None))
    assert not fb.ok and "Facebook Reels accepts at most 90 s" in fb.error
    assert not am.ok and "no installed font covers Amharic" in am.error and "CHORUS_FONTS_DIR" in am.error
    assert tt.ok and tt.result.path.is_file() and limits.inspect(tt.result.path).audio_codec == "aac"

    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"garbage" * 100)
    outcomes = render_variants(broken, jobs[2:], RenderOptions())
    assert not outcomes[0].ok and "broken.mp4" in outcomes[0].error and "\n" not in outcomes[0].error


def test_the_moviepy_engine_renders_the_same_composition(grey, tmp_path):
    cue = Cue(0.2, 0.9, "Your vote")
    fast = render_variant(grey, [cue], V916, "en", tmp_path / "ff.mp4")
    ref = render_variant(grey, [cue], V916, "en", tmp_path / "mp.mp4", options=RenderOptions(engine="moviepy"))
    a, b = frame_at(fast.path, 0.5, 270, 480), frame_at(ref.path, 0.5, 270, 480)
    assert ink(a).sum() > 100
    # Same caption in the same place: the ink masks overlap almost entirely.
    overlap = (ink(a) & ink(b)).sum() / max(1, (ink(a) | ink(b)).sum())
    assert overlap > 0.8


def test_render_settings_from_the_environment_fail_clearly():
    opts = RenderOptions.from_env({"CHORUS_REFRAME": "1:1=blur", "CHORUS_CAPTION_STYLE": "boxed",
                                   "CHORUS_LOUDNESS_LUFS": "off"})
    assert opts.reframe["1:1"] == "blur" and opts.reframe["16:9"] == "blur" and opts.reframe["9:16"] == "crop"
    assert opts.style.name == "boxed" and opts.loudness is None
    for env, field in (({"CHORUS_REFRAME": "2:1=blur"}, "CHORUS_REFRAME"), ({"CHORUS_LOUDNESS_LUFS": "loud"}, "LUFS"),
                       ({"CHORUS_CAPTION_STYLE": "neon"}, "neon")):
        with pytest.raises(MediaError, match=field):
            RenderOptions.from_env(env)


def test_word_highlight_runs_right_to_left_in_arabic():
    fmt = VideoFormat("9:16", 540, 960)
    layers = layout_cue(Cue(0, 2, "سجّل اليوم يا شباب"), "ar", fmt, safe_rect(fmt), CaptionStyle("highlight"))
    words = layers[1:]
    assert len(words) == 4
    assert [w.start for w in words] == sorted(w.start for w in words)          # spoken in order...
    assert [w.x for w in words] == sorted((w.x for w in words), reverse=True)  # ...drawn from the right
    for w in words:
        assert layers[0].rect.contains(w.rect)
