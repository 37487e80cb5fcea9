"""LinkedIn connector against the fake LinkedIn: happy path, part resume, daily limits, refresh and every fault."""
from __future__ import annotations

import datetime as dt
import json
import logging

import pytest

from connectors import linkedin
from connectors.base import ConnectorError, ErrorKind
from connectors.common import FakeClock
from tests.connectors.fakes.harness import Refs, Secrets, account, connect, content
from tests.connectors.fakes.linkedin import FakeLinkedIn
from tests.secret_scan import assert_no_secrets

BASES = ("linkedin", "linkedin_oauth")
ORG = "5515715"


@pytest.fixture
def clock():
    # Noon UTC: "until midnight UTC" is then a long wait whatever time the suite runs.
    return FakeClock(dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.timezone.utc).timestamp())


@pytest.fixture
def fake(clock):
    with FakeLinkedIn(clock=clock, organization_id=ORG, part_size=1024) as f:
        yield f


@pytest.fixture
def acct():
    return account("linkedin", handle="Votes Europe")


def li(fake, acct, clock, tmp_path, **kw):
    secrets = kw.pop("secrets", None) or Secrets()
    if acct.credentials not in secrets.data:
        secrets.add(acct.credentials, fake.tokens.grant(), clock, organization_id=ORG)
    return connect(fake, acct, clock, tmp_path, secrets=secrets, base_names=BASES, **kw)


def test_happy_path_parts_finalize_post_and_statistics(fake, acct, clock, tmp_path):
    conn = li(fake, acct, clock, tmp_path)
    refs = Refs()
    captions = tmp_path / "c.srt"
    captions.write_text("1\n00:00:00,000 --> 00:00:02,000\nYour vote counts\n", encoding="utf-8")
    result = conn.publish(content(acct, tmp_path, "li1", size=4096, captions_srt=captions), {}, refs)
    assert result.state == "published" and result.platform_post_id.startswith("urn:li:share:")
    assert result.url == f"https://www.linkedin.com/feed/update/{result.platform_post_id}"
    assert fake.published_markers() == {"li1": 1}
    assert fake.received["upload_part"] == 4  # 4096 bytes in LinkedIn's 1024-byte ranges
    assert refs.saved[0]["video_urn"].startswith("urn:li:video:") and refs.saved[0]["etags"] == {}
    post = fake.posts[result.platform_post_id]
    assert post["author"] == f"urn:li:organization:{ORG}" and post["lifecycleState"] == "PUBLISHED"
    assert fake.videos[post["content"]["media"]["id"]]["captions"] == captions.read_bytes()
    readings = {r.raw_name: r.value for r in conn.fetch_metrics([(result.platform_post_id, None)])}
    assert readings["impressionCount"] == 2400 and readings["uniqueImpressionsCount"] == 1800


def test_commentary_markup_is_escaped():
    assert linkedin._escape_commentary("Vote (now) @home #tag") == r"Vote \(now\) \@home #tag"


def test_part_upload_resumes_with_the_saved_etags(fake, acct, clock, tmp_path):
    conn = li(fake, acct, clock, tmp_path)
    refs = Refs()
    post = content(acct, tmp_path, "li2", size=4096)
    fake.lose_part[2] = 5  # parts 0 and 1 go through, every try of part 2 is lost: the run gives up
    with pytest.raises(ConnectorError):
        conn.publish(post, {}, refs)
    assert set(refs.last["etags"]) == {"0", "1"}
    assert conn.reconcile(post, refs.last).state == "processing"  # accepted parts: resumed, not restarted
    sent_before = fake.received["upload_part"]
    result = conn.publish(post, refs.last, refs)
    assert result.state == "published" and fake.received["initialize_upload"] == 1
    assert fake.received["upload_part"] - sent_before == 2  # only parts 2 and 3
    assert fake.published_markers() == {"li2": 1}


def test_server_errors_are_retried_and_429_waits_as_asked(fake, acct, clock, tmp_path):
    conn = li(fake, acct, clock, tmp_path)
    fake.faults.next("upload_part", "5xx", times=2)
    fake.faults.next("video", "429", wait_s=30)
    started = clock()
    result = conn.publish(content(acct, tmp_path, "li3"), {}, Refs())
    assert result.state == "published" and fake.published_markers() == {"li3": 1}
    assert clock() - started >= 30


