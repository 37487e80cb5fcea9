"""The campaign manifest: a YAML file validated on load, every error naming the field, the bad value and what is allowed."""
from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from campaign import languages
from campaign.errors import ManifestError
from campaign.ids import is_slug
from campaign.platforms import FORMATS, Platform

SLUG_HELP = "lowercase letters, digits, '.', '_' or '-', starting with a letter or digit, at most 64 characters"
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_SLOT = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_CREDENTIAL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-/]{0,127}$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _slug(value: str) -> str:
    if not is_slug(value):
        raise ValueError(f"{value!r} is not a valid id: use {SLUG_HELP}")
    return value


def _lang(value: str) -> str:
    return languages.normalise(value)


def _country(value: str) -> str:
    if not isinstance(value, str) or not _COUNTRY.match(value.upper()):
        raise ValueError(f"{value!r} is not an ISO 3166-1 alpha-2 country code (examples: DE, FR, ES)")
    return value.upper()


class CampaignInfo(_Model):
    id: str
    name: str = Field(min_length=1)
    description: str = ""

    _id = field_validator("id")(_slug)


class Organisation(_Model):
    id: str
    name: str = Field(min_length=1)

    _id = field_validator("id")(_slug)


class Kpi(_Model):
    """A measurable target: a canonical metric, a value, optional filters and a deadline."""

    metric: str
    target: float = Field(gt=0)
    countries: list[str] = []
    languages: list[str] = []
    platforms: list[Platform] = []
    deadline: dt.date | None = None

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, value: str) -> str:
        from campaign.metrics import CANONICAL_METRICS

        if value not in CANONICAL_METRICS:
            raise ValueError(f"{value!r} is not a canonical metric; allowed: {', '.join(sorted(CANONICAL_METRICS))}")
        return value

    _countries = field_validator("countries", mode="before")(lambda v: [_country(c) for c in (v or [])])
    _languages = field_validator("languages", mode="before")(lambda v: [_lang(x) for x in (v or [])])


class Objective(_Model):
    id: str
    description: str = ""
    kpis: list[Kpi] = Field(min_length=1)

    _id = field_validator("id")(_slug)


class Audience(_Model):
    id: str
    description: str = ""
    age_range: str | None = None
    countries: list[str] = []
    languages: list[str] = []

    _id = field_validator("id")(_slug)
    _countries = field_validator("countries", mode="before")(lambda v: [_country(c) for c in (v or [])])
    _languages = field_validator("languages", mode="before")(lambda v: [_lang(x) for x in (v or [])])


class Country(_Model):
    code: str
    timezone: str
    languages: list[str] = Field(min_length=1)

    _code = field_validator("code", mode="before")(_country)
    _languages = field_validator("languages", mode="before")(lambda v: [_lang(x) for x in (v or [])])

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            near = sorted(z for z in available_timezones() if z.split("/")[-1].lower() == value.split("/")[-1].lower())
            hint = f" (did you mean {near[0]}?)" if near else " (examples: Europe/Berlin, Africa/Nairobi)"
            raise ValueError(f"{value!r} is not an IANA time zone{hint}") from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class Account(_Model):
    """A platform account of one organisation; its secrets are referenced by name, never stored here."""

    id: str
    platform: Platform
    organisation: str
    handle: str = Field(min_length=1)
    countries: list[str] = Field(min_length=1)
    languages: list[str] = Field(min_length=1)
    credentials: str | None = None
    sandbox: bool = False
    format: str | None = None

    _id = field_validator("id")(_slug)
    _countries = field_validator("countries", mode="before")(lambda v: [_country(c) for c in (v or [])])
    _languages = field_validator("languages", mode="before")(lambda v: [_lang(x) for x in (v or [])])

    @field_validator("credentials")
    @classmethod
    def _credential_name(cls, value: str | None) -> str | None:
        if value is not None and not _CREDENTIAL_NAME.match(value):
            raise ValueError(
                "must be the NAME of an environment variable prefix or Prefect Secret block "
                "(letters, digits, '_', '-', '/'), never a token itself"
            )
        return value

    @field_validator("format")
    @classmethod
    def _format(cls, value: str | None) -> str | None:
        if value is not None and value not in FORMATS:
            raise ValueError(f"{value!r} is not a format; allowed: {', '.join(FORMATS)}")
        return value

    @model_validator(mode="after")
    def _live_needs_credentials(self) -> "Account":
        if not self.sandbox and not self.credentials:
            raise ValueError(
                "a live account needs `credentials: NAME` (the environment variable prefix or Prefect "
                "Secret block holding its tokens); set `sandbox: true` to try Chorus without an account"
            )
        return self


