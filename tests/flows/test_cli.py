"""The `chorus` command as a user runs it: exit codes, one clear error line, read-only queries, a failing asset."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from tests.conftest import EXAMPLE_DIR


def chorus(*args: str, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flows.cli", "-q", *args], capture_output=True, text=True,
                          env=env, timeout=timeout, cwd=Path(__file__).resolve().parents[2])


def _env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(CHORUS_HOME=str(home), PREFECT_HOME=str(home / "prefect"), PREFECT_SERVER_ANALYTICS_ENABLED="false")
    env.pop("PREFECT_API_URL", None)
    return env


def test_validate_accepts_the_example(tmp_path):
    r = chorus("validate", str(EXAMPLE_DIR / "campaign.yaml"), env=_env(tmp_path))
    assert r.returncode == 0, r.stderr
    assert "valid" in r.stdout and "first-vote" in r.stdout


def test_validate_names_every_error_of_a_broken_manifest(tmp_path):
    data = yaml.safe_load((EXAMPLE_DIR / "campaign.yaml").read_text(encoding="utf-8"))
    data["languages"].append("klingon-xx")
    data["countries"][1]["timezone"] = "Mars/Olympus"
    data["accounts"][0]["platform"] = "friendster"
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    r = chorus("validate", str(broken), env=_env(tmp_path))
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert lines[0].startswith("error: ") and "3 problems" in lines[0]
    assert any("languages" in line and "klingon-xx" in line for line in lines)
    assert any("countries[1].timezone" in line and "Mars/Olympus" in line for line in lines)
    assert any("accounts[0].platform" in line and "friendster" in line for line in lines)
    assert "Traceback" not in r.stderr


def test_query_answers_and_refuses_writes(tmp_path):
    from warehouse import db

    db.connect(tmp_path / "chorus.duckdb").close()
    env = _env(tmp_path)
    r = chorus("query", "select count(*) as n from posts", "--csv", env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["n", "0"]
    r = chorus("query", "delete from posts", env=env)
    assert r.returncode == 1
    assert r.stderr.startswith("error: `chorus query` is read-only") and "Traceback" not in r.stderr
    r = chorus("query", "select * from no_such_table", env=env)
    assert r.returncode == 1 and "query failed" in r.stderr


def test_query_without_a_warehouse_says_what_to_do(tmp_path):
    r = chorus("query", "select 1", env=_env(tmp_path / "empty"))
    assert r.returncode == 1 and "chorus run" in r.stderr


def test_run_reports_the_corrupt_asset_and_completes_the_others(tmp_path, tiny_campaign_with_corrupt_asset):
    env = _env(tmp_path / "home")
    r = chorus("run", str(tiny_campaign_with_corrupt_asset), env=env)
    assert r.returncode == 1
    assert "✗ broken: failed" in r.stdout and "broken.mp4" in r.stdout
    assert "✓ good: 3 variant(s) rendered, 3 post(s) planned" in r.stdout
    assert "1 of 2 asset(s) failed" in r.stderr
    q = chorus("query", "select asset_id, status from assets order by 1", "--csv", env=env)
    assert q.stdout.splitlines()[1:] == ["broken,failed", "good,rendered"]


def test_accounts_reschedule_cancel_and_caption_import_after_a_run(tmp_path, tiny_campaign):
    env = _env(tmp_path / "home")
    r = chorus("run", str(tiny_campaign), env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    bad = tmp_path / "bad.srt"
    bad.write_text("1\n00:00:00,000 --> 00:00:01,000\nfirst\n\n2\n00:00:00,500 --> 00:00:09,000\nsecond\n", encoding="utf-8")
    r = chorus("captions", "import", str(tiny_campaign), "good", "en", str(bad), env=env)
    assert r.returncode == 1 and "cue 2" in r.stderr and "overlap" in r.stderr and "Traceback" not in r.stderr
    good = tiny_campaign.parent / "good.en.srt"
    r = chorus("captions", "import", str(tiny_campaign), "good", "en", str(good), "--by", "Amira", env=env)
    assert r.returncode == 0, r.stderr
    q = chorus("query", "select origin, reviewed, reviewed_by from captions where language = 'en'", "--csv", env=env)
    assert q.stdout.splitlines()[1] == "reviewed,True,Amira"
    r = chorus("accounts", "--no-probe", env=env)
    assert r.returncode == 0, r.stderr
    assert "✓ tiny/ngo-x (x): ok" in r.stdout and "sandbox" in r.stdout
    keys = chorus("query", "select idempotency_key from posts order by 1", "--csv", env=env).stdout.splitlines()[1:]
    assert len(keys) == 3
    r = chorus("reschedule", keys[0], "2029-06-01T18:00+02:00", env=env)
    assert r.returncode == 0, r.stderr
    r = chorus("reschedule", keys[0], "next tuesday", env=env)
    assert r.returncode == 1 and r.stderr.startswith("error: 'next tuesday' is not a date and time")
    r = chorus("cancel", keys[1], env=env)
    assert r.returncode == 0 and "cancelled" in r.stdout
    rows = chorus("query", "select idempotency_key, state, scheduled_at from posts order by 1", "--csv", env=env)
    states = {line.split(",")[0]: line.split(",")[1:] for line in rows.stdout.splitlines()[1:]}
    assert states[keys[0]][0] == "planned" and states[keys[0]][1].startswith("2029-06-01 16:00:00")
    assert states[keys[1]][0] == "cancelled"
    r = chorus("cancel", keys[1], env=env)
    assert r.returncode == 1 and "Traceback" not in r.stderr


def test_caption_one_video_writes_srt_vtt_and_json(tmp_path):
    speech = Path(__file__).resolve().parents[1] / "media" / "data" / "speech" / "speech-en.mp4"
    r = chorus("caption", str(speech), "--lang", "en", "--out", str(tmp_path / "out"), env=_env(tmp_path))
    assert r.returncode == 0, r.stderr
    files = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert files == ["speech-en.en.json", "speech-en.en.srt", "speech-en.en.vtt"]
    srt = (tmp_path / "out" / "speech-en.en.srt").read_text(encoding="utf-8")
    assert "-->" in srt and "vote" in srt.lower()
    r = chorus("caption", str(tmp_path / "out" / "speech-en.en.srt"), "--lang", "en", env=_env(tmp_path))
    assert r.returncode == 1 and r.stderr.startswith("error: ") and "Traceback" not in r.stderr


def test_validate_fails_clearly_when_no_caption_font_covers_a_language(tmp_path):
    data = yaml.safe_load((EXAMPLE_DIR / "campaign.yaml").read_text(encoding="utf-8"))
    data["languages"].append("am")  # Amharic: Ethiopic script, which the bundled fonts do not cover
    manifest = tmp_path / "campaign.yaml"
    manifest.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    (tmp_path / "videos").mkdir()
    r = chorus("validate", str(manifest), env=_env(tmp_path))
    assert r.returncode == 1
    assert r.stderr.startswith("error: ") and "am" in r.stderr and "CHORUS_FONTS_DIR" in r.stderr


def test_translations_approve_names_a_bad_language(tmp_path):
    r = chorus("translations", "approve", "first-vote", "your-vote", "not a tag!", "--by", "Maria", env=_env(tmp_path))
    assert r.returncode == 1 and r.stderr.startswith("error: ") and "BCP-47" in r.stderr
