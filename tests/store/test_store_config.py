"""The `store:` section's settings: one name per setting across backends, old names still read."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from contract.yamlio import ConfigError
from store.config import InfluxV1StoreConfig, InfluxV2StoreConfig, load_store_section

V2 = "store:\n  type: influxdb2\n  org: o\n  bucket: b\n  token: {env: T}\n"


def test_both_influx_stores_call_the_request_size_batch_lines() -> None:
    assert "batch_lines" in InfluxV1StoreConfig.model_fields
    assert "batch_lines" in InfluxV2StoreConfig.model_fields
    assert "batch_size" not in InfluxV2StoreConfig.model_fields


def test_the_old_v2_name_is_read_with_a_warning_naming_the_new(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = tmp_path / "ingest.yaml"
    cfg.write_text(V2 + "  batch_size: 700\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        store = load_store_section(cfg)
    assert isinstance(store, InfluxV2StoreConfig) and store.batch_lines == 700
    assert "`batch_size` is deprecated, use `batch_lines`" in caplog.text


def test_old_and_new_name_together_are_refused_naming_the_section(tmp_path: Path) -> None:
    cfg = tmp_path / "ingest.yaml"
    cfg.write_text(V2 + "  batch_size: 700\n  batch_lines: 800\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_store_section(cfg)
    assert f"{cfg}:1:1: field store" in str(err.value) and "batch_lines` only" in str(err.value)