class Asset(_Model):
    """A master video, its spoken language and optional files from people (captions, translations)."""

    id: str
    file: str
    language: str
    title: str = ""
    captions: dict[str, str] = {}
    translations: dict[str, str] = {}

    _id = field_validator("id")(_slug)
    _language = field_validator("language", mode="before")(_lang)

    @field_validator("captions", "translations", mode="before")
    @classmethod
    def _lang_keys(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {_lang(str(k)): v for k, v in value.items()}
        return value


class Schedule(_Model):
    """The campaign window and posting slots, in the local time of each country."""

    start: dt.date
    end: dt.date
    slots: list[str] = Field(min_length=1)
    country_slots: dict[str, list[str]] = {}

    @field_validator("slots")
    @classmethod
    def _slots(cls, value: list[str]) -> list[str]:
        for slot in value:
            if not _SLOT.match(str(slot)):
                raise ValueError(f"{slot!r} is not a local time; write slots as HH:MM, 24-hour (e.g. '18:30')")
        return sorted(value)

    @field_validator("country_slots", mode="before")
    @classmethod
    def _country_slots(cls, value: Any) -> Any:
        if isinstance(value, dict):
            out = {}
            for k, slots in value.items():
                for slot in slots or []:
                    if not _SLOT.match(str(slot)):
                        raise ValueError(f"{k}: {slot!r} is not a local time; write slots as HH:MM, 24-hour")
                out[_country(str(k))] = sorted(slots or [])
            return out
        return value

    @model_validator(mode="after")
    def _window(self) -> "Schedule":
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}; the window must run forwards")
        return self

    def slots_for(self, country: str) -> list[str]:
        return self.country_slots.get(country, self.slots)


