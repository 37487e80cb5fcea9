"""Settings: where Chorus keeps its files, which store and warehouse it uses, platform base URLs; all from the environment."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_BASE_URLS = {
    "tiktok": "https://open.tiktokapis.com",
    "youtube": "https://youtube.googleapis.com",
    "youtube_analytics": "https://youtubeanalytics.googleapis.com",
    "youtube_oauth": "https://oauth2.googleapis.com",
    "instagram": "https://graph.facebook.com/v21.0",
    "instagram_login": "https://graph.instagram.com",
    "facebook": "https://graph.facebook.com/v21.0",
    "rupload": "https://rupload.facebook.com",
    "linkedin": "https://api.linkedin.com/rest",
    "linkedin_oauth": "https://www.linkedin.com/oauth/v2",
    "x": "https://api.x.com",
    "deepl": "https://api.deepl.com",
    "libretranslate": "http://127.0.0.1:5000",
}


@dataclass(frozen=True)
class Settings:
    home: Path
    store_url: str
    warehouse_path: Path
    base_urls: dict[str, str] = field(default_factory=dict)
    asr_model: str = "bundled"
    asr_device: str = "auto"
    force_sandbox: bool = False
    render_workers: int = 0
    http_timeout_s: float = 30.0
    # Publishing: retries of a failed idempotent call, the base of the jittered backoff, the pause between
    # processing-status polls, and a factor on every rate-limit window (tests shrink waits with these).
    http_retries: int = 5
    http_backoff_s: float = 1.0
    poll_interval_s: float = 5.0
    rate_window_scale: float = 1.0

    @property
    def outputs_dir(self) -> Path:
        return self.home / "outputs"

    def base_url(self, name: str) -> str:
        return self.base_urls.get(name, DEFAULT_BASE_URLS[name]).rstrip("/")

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "Settings":
        env = dict(os.environ if env is None else env)
        home = Path(env.get("CHORUS_HOME", ".chorus")).expanduser()
        base_urls = {
            name: env[f"CHORUS_{name.upper()}_BASE_URL"]
            for name in DEFAULT_BASE_URLS
            if f"CHORUS_{name.upper()}_BASE_URL" in env
        }
        return cls(
            home=home,
            store_url=env.get("CHORUS_STORE", str(home / "store")),
            warehouse_path=Path(env.get("CHORUS_WAREHOUSE", str(home / "chorus.duckdb"))).expanduser(),
            base_urls=base_urls,
            asr_model=env.get("CHORUS_ASR_MODEL", "bundled"),
            asr_device=env.get("CHORUS_ASR_DEVICE", "auto"),
            force_sandbox=env.get("CHORUS_SANDBOX", "").lower() in {"1", "true", "yes"},
            render_workers=int(env.get("CHORUS_RENDER_WORKERS", "0") or 0),
            http_timeout_s=float(env.get("CHORUS_HTTP_TIMEOUT", "30")),
            http_retries=int(env.get("CHORUS_HTTP_RETRIES", "5")),
            http_backoff_s=float(env.get("CHORUS_HTTP_BACKOFF", "1")),
            poll_interval_s=float(env.get("CHORUS_POLL_INTERVAL", "5")),
            rate_window_scale=float(env.get("CHORUS_RATE_WINDOW_SCALE", "1")),
        )
