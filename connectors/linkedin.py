"""LinkedIn video posts through the versioned REST API: initializeUpload, part uploads, finalizeUpload, the post, stats.

LinkedIn documents no idempotency key (shared/platform-contracts.md §5). The video URN from initializeUpload is
saved before any byte is sent and each part's ETag as soon as it is accepted, so an interrupted upload goes on
from the next part. A post whose answer was lost is looked for among the author's recent posts (the video URN is
unique to it) before it is sent again; a duplicate refusal naming the existing post is adopted, not re-sent.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import re
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import quote

from campaign.manifest import Account
from connectors.base import AccountCheck, ConnectorError, ErrorKind, MetricReading, PostContent, PublishResult, SaveRef
from connectors.common import Deps, client, deps_from, poll, token_manager
from connectors.http import HttpClient
from connectors.tokens import TokenSet, env_prefix

PLATFORM = "linkedin"
LABEL = "LinkedIn"
# LinkedIn serves each monthly API version for about a year; CHORUS_LINKEDIN_VERSION moves to a newer one.
API_VERSION = "202601"
STAT_FIELDS = ("impressionCount", "uniqueImpressionsCount", "clickCount", "likeCount", "commentCount", "shareCount",
               "engagement")
# organizationalEntityShareStatistics takes a bounded list of posts per call.
STATS_BATCH = 20
_DUPLICATE = re.compile(r"duplicate of (urn:li:(?:share|ugcPost):[\w-]+)", re.IGNORECASE)


class LinkedInConnector:
    platform = PLATFORM
    metric_vocabulary = PLATFORM
    native_scheduling = False

    def __init__(self, account: Account, settings: Any, deps: Deps):
        self.account = account
        self.options = deps.options
        self.base = settings.base_url("linkedin")
        self.headers = {"LinkedIn-Version": os.environ.get("CHORUS_LINKEDIN_VERSION") or API_VERSION,
                        "X-Restli-Protocol-Version": "2.0.0"}
        self.oauth_base = settings.base_url("linkedin_oauth")
        # Programmatic refresh is open to approved LinkedIn partners only; without a refresh token the 60-day
        # access token is used until it lapses and the account is then reported as needing reconnection.
        self.tokens = token_manager(PLATFORM, account, deps, self._refresh, label=LABEL)
        body_classifier = lambda response, body: classify(response.status_code, body, response.headers,
                                                          now=self.clock())
        self.http: HttpClient = client(PLATFORM, deps, label=LABEL, auth=self.tokens.auth, classify=body_classifier)
        self.oauth: HttpClient = client(PLATFORM, deps, label=LABEL, classify=body_classifier)
        self._author: str | None = None

    def __repr__(self) -> str:
        return f"LinkedInConnector({self.account.id!r})"

    def clock(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.options.clock(), dt.timezone.utc)

    @property
    def author_urn(self) -> str:
        """The organisation (or member) the posts are made as: credentials' AUTHOR_URN or ORGANIZATION_ID, else a
        handle that is a URN."""
        if self._author is None:
            extra = self.tokens.tokens().extra
            value = str(extra.get("author_urn") or "")
            if not value and extra.get("organization_id"):
                value = f"urn:li:organization:{extra['organization_id']}"
            if not value and self.account.handle.startswith("urn:li:"):
                value = self.account.handle
            if not value.startswith(("urn:li:organization:", "urn:li:person:")):
                prefix = env_prefix(self.account.credentials or "")
                raise ConnectorError(ErrorKind.NEEDS_RECONNECT, LABEL, f"the LinkedIn organisation is not set; set "
                                     f"{prefix}_ORGANIZATION_ID to the organisation's numeric id (or "
                                     f"{prefix}_AUTHOR_URN to urn:li:organization:ID)")
            self._author = value
        return self._author

    def _refresh(self, tokens: TokenSet) -> dict[str, Any]:
        # POST /oauth/v2/accessToken (form). Refreshing does not extend the refresh token's own 365-day life.
        answer = self.oauth.json("POST", f"{self.oauth_base}/accessToken", auth=False, idempotent=True, data={
            "grant_type": "refresh_token", "refresh_token": tokens.refresh_token or "",
            "client_id": tokens.client_id or "", "client_secret": tokens.client_secret or ""})
        return answer or {}

    # -- publishing -------------------------------------------------------------------------------------------

    def publish(self, content: PostContent, ref: dict[str, Any], save_ref: SaveRef) -> PublishResult:
        ref = dict(ref)
        if ref.get("post_urn"):
            return self._result(ref)
        if ref.get("post_sent"):
            found = self._find_post(ref.get("video_urn"))
            if found:
                ref["post_urn"] = found
                save_ref(ref)
                return self._result(ref)
        if ref.get("video_urn") and not ref.get("finalized") and self._urls_expired(ref):
            # The upload URLs lapsed before the video was finalized: nothing was published, so a fresh upload
            # session is safe (the unfinished video is never attached to a post).
            ref = {k: v for k, v in ref.items() if k not in ("video_urn", "upload_token", "instructions", "etags",
                                                             "captions_url", "urls_expire_at", "captions_done")}
            save_ref(ref)
        if not ref.get("video_urn"):
            self._initialize(content, ref)
            save_ref(ref)
        self._upload_parts(content.video_path, ref, save_ref)
        if content.captions_srt and ref.get("captions_url") and not ref.get("captions_done"):
            self._call("PUT", ref["captions_url"], data=content.captions_srt.read_bytes(),
                       headers={"Content-Type": "application/octet-stream"}, idempotent=True)
            ref["captions_done"] = True
            save_ref(ref)
        if not ref.get("finalized"):
            self._finalize(ref)
            ref["finalized"] = True
            save_ref(ref)
        if not self._wait_available(ref["video_urn"]):
            return PublishResult("processing", None, dict(ref))
        return self._post(content, ref, save_ref)

    def _initialize(self, content: PostContent, ref: dict[str, Any]) -> None:
        size = content.video_path.stat().st_size
        body = self._call("POST", f"{self.base}/videos", params={"action": "initializeUpload"}, json={
            "initializeUploadRequest": {"owner": self.author_urn, "fileSizeBytes": size,
                                        "uploadCaptions": bool(content.captions_srt), "uploadThumbnail": False}},
            idempotent=False)
        value = body["value"]
        ref.update(video_urn=value["video"], upload_token=value.get("uploadToken", ""),
                   instructions=[{"url": i["uploadUrl"], "first": int(i["firstByte"]), "last": int(i["lastByte"])}
                                 for i in value["uploadInstructions"]],
                   etags={}, urls_expire_at=value.get("uploadUrlsExpireAt"))
        if value.get("captionsUploadUrl"):
            ref["captions_url"] = value["captionsUploadUrl"]

    def _upload_parts(self, path: Path, ref: dict[str, Any], save_ref: SaveRef) -> None:
        etags: dict[str, str] = dict(ref.get("etags") or {})
        with path.open("rb") as fh:
            for index, part in enumerate(ref["instructions"]):
                if str(index) in etags:
                    continue  # accepted by an earlier attempt: never sent twice
                fh.seek(part["first"])
                data = fh.read(part["last"] - part["first"] + 1)
                # A part PUT is idempotent (same bytes, same URL): the shared client may retry it.
                resp = self.http.request("PUT", part["url"], data=data, idempotent=True,
                                         headers={"Content-Type": "application/octet-stream"})
                etag = _header(resp.headers, "ETag")
                if not etag:
                    raise ConnectorError(ErrorKind.RETRYABLE, LABEL, "LinkedIn accepted a part of the video "
                                         "without confirming it; the part is sent again", reason="no ETag")
                etags[str(index)] = etag
                ref["etags"] = dict(etags)
                save_ref(ref)

    def _finalize(self, ref: dict[str, Any]) -> None:
        parts = [ref["etags"][str(i)] for i in range(len(ref["instructions"]))]
        try:
            self._call("POST", f"{self.base}/videos", params={"action": "finalizeUpload"}, json={
                "finalizeUploadRequest": {"video": ref["video_urn"], "uploadToken": ref.get("upload_token", ""),
                                          "uploadedPartIds": parts}}, idempotent=False)
        except ConnectorError as exc:
            if exc.kind not in (ErrorKind.UNKNOWN_OUTCOME, ErrorKind.PERMANENT):
                raise
            # Lost answer, or a second finalize refused: the video's status tells whether it took effect.
            if self._video_status(ref["video_urn"]) in ("WAITING_UPLOAD", None):
                raise

    def _video_status(self, urn: str) -> str | None:
        body = self._call("GET", f"{self.base}/videos/{quote(urn, safe='')}")
        return body.get("status")

    def _wait_available(self, urn: str) -> bool:
        status, _ = poll(lambda: self._video_status(urn), lambda s: s in ("AVAILABLE", "PROCESSING_FAILED"),
                         self.options)
        if status == "PROCESSING_FAILED":
            raise ConnectorError(ErrorKind.PERMANENT, LABEL, "LinkedIn could not process the video (MP4, 3 s-30 min, "
                                 "at most 500 MB)", reason="PROCESSING_FAILED")
        return status == "AVAILABLE"

    def _post(self, content: PostContent, ref: dict[str, Any], save_ref: SaveRef) -> PublishResult:
        body = {
            "author": self.author_urn,
            "commentary": _escape_commentary(content.text),
            "visibility": "PUBLIC",
            "distribution": {"feedDistribution": "MAIN_FEED", "targetEntities": [], "thirdPartyDistributionChannels": []},
            "content": {"media": {"title": content.title, "id": ref["video_urn"]}},
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": False,
        }
        ref["post_sent"] = True
        save_ref(ref)
        try:
            resp = self.http.request("POST", f"{self.base}/posts", json=body, headers=dict(self.headers),
                                     idempotent=False)
        except ConnectorError as exc:
            urn = None
            if exc.kind is ErrorKind.UNKNOWN_OUTCOME:
                urn = self._find_post(ref["video_urn"])
            elif exc.kind is ErrorKind.PERMANENT:
                m = _DUPLICATE.search(f"{exc.reason or ''} {exc.message}")
                urn = m.group(1) if m else None
            if not urn:
                raise
            ref["post_urn"] = urn
            save_ref(ref)
            return self._result(ref)
        urn = _header(resp.headers, "x-restli-id") or _header(resp.headers, "x-linkedin-id")
        if not urn:
            found = self._find_post(ref["video_urn"])
            if not found:
                raise ConnectorError(ErrorKind.UNKNOWN_OUTCOME, LABEL, "LinkedIn accepted the post without "
                                     "naming it; Chorus checks the page before trying again", reason="no x-restli-id")
            urn = found
        ref["post_urn"] = urn
        save_ref(ref)
        return self._result(ref)

    def _find_post(self, video_urn: str | None) -> str | None:
        """The author's recent post carrying this video, if any (the video URN belongs to one post only)."""
        if not video_urn:
            return None
        body = self._call("GET", f"{self.base}/posts", params={
            "q": "author", "author": self.author_urn, "count": 50, "sortBy": "LAST_MODIFIED"})
        for post in body.get("elements", []):
            media = ((post.get("content") or {}).get("media") or {})
            if media.get("id") == video_urn:
                return post.get("id")
        return None

    def _urls_expired(self, ref: dict[str, Any]) -> bool:
        expires = ref.get("urls_expire_at")
        if not isinstance(expires, (int, float)):
            return False
        return self.clock().timestamp() * 1000 >= expires

    def _result(self, ref: dict[str, Any]) -> PublishResult:
        urn = ref["post_urn"]
        return PublishResult("published", urn, dict(ref), f"https://www.linkedin.com/feed/update/{urn}")

    def reconcile(self, content: PostContent, ref: dict[str, Any]) -> PublishResult | None:
        if ref.get("post_urn"):
            return self._result(ref)
        found = self._find_post(ref.get("video_urn"))
        if found:
            return self._result(dict(ref, post_urn=found))
        if ref.get("finalized") or (ref.get("video_urn") and not self._urls_expired(ref)):
            # The video (or some of its parts) is on LinkedIn but attached to no post: publish() goes on from there.
            return PublishResult("processing", None, dict(ref))
        return None

    def check(self) -> AccountCheck:
        """Whether the organisation can post now: the token works and may read the organisation's posts."""
        try:
            self._call("GET", f"{self.base}/posts", params={"q": "author", "author": self.author_urn, "count": 1})
        except ConnectorError as err:
            return AccountCheck(self.account.id, PLATFORM, False, err.message, err.kind)
        refresh = "refreshes itself" if self.tokens.tokens().refresh_token else \
            "has no refresh token: reconnect before the 60-day access token lapses"
        return AccountCheck(self.account.id, PLATFORM, True, f"connected as {self.author_urn}; the login {refresh}")

    def cancel(self, ref: dict[str, Any]) -> None:
        # No native scheduling: nothing is on LinkedIn before Chorus publishes it.
        return None

    # -- metrics ----------------------------------------------------------------------------------------------

    def fetch_metrics(self, posts: list[tuple[str, dt.datetime | None]]) -> list[MetricReading]:
        """Lifetime share statistics (organisation pages only; LinkedIn offers none for member posts)."""
        if not self.author_urn.startswith("urn:li:organization:"):
            return []
        urns = [p for p, _ in posts]
        out: list[MetricReading] = []
        for i in range(0, len(urns), STATS_BATCH):
            batch = urns[i:i + STATS_BATCH]
            shares = [u for u in batch if u.startswith("urn:li:share:")]
            ugc = [u for u in batch if u.startswith("urn:li:ugcPost:")]
            query = [("q", "organizationalEntity"), ("organizationalEntity", self.author_urn)]
            if shares:
                query.append(("shares", _restli_list(shares)))
            if ugc:
                query.append(("ugcPosts", _restli_list(ugc)))
            if not (shares or ugc):
                continue
            # Rest.li lists must reach the server with their parentheses and commas as they are.
            qs = "&".join(f"{k}={v if k in ('shares', 'ugcPosts') else quote(str(v), safe='')}" for k, v in query)
            body = self._call("GET", f"{self.base}/organizationalEntityShareStatistics?{qs}")
            for element in body.get("elements", []):
                post = element.get("share") or element.get("ugcPost")
                stats = element.get("totalShareStatistics") or {}
                if not post:
                    continue
                for name in STAT_FIELDS:
                    if isinstance(stats.get(name), (int, float)):
                        out.append(MetricReading(post, name, float(stats[name])))
        return out

    def _call(self, method: str, url: str, *, idempotent: bool = True, headers: dict[str, str] | None = None,
              **kwargs: Any) -> dict[str, Any]:
        return self.http.json(method, url, idempotent=idempotent, headers={**self.headers, **(headers or {})},
                              **kwargs) or {}