class PostText(_Model):
    title: str = ""
    description: str = ""
    hashtags: list[str] = []

    @field_validator("hashtags", mode="before")
    @classmethod
    def _tags(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [str(t).lstrip("#") for t in value]
        return value


class Review(_Model):
    """What a person must approve before publishing."""

    captions: bool = False
    translations: bool = False
    approval: bool = False


class Manifest(_Model):
    campaign: CampaignInfo
    organisations: list[Organisation] = Field(min_length=1)
    objectives: list[Objective] = []
    audiences: list[Audience] = []
    languages: list[str] = Field(min_length=1)
    countries: list[Country] = Field(min_length=1)
    accounts: list[Account] = Field(min_length=1)
    assets: list[Asset] = Field(min_length=1)
    schedule: Schedule
    # language -> {"default" | platform name -> PostText}
    posts: dict[str, dict[str, PostText]] = {}
    review: Review = Review()
    formats: dict[Platform, str] = {}
    glossary: dict[str, dict[str, str]] = {}

    # Where the manifest file lives; relative asset paths resolve against it.
    base_dir: Path = Field(default=Path("."), exclude=True)

    _languages = field_validator("languages", mode="before")(lambda v: [_lang(x) for x in (v or [])])

    @field_validator("posts", mode="before")
    @classmethod
    def _post_keys(cls, value: Any) -> Any:
        if isinstance(value, dict):
            out = {}
            for lang, per_platform in value.items():
                if isinstance(per_platform, dict):
                    for key in per_platform:
                        if key != "default" and key not in {p.value for p in Platform}:
                            raise ValueError(
                                f"posts.{lang}.{key}: unknown platform; allowed: default, "
                                + ", ".join(p.value for p in Platform)
                            )
                out[_lang(str(lang))] = per_platform
            return out
        return value

    @field_validator("formats", mode="before")
    @classmethod
    def _formats(cls, value: Any) -> Any:
        if isinstance(value, dict):
            for platform, fmt in value.items():
                if fmt not in FORMATS:
                    raise ValueError(f"formats.{platform}: {fmt!r} is not a format; allowed: {', '.join(FORMATS)}")
        return value

    # --- lookups -------------------------------------------------------------

    @property
    def id(self) -> str:
        return self.campaign.id

    def country(self, code: str) -> Country:
        return next(c for c in self.countries if c.code == code)

    def account(self, account_id: str) -> Account:
        return next(a for a in self.accounts if a.id == account_id)

    def asset(self, asset_id: str) -> Asset:
        for a in self.assets:
            if a.id == asset_id:
                return a
        raise KeyError(asset_id)

    def asset_path(self, asset: Asset) -> Path:
        p = Path(asset.file)
        return p if p.is_absolute() else (self.base_dir / p)

    def resolve(self, relative: str) -> Path:
        p = Path(relative)
        return p if p.is_absolute() else (self.base_dir / p)

    def post_text(self, language: str, platform: Platform) -> PostText:
        per_lang = self.posts.get(language, {})
        return per_lang.get(platform.value) or per_lang.get("default") or PostText()


def _unique(problems: list[str], field: str, ids: list[str]) -> None:
    seen: set[str] = set()
    for i in ids:
        if i in seen:
            problems.append(f"{field}: id {i!r} is used twice; ids must be unique")
        seen.add(i)


def _try(fn, value):
    try:
        return fn(value)
    except (ValueError, TypeError, AttributeError):
        return None


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _dicts(value: Any) -> list[dict]:
    return [v if isinstance(v, dict) else {} for v in _list(value)]


def cross_reference_problems(data: dict) -> list[str]:
    """Checks between sections (an account's organisation exists, its languages are the campaign's...).

    Run on the raw data, item by item, so these problems are reported in the same pass as field errors:
    a user fixing a manifest sees every problem at once, not one layer at a time.
    """
    problems: list[str] = []
    langs = {x for x in (_try(_lang, v) for v in _list(data.get("languages"))) if x}
    orgs = {o.get("id") for o in _dicts(data.get("organisations"))}
    countries = {x for x in (_try(_country, c.get("code")) for c in _dicts(data.get("countries"))) if x}
    _unique(problems, "organisations", [o.get("id") for o in _dicts(data.get("organisations"))])
    _unique(problems, "accounts", [a.get("id") for a in _dicts(data.get("accounts"))])
    _unique(problems, "assets", [a.get("id") for a in _dicts(data.get("assets"))])
    _unique(problems, "objectives", [o.get("id") for o in _dicts(data.get("objectives"))])
    _unique(problems, "countries", [_try(_country, c.get("code")) for c in _dicts(data.get("countries"))])

    def check_langs(where: str, values: Any) -> None:
        for v in _list(values):
            tag = _try(_lang, v)
            if tag and langs and tag not in langs:
                problems.append(f"{where}: {tag!r} is not in the campaign's languages {sorted(langs)}")

    def check_countries(where: str, values: Any) -> None:
        for v in _list(values):
            code = _try(_country, v)
            if code and countries and code not in countries:
                problems.append(f"{where}: {code!r} is not in the campaign's countries {sorted(countries)}")

    for i, c in enumerate(_dicts(data.get("countries"))):
        check_langs(f"countries[{i}].languages", c.get("languages"))
    for i, a in enumerate(_dicts(data.get("accounts"))):
        if orgs and "organisation" in a and a["organisation"] not in orgs:
            problems.append(f"accounts[{i}].organisation: {a['organisation']!r} is not an organisation; allowed: {sorted(o for o in orgs if o)}")
        check_countries(f"accounts[{i}].countries", a.get("countries"))
        check_langs(f"accounts[{i}].languages", a.get("languages"))
    for i, a in enumerate(_dicts(data.get("assets"))):
        check_langs(f"assets[{i}].language", [a.get("language")])
        for field in ("captions", "translations"):
            if isinstance(a.get(field), dict):
                check_langs(f"assets[{i}].{field}", list(a[field]))
    for i, o in enumerate(_dicts(data.get("objectives"))):
        for j, k in enumerate(_dicts(o.get("kpis"))):
            check_countries(f"objectives[{i}].kpis[{j}].countries", k.get("countries"))
            check_langs(f"objectives[{i}].kpis[{j}].languages", k.get("languages"))
    schedule = data.get("schedule") if isinstance(data.get("schedule"), dict) else {}
    if isinstance(schedule.get("country_slots"), dict):
        check_countries("schedule.country_slots", list(schedule["country_slots"]))
    if isinstance(data.get("posts"), dict):
        check_langs("posts", list(data["posts"]))
    return problems


def _format_errors(err: ValidationError) -> list[str]:
    out = []
    for e in err.errors():
        loc = ""
        for part in e["loc"]:
            loc += f"[{part}]" if isinstance(part, int) else (f".{part}" if loc else str(part))
        msg = e["msg"]
        for prefix in ("Value error, ", "Assertion failed, "):
            if msg.startswith(prefix):
                msg = msg[len(prefix):]
        value = e.get("input")
        if e["loc"] and e["loc"][-1] == "credentials":
            value = "<hidden>"  # possibly a pasted token: never echo it
        if e["type"] == "missing":
            out.append(f"{loc}: missing; this field is required")
        elif e["type"] == "extra_forbidden":
            out.append(f"{loc}: unknown field; remove it or check its spelling")
        elif "\n" in msg:
            out.extend(line if ":" in line.split(" ")[0] else f"{loc}: {line}" for line in msg.split("\n"))
        elif e["type"] in {"enum", "literal_error"}:
            out.append(f"{loc}: {value!r} is not allowed; allowed: {e.get('ctx', {}).get('expected', msg)}")
        elif msg.startswith(repr(value)) or not loc or isinstance(value, (dict, list)):
            out.append(f"{loc}: {msg}" if loc else msg)
        else:
            out.append(f"{loc}: {value!r} — {msg}")
    return out


def parse_manifest(data: Any, *, source: str = "<manifest>", base_dir: Path | None = None) -> Manifest:
    if not isinstance(data, dict):
        raise ManifestError(source, ["the manifest must be a YAML mapping with campaign, organisations, languages, ... at the top"])
    problems: list[str] = []
    manifest = None
    try:
        manifest = Manifest.model_validate(data)
    except ValidationError as err:
        problems.extend(_format_errors(err))
    problems.extend(p for p in cross_reference_problems(data) if p not in problems)
    if problems:
        raise ManifestError(source, problems)
    return manifest.model_copy(update={"base_dir": base_dir or Path(".")})


def load_manifest(path: str | Path) -> Manifest:
    """Read and validate a manifest file; raises ManifestError listing every problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ManifestError(str(path), [f"file not found: {path}"]) from None
    except UnicodeDecodeError:
        raise ManifestError(str(path), ["the file is not UTF-8 text; save it as UTF-8"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ManifestError(str(path), [f"not valid YAML{where}: {getattr(err, 'problem', err)}"]) from None
    return parse_manifest(data, source=str(path), base_dir=path.parent.resolve())


Kind = Literal["automatic", "file", "reviewed", "machine"]
