"""Configuration: YAML files in conf/, parsed once into frozen dataclasses.

A file may name a parent with ``inherits: base.yaml`` (relative to itself); mappings are merged
key by key, the child winning. Secrets never live in these files: they come from the environment
(``workbooks.hmac_secret_env`` names the variable).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from vaxclean.errors import ConfigError


@dataclass(frozen=True)
class InputSpec:
    """How one input (ledger, register, facility reports) is read."""

    required: tuple[str, ...]
    optional: tuple[str, ...]
    column_map: Mapping[str, tuple[str, ...]]

    @property
    def columns(self) -> tuple[str, ...]:
        return self.required + self.optional


@dataclass(frozen=True)
class Rules:
    campaign_start: dt.date
    missing_id_tokens: tuple[str, ...]
    min_interval_days: Mapping[str, int]
    default_min_interval_days: int
    booster_min_months: Mapping[int, int]
    as_of: dt.date | None


@dataclass(frozen=True)
class Matching:
    threshold: float
    top_k: int


@dataclass(frozen=True)
class Config:
    source: str
    app_name: str
    master: str | None
    spark_conf: Mapping[str, str]
    warehouse: str
    out: str
    jars_dir: str | None
    log_level: str
    ledger: InputSpec
    register: InputSpec
    facility_reports: InputSpec
    rules: Rules
    matching: Matching
    hmac_secret_env: str
    raw: Mapping[str, Any] = field(repr=False, default_factory=dict)

    def table_path(self, name: str) -> str:
        """Location of a Delta table: ``<warehouse>/<name>``."""
        return f"{self.warehouse.rstrip('/')}/{name}"

    def with_overrides(
        self, *, warehouse: str | None = None, out: str | None = None, as_of: str | None = None
    ) -> Config:
        rules = replace(self.rules, as_of=_date(as_of, "--as-of", "command line")) if as_of else self.rules
        return replace(self, warehouse=warehouse or self.warehouse, out=out or self.out, rules=rules)

    def as_of_date(self) -> dt.date:
        return self.rules.as_of or dt.date.today()

    def hmac_secret(self) -> str | None:
        return os.environ.get(self.hmac_secret_env) or None


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(dict(out[key]), value)
        else:
            out[key] = value
    return out


def _load_yaml(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    path = path.resolve()
    if path in seen:
        raise ConfigError(f"config {path}: 'inherits' forms a cycle")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"config {path}: cannot read it ({exc.strerror})") from None
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"config {path}: not valid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config {path}: the top level must be a mapping")
    parent = data.pop("inherits", None)
    if parent:
        return _merge(_load_yaml(path.parent / parent, (*seen, path)), data)
    return data


def _spec(raw: Mapping[str, Any], name: str, source: str) -> InputSpec:
    section = raw.get(name)
    if not isinstance(section, Mapping):
        raise ConfigError(f"config {source}: section {name!r} is missing")
    required = tuple(section.get("required") or ())
    optional = tuple(section.get("optional") or ())
    cmap_raw = section.get("column_map") or {}
    cmap = {col: tuple(str(a) for a in (cmap_raw.get(col) or [col])) for col in required + optional}
    return InputSpec(required=required, optional=optional, column_map=cmap)


def _date(value: Any, key: str, source: str) -> dt.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ConfigError(f"config {source}: {key} must be a yyyy-mm-dd date, got {value!r}") from None


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read a config file (and the files it inherits) into a :class:`Config`."""
    source = str(path)
    raw = _load_yaml(Path(path))
    spark = raw.get("spark") or {}
    rules = raw.get("rules") or {}
    matching = raw.get("matching") or {}
    try:
        cfg = Config(
            source=source,
            app_name=str(spark.get("app_name", "vaxclean")),
            master=spark.get("master"),
            spark_conf={str(k): str(v) for k, v in (spark.get("conf") or {}).items()},
            warehouse=str(raw.get("warehouse", "warehouse")),
            out=str(raw.get("out", "out")),
            jars_dir=os.environ.get("VAXCLEAN_JARS_DIR") or (raw.get("delta") or {}).get("jars_dir"),
            log_level=str((raw.get("logging") or {}).get("level", "INFO")).upper(),
            ledger=_spec(raw, "ledger", source),
            register=_spec(raw, "register", source),
            facility_reports=_spec(raw, "facility_reports", source),
            rules=Rules(
                campaign_start=_date(
                    rules.get("campaign_start", "2021-03-08"), "rules.campaign_start", source
                ),
                missing_id_tokens=tuple(str(t) for t in rules.get("missing_id_tokens", ["", "0"])),
                min_interval_days={str(k): int(v) for k, v in (rules.get("min_interval_days") or {}).items()},
                default_min_interval_days=int(rules.get("default_min_interval_days", 21)),
                booster_min_months={
                    int(k): int(v) for k, v in (rules.get("booster_min_months") or {}).items()
                },
                as_of=_date(rules.get("as_of"), "rules.as_of", source),
            ),
            matching=Matching(
                threshold=float(matching.get("threshold", 0.8)), top_k=int(matching.get("top_k", 3))
            ),
            hmac_secret_env=str((raw.get("workbooks") or {}).get("hmac_secret_env", "VAXCLEAN_HMAC_SECRET")),
            raw=raw,
        )
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"config {source}: bad value ({exc})") from None
    return cfg
