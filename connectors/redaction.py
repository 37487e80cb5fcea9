"""Keeping secrets out of text: every token Chorus handles is registered here and masked in any text shown or logged.

Two layers, because either alone misses cases: the exact values of every token loaded or refreshed in this
process (whatever their shape), and patterns that look like credentials (`Bearer …`, `access_token=…`,
`"refresh_token": "…"`) for tokens this process never saw, such as one echoed back in a platform's error body.
"""
from __future__ import annotations

import logging
import re
import threading

MASK = "[redacted]"
# Shorter values are not registered: masking "ok" or "1" everywhere would garble messages, and real tokens are long.
_MIN_SECRET_LEN = 8

_lock = threading.Lock()
_secrets: set[str] = set()

_PATTERNS = [
    # Authorization headers as they appear in dumps: "Bearer abc", "OAuth abc".
    re.compile(r"(?i)\b(bearer|oauth|basic)\s+[A-Za-z0-9\-._~+/=%]{6,}"),
    # Query strings and form bodies: access_token=abc&...
    re.compile(r"(?i)\b((?:access|refresh|id|upload)_token|client_secret|code_verifier|token)=[^&\s\"']+"),
    # JSON: "access_token": "abc"
    re.compile(r"(?i)\"((?:access|refresh|id)_token|client_secret)\"\s*:\s*\"[^\"]*\""),
]


def register_secret(value: str | None) -> None:
    """Remember a secret value so that `redact` masks it wherever it turns up."""
    if value and len(value) >= _MIN_SECRET_LEN:
        with _lock:
            _secrets.add(value)


def redact(text: object) -> str:
    """`text` as a string with every registered secret and every credential-looking fragment masked."""
    out = str(text)
    with _lock:
        known = sorted(_secrets, key=len, reverse=True)
    for secret in known:
        if secret in out:
            out = out.replace(secret, MASK)
    out = _PATTERNS[0].sub(lambda m: f"{m.group(1)} {MASK}", out)
    out = _PATTERNS[1].sub(lambda m: f"{m.group(1)}={MASK}", out)
    out = _PATTERNS[2].sub(lambda m: f"\"{m.group(1)}\": \"{MASK}\"", out)
    return out


class RedactingFilter(logging.Filter):
    """A logging filter that masks secrets in a record's message and arguments before any handler sees them.

    Attach it to a handler (it then covers every logger) or to a logger (it covers that logger's own records).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is still shown, masked as a whole
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def install_log_redaction(*logger_names: str) -> None:
    """Mask secrets in the records of the loggers that can see them (ours, and urllib3's, which logs request URLs)."""
    for name in logger_names or ("connectors", "urllib3", "urllib3.connectionpool", "requests_oauthlib"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactingFilter) for f in logger.filters):
            logger.addFilter(RedactingFilter())
