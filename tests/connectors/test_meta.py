"""Meta Graph API behaviour shared by Instagram and Facebook: error classification, usage headers, insights parsing."""
from __future__ import annotations

import json
import pickle

import pytest

from connectors import meta
from connectors.base import ErrorKind


def graph_error(code, subcode=None, **extra):
    err = {"message": f"message for {code}", "type": "OAuthException", "code": code, "fbtrace_id": "Axyz"}
    if subcode is not None:
        err["error_subcode"] = subcode
    err.update(extra)
    return {"error": err}


@pytest.mark.parametrize("code,status,kind", [
    (1, 500, ErrorKind.RETRYABLE),
    (2, 503, ErrorKind.RETRYABLE),
    (4, 400, ErrorKind.RATE_LIMITED),
    (17, 400, ErrorKind.RATE_LIMITED),
    (32, 403, ErrorKind.RATE_LIMITED),
    (613, 400, ErrorKind.RATE_LIMITED),
    (341, 400, ErrorKind.RATE_LIMITED),
    (190, 400, ErrorKind.AUTH_EXPIRED),
    (10, 403, ErrorKind.NEEDS_RECONNECT),
    (200, 403, ErrorKind.NEEDS_RECONNECT),
    (299, 403, ErrorKind.NEEDS_RECONNECT),
    (368, 400, ErrorKind.PERMANENT),
    (506, 400, ErrorKind.PERMANENT),
    (100, 400, ErrorKind.PERMANENT),
])
def test_graph_codes_are_classified_by_code_not_status(code, status, kind):
    err = meta.classify("Facebook", status, graph_error(code))
    assert err is not None and err.kind is kind
    assert err.code == code
    assert f"code {code}" in err.reason
    if kind is ErrorKind.RATE_LIMITED:
        assert err.retry_after_s and err.retry_after_s > 0


def test_throttling_wait_comes_from_the_business_use_case_header():
    headers = {"X-Business-Use-Case-Usage": json.dumps({"123": [{"type": "pages", "call_count": 100,
                                                                 "estimated_time_to_regain_access": 7}]})}
    err = meta.classify("Facebook", 400, graph_error(4), headers)
    assert err.kind is ErrorKind.RATE_LIMITED and err.retry_after_s == 7 * 60


def test_app_usage_at_full_budget_asks_for_a_wait_and_under_it_does_not():
    assert meta.usage_wait_s({"X-App-Usage": json.dumps({"call_count": 100, "total_time": 3})}) > 0
    assert meta.usage_wait_s({"x-app-usage": json.dumps({"call_count": 12})}) is None
    assert meta.usage_pct({"X-App-Usage": json.dumps({"call_count": 12, "total_cputime": 96})}) == 96


def test_token_errors_that_a_refresh_cannot_fix_need_a_reconnect():
    assert meta.classify("Instagram", 400, graph_error(190, 463)).kind is ErrorKind.AUTH_EXPIRED
    for subcode in (458, 460):
        assert meta.classify("Instagram", 400, graph_error(190, subcode)).kind is ErrorKind.NEEDS_RECONNECT


def test_instagram_subcodes():
    cap = meta.classify("Instagram", 400, graph_error(9, 2207042))
    assert cap.kind is ErrorKind.RATE_LIMITED and cap.retry_after_s >= 3600 and "daily limit" in cap.message
    assert meta.classify("Instagram", 400, graph_error(100, 2207026)).kind is ErrorKind.PERMANENT
    assert meta.classify("Instagram", 400, graph_error(100, 2207082)).kind is ErrorKind.RETRYABLE
    assert "restricted" in meta.classify("Instagram", 400, graph_error(100, 2207050)).message


def test_is_transient_flag_makes_an_unknown_code_retryable():
    assert meta.classify("Facebook", 400, graph_error(999, is_transient=True)).kind is ErrorKind.RETRYABLE


def test_user_facing_text_is_kept_as_the_reason():
    body = graph_error(368, error_user_title="Action blocked", error_user_msg="This looks like spam")
    err = meta.classify("Facebook", 400, body)
    assert "Action blocked" in err.reason and "This looks like spam" in err.reason
    assert "policies" in err.message


