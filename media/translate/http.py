"""HTTP for translation providers: one session with retries (429 and 5xx, honouring Retry-After) and errors classified once."""
from __future__ import annotations

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from media.translate.base import TranslationError

RETRY_STATUSES = (429, 500, 502, 503, 504, 529)


def session(retries: int = 4, backoff_s: float = 0.5, max_retry_after_s: float = 30.0) -> requests.Session:
    """A requests session that retries throttled and failed calls with exponential back-off and jitter.

    POST is retried too: a translation has no side effect, so sending it twice is harmless.
    """
    retry = Retry(total=retries, connect=retries, read=retries, status=retries, backoff_factor=backoff_s,
                  backoff_jitter=backoff_s / 2, backoff_max=max_retry_after_s, status_forcelist=RETRY_STATUSES,
                  allowed_methods=frozenset({"POST", "GET"}), respect_retry_after_header=True, raise_on_status=False)
    s = requests.Session()
    adapter = HTTPAdapter(max_retries=retry)
    s.mount("http://", adapter)
    s.mount("https://", adapter)
    return s


def post_json(s: requests.Session, url: str, *, provider: str, json: dict, headers: dict | None = None,
              timeout: float = 30.0, messages: dict[int, tuple[str, str]] | None = None) -> dict:
    """POST and return the JSON body; any failure is one TranslationError naming the provider, the status and the fix.

    `messages` maps a status code to (problem, fix) for the provider's documented errors.
    """
    try:
        resp = s.post(url, json=json, headers=headers or {}, timeout=timeout)
    except requests.exceptions.RetryError:
        raise TranslationError(f"{provider} kept refusing (throttled or failing) after several retries",
                               "try again later, or lower the number of languages translated at once") from None
    except requests.RequestException as err:
        raise TranslationError(f"{provider} cannot be reached at {url.split('?')[0]} ({type(err).__name__})",
                               f"check the {provider} URL setting and that the service is running") from None
    if resp.status_code >= 400:
        detail = ""
        try:
            body = resp.json()
            detail = str(body.get("message") or body.get("error") or "")[:160]
        except ValueError:
            pass
        problem, fix = (messages or {}).get(resp.status_code, (None, None))
        if problem is None:
            if resp.status_code in RETRY_STATUSES:
                problem, fix = "kept throttling or failing after several retries", "try again later"
            else:
                problem, fix = "refused the request", "check the language pair and the texts sent"
        raise TranslationError(f"{provider} {problem} (HTTP {resp.status_code}{': ' + detail if detail else ''})", fix)
    try:
        return resp.json()
    except ValueError:
        raise TranslationError(f"{provider} answered with something that is not JSON (HTTP {resp.status_code})",
                               f"check that the {provider} URL points at the API") from None