def test_daily_limit_without_a_header_waits_until_midnight_utc(fake, acct, clock, tmp_path):
    fake.rate_limit_header = False
    conn = li(fake, acct, clock, tmp_path)
    fake.faults.next("initialize_upload", "429")
    with pytest.raises(ConnectorError) as err:
        conn.publish(content(acct, tmp_path, "li4"), {}, Refs())
    now = dt.datetime.fromtimestamp(clock(), dt.timezone.utc)
    midnight = (now + dt.timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    assert err.value.kind is ErrorKind.RATE_LIMITED and "midnight UTC" in err.value.message
    assert abs(err.value.retry_after_s - (midnight - now).total_seconds()) < 5
    assert not fake.published


def test_lost_post_answer_is_found_among_the_authors_posts(fake, acct, clock, tmp_path):
    conn = li(fake, acct, clock, tmp_path)
    fake.faults.next("create_post", "drop_after")
    result = conn.publish(content(acct, tmp_path, "li5"), {}, Refs())
    assert result.state == "published" and result.platform_post_id == fake.published[0]["id"]
    assert fake.received["create_post"] == 1 and fake.received["find_posts"] == 1


def test_crash_after_the_post_was_sent_is_reconciled(fake, acct, clock, tmp_path):
    conn = li(fake, acct, clock, tmp_path)
    refs = Refs()
    post = content(acct, tmp_path, "li6")
    fake.faults.next("create_post", "drop_after")
    fake.faults.next("find_posts", "5xx", times=5)  # the check fails too: the outcome stays unknown
    with pytest.raises(ConnectorError) as err:
        conn.publish(post, {}, refs)
    assert err.value.kind in (ErrorKind.RETRYABLE, ErrorKind.UNKNOWN_OUTCOME)
    assert refs.last["post_sent"]
    found = conn.reconcile(post, refs.last)
    assert found is not None and found.platform_post_id == fake.published[0]["id"]
    assert conn.publish(post, refs.last, Refs()).platform_post_id == found.platform_post_id
    assert fake.received["create_post"] == 1 and fake.published_markers() == {"li6": 1}


def test_duplicate_refusal_naming_the_post_is_adopted(fake, acct, clock, tmp_path):
    conn = li(fake, acct, clock, tmp_path)
    refs = Refs()
    post = content(acct, tmp_path, "li7")
    first = conn.publish(post, {}, refs)
    stale = {k: v for k, v in refs.last.items() if k not in ("post_urn", "post_sent")}
    again = conn.publish(post, stale, Refs())
    assert again.platform_post_id == first.platform_post_id
    assert fake.duplicate_posts == 1 and fake.published_markers() == {"li7": 1}


def test_token_expiring_mid_upload_is_refreshed_and_the_upload_goes_on(fake, acct, clock, tmp_path):
    conn = li(fake, acct, clock, tmp_path)
    fake.faults.next("upload_part", "expire_token")
    result = conn.publish(content(acct, tmp_path, "li8"), {}, Refs())
    assert result.state == "published" and fake.received["token"] == 1
    assert fake.received["initialize_upload"] == 1 and fake.published_markers() == {"li8": 1}


def test_refused_refresh_means_reconnect(fake, acct, clock, tmp_path):
    conn = li(fake, acct, clock, tmp_path)
    fake.tokens.revoke_refresh()
    fake.faults.next("initialize_upload", "expire_token")
    with pytest.raises(ConnectorError) as err:
        conn.publish(content(acct, tmp_path, "li9"), {}, Refs())
    assert err.value.kind is ErrorKind.NEEDS_RECONNECT and not fake.published


def test_processing_failed_is_permanent(fake, acct, clock, tmp_path):
    fake.fail_processing = 1
    with pytest.raises(ConnectorError) as err:
        li(fake, acct, clock, tmp_path).publish(content(acct, tmp_path, "li10"), {}, Refs())
    assert err.value.kind is ErrorKind.PERMANENT and "PROCESSING_FAILED" in err.value.reason
    assert fake.received["create_post"] == 0


def test_member_posts_have_no_share_statistics(fake, clock, tmp_path):
    member = account("linkedin", "member-li", handle="urn:li:person:abc123")
    secrets = Secrets()
    secrets.add(member.credentials, fake.tokens.grant(), clock)
    conn = connect(fake, member, clock, tmp_path, secrets=secrets, base_names=BASES)
    assert conn.fetch_metrics([("urn:li:share:1", None)]) == []
    assert fake.received["share_statistics"] == 0


@pytest.mark.parametrize("status,body,kind", [
    (401, {"status": 401, "serviceErrorCode": 65602, "code": "EXPIRED_ACCESS_TOKEN"}, ErrorKind.AUTH_EXPIRED),
    (401, {"status": 401, "serviceErrorCode": 65601, "code": "REVOKED_ACCESS_TOKEN"}, ErrorKind.NEEDS_RECONNECT),
    (403, {"status": 403, "serviceErrorCode": 100, "code": "ACCESS_DENIED"}, ErrorKind.NEEDS_RECONNECT),
    (500, None, ErrorKind.RETRYABLE),
    (422, {"status": 422, "message": "Content is a duplicate of urn:li:share:9"}, ErrorKind.PERMANENT),
    (400, {"status": 400, "message": "bad"}, ErrorKind.PERMANENT),
])
def test_error_shape_is_classified(status, body, kind):
    err = linkedin.classify(status, body, {})
    assert err.kind is kind and err.status == status


def test_no_token_in_logs_errors_or_refs(fake, acct, clock, tmp_path, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    secrets = Secrets()
    conn = li(fake, acct, clock, tmp_path, secrets=secrets)
    refs = Refs()
    errors = []
    fake.faults.next("upload_part", "expire_token")
    conn.publish(content(acct, tmp_path, "li11"), {}, refs)
    fake.tokens.revoke_refresh()
    fake.faults.next("initialize_upload", "expire_token")
    try:
        conn.publish(content(acct, tmp_path, "li12"), {}, refs)
    except ConnectorError as exc:
        errors.append(f"{exc} {exc.reason} {exc!r}")
    out = capsys.readouterr()
    haystack = caplog.text + json.dumps(refs.saved) + " ".join(errors) + out.out + out.err
    assert errors and len(fake.tokens.issued) >= 3
    assert_no_secrets(fake.tokens.issued + [secrets.data[acct.credentials]["client_secret"]], haystack,
                      "logs, saved handles, errors or output")


def test_account_check(fake, acct, clock, tmp_path):
    check = li(fake, acct, clock, tmp_path).check()
    assert check.ok and f"urn:li:organization:{ORG}" in check.message and "refreshes itself" in check.message
    no_org = account("linkedin", "no-org", handle="Votes Europe")
    secrets = Secrets()
    secrets.add(no_org.credentials, fake.tokens.grant(), clock)
    bad = connect(fake, no_org, clock, tmp_path, secrets=secrets, base_names=BASES).check()
    assert not bad.ok and bad.kind is ErrorKind.NEEDS_RECONNECT and "ORGANIZATION_ID" in bad.message


def test_random_faults_still_publish_each_post_exactly_once(clock, acct, tmp_path):
    from tests.connectors.fakes.driver import publish_until_settled

    with FakeLinkedIn(clock=clock, seed=7, organization_id=ORG, part_size=1024) as fake:
        conn = li(fake, acct, clock, tmp_path)
        fake.faults.randomly(transient=0.2, lost=0.05)
        for i in range(12):
            publish_until_settled(conn, content(acct, tmp_path, f"r{i}", size=3000), clock)
        assert fake.published_markers() == {f"r{i}": 1 for i in range(12)}
        assert fake.duplicate_posts == 0 and fake.faults.injected["drop_after"] > 0


def test_api_version_is_a_setting_and_a_sunset_version_says_so(fake, acct, clock, tmp_path, monkeypatch):
    monkeypatch.setenv("CHORUS_LINKEDIN_VERSION", "202301")  # not served by the fake any more
    with pytest.raises(ConnectorError) as err:
        li(fake, acct, clock, tmp_path).publish(content(acct, tmp_path, "li13"), {}, Refs())
    assert err.value.kind is ErrorKind.PERMANENT and "CHORUS_LINKEDIN_VERSION" in err.value.message
    fake.versions = ("202301",)
    assert li(fake, acct, clock, tmp_path).publish(content(acct, tmp_path, "li13"), {}, Refs()).state == "published"


def test_statistics_are_asked_in_batches_and_for_both_post_kinds(fake, acct, clock, tmp_path):
    conn = li(fake, acct, clock, tmp_path)
    urns = [f"urn:li:share:{7000 + i}" for i in range(23)] + ["urn:li:ugcPost:9001"]
    for urn in urns:
        fake.posts[urn] = {"id": urn, "author": fake.organization, "createdAt": 0}
    fake.stats["urn:li:ugcPost:9001"] = {"impressionCount": 5}
    readings = conn.fetch_metrics([(u, None) for u in urns])
    assert fake.received["share_statistics"] == 2  # at most 20 posts per call
    assert {r.platform_post_id for r in readings} == set(urns)
    assert [r.value for r in readings if r.platform_post_id == "urn:li:ugcPost:9001"] == [5.0]