def test_success_and_bare_statuses():
    assert meta.classify("Facebook", 200, {"id": "1"}) is None
    assert meta.classify("Facebook", 200, {"success": True, "message": "Upload successful."}) is None
    assert meta.classify("Facebook", 502, b"<html>bad gateway</html>").kind is ErrorKind.RETRYABLE
    assert meta.classify("Facebook", 429, None).kind is ErrorKind.RATE_LIMITED


def test_rupload_failure_body():
    retriable = {"debug_info": {"retriable": True, "type": "PartialRequestError", "message": "partial"}}
    final = {"debug_info": {"retriable": False, "type": "ProcessingFailedError", "message": "bad file"}}
    assert meta.classify("Instagram", 400, retriable).kind is ErrorKind.RETRYABLE
    err = meta.classify("Instagram", 400, final)
    assert err.kind is ErrorKind.PERMANENT and "ProcessingFailedError" in err.reason


def test_meta_error_survives_pickling_with_its_code():
    err = meta.classify("Facebook", 400, graph_error(506))
    again = pickle.loads(pickle.dumps(err))
    assert again.code == 506 and again.duplicate and again.kind is ErrorKind.PERMANENT


def test_a_token_echoed_in_an_error_body_is_masked():
    body = graph_error(190, 463, message="Error validating access_token=EAAGsecretsecretsecret")
    err = meta.classify("Facebook", 400, body)
    assert "EAAGsecretsecretsecret" not in str(err)


def test_insights_missing_value_is_left_out_and_objects_are_split():
    body = {"data": [
        {"name": "views", "period": "lifetime", "values": [{"value": 10}]},
        {"name": "reach", "period": "lifetime", "values": []},
        {"name": "post_video_social_actions", "values": [{"value": {"COMMENT": 2, "SHARE": 3}}]},
        {"name": "total_interactions", "total_value": {"value": 7}},
    ]}
    got = {r.raw_name: r.value for r in meta.parse_insights("m1", body)}
    assert got == {"views": 10.0, "post_video_social_actions": 5.0, "post_video_social_actions.COMMENT": 2.0,
                   "post_video_social_actions.SHARE": 3.0, "total_interactions": 7.0}


@pytest.mark.parametrize("platform,extra,check_word", [
    ("instagram", {"USER_ID": "17841400000000001"}, "fake_reels_account"),
    ("facebook", {"PAGE_ID": "104000000000001"}, "Fake Page"),
    ("linkedin", {"ORGANIZATION_ID": "5515715"}, "urn:li:organization:5515715"),
])
def test_registry_builds_each_connector_from_environment_credentials(platform, extra, check_word, tmp_path,
                                                                     monkeypatch):
    """The real wiring: manifest credentials name -> NAME_* environment variables -> a connector that works."""
    import importlib

    from campaign.settings import Settings
    from connectors.common import FakeClock
    from connectors.registry import connector_for
    from tests.connectors.fakes.harness import account

    clock = FakeClock()
    module, cls, names = {
        "instagram": ("tests.connectors.fakes.instagram", "FakeInstagram", ("instagram", "instagram_login", "rupload")),
        "facebook": ("tests.connectors.fakes.facebook", "FakeFacebook", ("facebook", "rupload")),
        "linkedin": ("tests.connectors.fakes.linkedin", "FakeLinkedIn", ("linkedin", "linkedin_oauth")),
    }[platform]
    with getattr(importlib.import_module(module), cls)(clock=clock) as fake:
        acct = account(platform, credentials=f"ngo-{platform}/main")
        prefix = f"NGO_{platform.upper()}_MAIN"
        monkeypatch.setenv(f"{prefix}_ACCESS_TOKEN", fake.tokens.grant()["access_token"])
        for key, value in extra.items():
            monkeypatch.setenv(f"{prefix}_{key}", value)
        settings = Settings(home=tmp_path, store_url=str(tmp_path / "store"), warehouse_path=tmp_path / "w.duckdb",
                            base_urls={n: fake.base_url for n in names})
        conn = connector_for(acct, settings, None, sleep=clock.sleep, clock=clock)
        assert conn.platform == platform and not conn.__class__.__name__.startswith("Sandbox")
        check = conn.check()
        assert check.ok and check_word in check.message


def test_media_not_ready_is_retryable():
    assert meta.classify("Instagram", 400, graph_error(9007, 2207027)).kind is ErrorKind.RETRYABLE
