"""Fake DeepL (/v2/translate) and LibreTranslate (/translate) servers on 127.0.0.1, with their documented errors and limits.

A fake "translates" by replacing a few known English words and tagging the text with the target language, and
leaves XML/HTML tags (the glossary markers) untouched, as the real services do with ignore_tags / format=html.
Faults are queued per server: each queued status is answered once, in order, before normal service resumes.
"""
from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

WORDS = {"de": {"vote": "Stimme", "your": "deine", "register": "anmelden", "today": "heute", "is": "ist"},
         "es": {"vote": "voto", "your": "tu", "register": "inscríbete", "today": "hoy", "is": "es"},
         "ar": {"vote": "صوت", "your": "ك", "register": "سجّل", "today": "اليوم", "is": "هو"}}
DEEPL_TARGETS = {"BG", "CS", "DA", "DE", "EL", "EN-GB", "EN-US", "ES", "ET", "FI", "FR", "HU", "ID", "IT", "JA", "KO",
                 "LT", "LV", "NB", "NL", "PL", "PT-BR", "PT-PT", "RO", "RU", "SK", "SL", "SV", "TR", "UK", "ZH-HANS", "AR"}
LIBRE_LANGS = {"en", "de", "es", "ar", "fr", "uk", "ru", "fa", "el"}


def fake_translate(text: str, target: str) -> str:
    words = WORDS.get(target.lower().split("-")[0], {})
    parts = re.split(r"(<[^>]+>)", text)   # tags pass through untouched

    def swap(m: re.Match) -> str:
        w = m.group(0)
        return words.get(w.lower(), w.upper() if len(w) > 3 else w)
    return f"{target.lower()}: " + "".join(p if p.startswith("<") else re.sub(r"[A-Za-z]+", swap, p) for p in parts)


@dataclass
class FakeState:
    faults: list[tuple[int, dict]] = field(default_factory=list)   # (status, headers) answered before service
    requests: list[dict] = field(default_factory=list)
    characters: int = 0
    quota: int = 10_000_000
    api_key: str = "test-key"


class _Server:
    handler: type[BaseHTTPRequestHandler]

    def __init__(self) -> None:
        self.state = FakeState()
        state = self.state
        outer = self

        class Handler(self.handler):  # type: ignore[misc, valid-type]
            pass
        Handler.state = state  # type: ignore[attr-defined]
        Handler.outer = outer  # type: ignore[attr-defined]
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class _Base(BaseHTTPRequestHandler):
    state: FakeState

    def log_message(self, *args) -> None:  # keep test output clean
        pass

    def _send(self, status: int, body: dict | None, headers: dict | None = None) -> None:
        data = json.dumps(body or {}, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> dict | None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            return json.loads(raw or b"{}")
        except ValueError:
            return None

    def _fault(self) -> bool:
        if self.state.faults:
            status, headers = self.state.faults.pop(0)
            self._send(status, {"message": f"injected {status}", "error": f"injected {status}"}, headers)
            return True
        return False


class _DeepLHandler(_Base):
    def do_POST(self) -> None:
        body = self._body()
        self.state.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
        if self.path != "/v2/translate":
            return self._send(404, {"message": "Not found"})
        if self.headers.get("Authorization") != f"DeepL-Auth-Key {self.state.api_key}":
            return self._send(403, {"message": "Authorization failed. Please supply a valid auth_key parameter."})
        if self._fault():
            return
        if body is None or not isinstance(body.get("text"), list) or not body.get("target_lang"):
            return self._send(400, {"message": "Parameter 'text' or 'target_lang' not specified."})
        if len(body["text"]) > 50:
            return self._send(413, {"message": "Request Entity Too Large"})
        if body["target_lang"] not in DEEPL_TARGETS:
            return self._send(400, {"message": "Value for 'target_lang' not supported."})
        chars = sum(len(t) for t in body["text"])
        if self.state.characters + chars > self.state.quota:
            return self._send(456, {"message": "Quota exceeded. The character limit has been reached."})
        self.state.characters += chars
        self._send(200, {"translations": [{"detected_source_language": body.get("source_lang") or "EN",
                                           "text": fake_translate(t, body["target_lang"])} for t in body["text"]]})


class _LibreHandler(_Base):
    def do_POST(self) -> None:
        body = self._body()
        self.state.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
        if self.path != "/translate":
            return self._send(404, {"error": "Not Found"})
        if body is None or "q" not in body:
            return self._send(400, {"error": "Invalid request: missing q parameter"})
        if self.state.api_key and body.get("api_key") != self.state.api_key:
            return self._send(403, {"error": "Invalid API key"})
        if self._fault():
            return
        for lang_field in ("source", "target"):
            if body.get(lang_field) not in LIBRE_LANGS:
                return self._send(400, {"error": f"{body.get(lang_field)} is not supported"})
        q = body["q"]
        texts = q if isinstance(q, list) else [q]
        self._send(200, {"translatedText": [fake_translate(t, body["target"]) for t in texts] if isinstance(q, list)
                         else fake_translate(q, body["target"])})


class FakeDeepL(_Server):
    handler = _DeepLHandler


class FakeLibreTranslate(_Server):
    handler = _LibreHandler
