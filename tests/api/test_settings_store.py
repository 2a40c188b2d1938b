"""The API opens its store from the same config models and factory as ingest (`type: …`)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import load_settings
from campus_twin.servers import InfluxDB
from contract.secrets import SecretError
from contract.yamlio import ConfigError
from store.config import InfluxV1StoreConfig
from store.influx_v1 import InfluxV1Store
from tests.api.api_seed import VIEWER_TOKEN, FixedClock


def _write(conf: Path, twin_dir: Path, store: str) -> Path:
    conf.mkdir(exist_ok=True)
    (conf / "api.yaml").write_text(
        f"twin_config: {twin_dir / 'twin.yaml'}\n"
        f"store: {store}\n"
        f"tokens: {{file: {twin_dir / 'tokens.yaml'}, env: null}}\n"
        "agent_health: {type: none, password: {file: mqtt-pw}, tls: {ca_file: ca.pem}}\n",
        encoding="utf-8",
    )
    return conf / "api.yaml"


def test_influxdb_store_from_settings_with_secret_file(
    tmp_path: Path, twin_dir: Path, influxdb: InfluxDB
) -> None:
    db = f"api_settings_{uuid.uuid4().hex[:8]}"
    (tmp_path / "influx-pw").write_text("not-checked-by-an-open-1.x\n", encoding="utf-8")
    store = (
        f"{{type: influxdb, url: {influxdb.url}, database: {db}, create_database: true,"
        " username: reader, password: {file: influx-pw}}"
    )
    settings = load_settings(_write(tmp_path, twin_dir, store))
    assert isinstance(settings.store, InfluxV1StoreConfig)
    assert (
        settings.store.password is not None
        and settings.store.password.file == tmp_path.resolve() / "influx-pw"
    )
    ah = settings.agent_health
    assert ah.password is not None and ah.password.file == tmp_path.resolve() / "mqtt-pw"
    assert ah.tls is not None and ah.tls.ca_file == tmp_path.resolve() / "ca.pem"
    app = create_app(settings, clock=FixedClock())
    with TestClient(app) as c:
        assert isinstance(app.state.campus.store, InfluxV1Store)
        r = c.get("/api/v1/rooms", headers={"Authorization": f"Bearer {VIEWER_TOKEN}"})
        assert r.status_code == 200 and r.json()["items"]


def test_missing_secret_file_is_named_without_a_value(tmp_path: Path, twin_dir: Path) -> None:
    store = "{type: influxdb, url: http://127.0.0.1:9, database: campus, password: {file: nope}}"
    settings = load_settings(_write(tmp_path, twin_dir, store))
    with pytest.raises(SecretError, match=r"cannot read secret file .*nope"):
        create_app(settings, clock=FixedClock())


def test_old_kind_key_is_a_located_error(tmp_path: Path, twin_dir: Path) -> None:
    cfg = _write(tmp_path, twin_dir, "{kind: sqlite, path: store.sqlite}")
    with pytest.raises(ConfigError, match=r"api\.yaml:2:\d+: field store"):
        load_settings(cfg)
