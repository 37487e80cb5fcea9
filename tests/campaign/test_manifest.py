"""The campaign manifest: the example validates; a broken one names every error with its field, value and what is allowed."""
from __future__ import annotations

import copy

import pytest
import yaml

from campaign.errors import ManifestError
from campaign.manifest import load_manifest, parse_manifest
from tests.conftest import EXAMPLE_DIR


@pytest.fixture
def example_data() -> dict:
    return yaml.safe_load((EXAMPLE_DIR / "campaign.yaml").read_text(encoding="utf-8"))


def _errors(data: dict) -> list[str]:
    with pytest.raises(ManifestError) as info:
        parse_manifest(data)
    return info.value.issues


def test_example_campaign_validates_and_covers_the_required_breadth():
    m = load_manifest(EXAMPLE_DIR / "campaign.yaml")
    assert m.id == "first-vote"
    assert len(m.languages) >= 4 and "ar" in m.languages
    assert len(m.countries) >= 3
    assert len({a.platform for a in m.accounts}) >= 3
    assert all(a.sandbox for a in m.accounts)
    assert m.asset_path(m.assets[0]).is_file()
    assert m.country("DE").timezone == "Europe/Berlin"


def test_language_tags_are_normalised(example_data):
    example_data["languages"] = ["EN", "de", "es", "ar"]
    m = parse_manifest(example_data)
    assert m.languages[0] == "en"


def test_every_error_is_named_with_field_value_and_allowed(example_data):
    data = copy.deepcopy(example_data)
    data["languages"].append("xx-notalanguage-123")
    data["countries"][0]["timezone"] = "Europe/Berln"
    data["accounts"][0]["platform"] = "myspace"
    data["accounts"][1]["organisation"] = "nobody"
    data["accounts"][2]["sandbox"] = False
    data["assets"][0].pop("file")
    data["schedule"]["slots"] = ["25:00"]
    data["objectives"][0]["kpis"][0]["metric"] = "vibes"
    data["surprise"] = True
    errors = _errors(data)
    text = "\n".join(errors)
    assert "languages" in text and "xx-notalanguage-123" in text
    assert "countries[0].timezone" in text and "Europe/Berln" in text and "Europe/Berlin" in text
    assert "accounts[0].platform" in text and "myspace" in text and "tiktok" in text
    assert "assets[0].file: missing" in text
    assert "schedule.slots" in text and "25:00" in text and "HH:MM" in text
    assert "objectives[0].kpis[0].metric" in text and "vibes" in text and "reach" in text
    assert "surprise: unknown field" in text
    assert "accounts[2]" in text and "credentials" in text
    # Cross-reference errors are reported too once the fields themselves are valid.
    data2 = copy.deepcopy(example_data)
    data2["accounts"][1]["organisation"] = "nobody"
    data2["accounts"][1]["languages"] = ["fr"]
    text2 = "\n".join(_errors(data2))
    assert "accounts[1].organisation: 'nobody' is not an organisation" in text2
    assert "accounts[1].languages: 'fr' is not in the campaign's languages" in text2


def test_credentials_must_be_a_name_not_a_token(example_data):
    data = copy.deepcopy(example_data)
    data["accounts"][0]["sandbox"] = False
    data["accounts"][0]["credentials"] = "Bearer abc.def:ghi jkl"
    errors = _errors(data)
    assert any("accounts[0].credentials" in e and "NAME" in e for e in errors)
    # The bad value is a possible secret: it is never echoed back.
    assert not any("abc.def:ghi" in e for e in errors)


def test_yaml_syntax_error_names_the_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("campaign:\n  id: x\n  name: [unclosed\n", encoding="utf-8")
    with pytest.raises(ManifestError) as info:
        load_manifest(bad)
    assert "line" in info.value.issues[0]


def test_duplicate_ids_and_window_order(example_data):
    data = copy.deepcopy(example_data)
    data["accounts"].append(copy.deepcopy(data["accounts"][0]))
    data["schedule"]["end"] = "2020-01-01"
    text = "\n".join(_errors(data))
    assert "is used twice" in text
    assert "before start" in text