def classify(status: int, body: Any, headers: Mapping[str, str] | None = None, *,
             now: dt.datetime | None = None) -> ConnectorError | None:
    """LinkedIn errors {status, serviceErrorCode, code, message} in words, or None for a success."""
    if status < 400:
        return None
    data = body
    if isinstance(body, (bytes, str)):
        try:
            data = json.loads(body)
        except ValueError:
            data = None
    data = data if isinstance(data, dict) else {}
    code = data.get("code")
    service = data.get("serviceErrorCode")
    reason = " ".join(str(x) for x in (code, data.get("message")) if x) or f"HTTP {status}"
    if service is not None:
        reason += f" [serviceErrorCode {service}]"
    if status == 429:
        retry = _header(headers, "Retry-After")
        wait = float(retry) if retry and retry.isdigit() else _until_midnight_utc(now)
        return ConnectorError(ErrorKind.RATE_LIMITED, LABEL, "LinkedIn's daily limit for this app or member was "
                              "reached; it resets at midnight UTC", reason=reason, retry_after_s=wait, status=status)
    if status == 401:
        if code == "REVOKED_ACCESS_TOKEN" or service == 65601:
            return ConnectorError(ErrorKind.NEEDS_RECONNECT, LABEL, "the LinkedIn login was revoked; reconnect "
                                  "the account", reason=reason, status=status)
        return ConnectorError(ErrorKind.AUTH_EXPIRED, LABEL, "the LinkedIn access token expired", reason=reason,
                              status=status)
    if status == 403:
        return ConnectorError(ErrorKind.NEEDS_RECONNECT, LABEL, "LinkedIn refused: the connected member must be "
                              "an admin of the organisation page and the app needs w_organization_social; reconnect "
                              "the account", reason=reason, status=status)
    if status == 426 or code == "NONEXISTENT_VERSION":
        return ConnectorError(ErrorKind.PERMANENT, LABEL, "LinkedIn no longer serves the API version Chorus asks "
                              "for; set CHORUS_LINKEDIN_VERSION to a current one (YYYYMM)", reason=reason, status=status)
    if status >= 500 or status == 408:
        return ConnectorError(ErrorKind.RETRYABLE, LABEL, "LinkedIn had a temporary problem; Chorus tries again",
                              reason=reason, status=status)
    if status == 422 and _DUPLICATE.search(str(data.get("message", ""))):
        return ConnectorError(ErrorKind.PERMANENT, LABEL, "LinkedIn says this post already exists",
                              reason=reason, status=status)
    return ConnectorError(ErrorKind.PERMANENT, LABEL, "LinkedIn refused the request", reason=reason, status=status)


def make_connector(account: Account, settings: Any, *, store: Any = None, **kwargs: Any) -> LinkedInConnector:
    return LinkedInConnector(account, settings, deps_from(settings, kwargs))


def _until_midnight_utc(now: dt.datetime | None) -> float:
    now = now or dt.datetime.now(dt.timezone.utc)
    midnight = (now + dt.timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max((midnight - now).total_seconds(), 1.0)


def _restli_list(urns: list[str]) -> str:
    return "List(" + ",".join(quote(u, safe="") for u in urns) + ")"


def _escape_commentary(text: str) -> str:
    # Posts API "little text" format: these characters are markup unless escaped with a backslash.
    return re.sub(r"([\\|{}@\[\]()<>*_~])", r"\\\1", text)


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    if not headers:
        return None
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return None
