"""Secrets by reference and TLS settings: read late, never shown, paths relative to the config file."""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from contract.broker import BrokerSettings
from contract.secrets import SecretError, SecretRef, TlsSettings, rebase, resolve_secret


def test_env_secret_read_only_when_resolved(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CT_TEST_SECRET", raising=False)
    ref = SecretRef(env="CT_TEST_SECRET")  # defining the reference reads nothing
    with pytest.raises(SecretError, match="CT_TEST_SECRET is not set"):
        ref.resolve()
    monkeypatch.setenv("CT_TEST_SECRET", "hunter2")
    assert ref.resolve() == "hunter2"
    assert resolve_secret(ref) == "hunter2"
    assert resolve_secret(None) is None


def test_file_secret_first_line_and_unreadable_file(tmp_path: Path) -> None:
    f = tmp_path / "pw"
    f.write_text("from-file\nignored\n", encoding="utf-8")
    assert SecretRef(file=f).resolve() == "from-file"
    with pytest.raises(SecretError, match=r"cannot read secret file .*missing"):
        SecretRef(file=tmp_path / "missing").resolve()


def test_value_never_in_repr_str_or_dumps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CT_TEST_SECRET", "hunter2")
    b = BrokerSettings(username="u", password=SecretRef(env="CT_TEST_SECRET"))
    assert b.password_value() == "hunter2"
    shown = [repr(b), str(b), b.model_dump_json(), json.dumps(b.model_dump(mode="json")), b.describe()]
    assert all("hunter2" not in s for s in shown)
    assert "CT_TEST_SECRET" in repr(b.password)


@pytest.mark.parametrize("doc", [{}, {"env": "A", "file": "b"}, {"env": ""}, {"value": "x"}])
def test_exactly_one_reference(doc: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        SecretRef.model_validate(doc)


def test_rebase_keeps_absolute_and_resolves_relative(tmp_path: Path) -> None:
    assert rebase(Path("/abs/x"), tmp_path) == Path("/abs/x")
    assert rebase(Path("rel/x"), tmp_path) == tmp_path / "rel" / "x"
    assert rebase(None, tmp_path) is None
    b = BrokerSettings.model_validate(
        {"password": {"file": "pw"}, "tls": {"ca_file": "/etc/ca.pem", "cert_file": "c.pem", "key_file": "k"}}
    ).rebased(tmp_path)
    assert b.password is not None and b.password.file == tmp_path / "pw"
    assert b.tls is not None
    assert (b.tls.ca_file, b.tls.cert_file, b.tls.key_file) == (
        Path("/etc/ca.pem"),
        tmp_path / "c.pem",
        tmp_path / "k",
    )
    env = SecretRef(env="X")
    assert env.rebased(tmp_path) is env


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


def _ca(d: Path, name: str) -> tuple[Path, Path]:
    key, crt = d / f"{name}.key", d / f"{name}.pem"
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={name}",
        "-keyout", str(key), "-out", str(crt),
    )  # fmt: skip
    return key, crt


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A CA, a server certificate it signed for a name that is not 127.0.0.1, and a foreign CA."""
    d = tmp_path_factory.mktemp("pki")
    ca_key, ca = _ca(d, "campus-ca")
    _, other_ca = _ca(d, "other-ca")
    key, csr, crt = d / "srv.key", d / "srv.csr", d / "srv.pem"
    _openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=broker.campus", "-keyout", str(key), "-out", str(csr))  # fmt: skip
    ext = d / "ext.cnf"
    ext.write_text("subjectAltName=DNS:broker.campus\n")
    _openssl(
        "x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
        "-days", "2", "-extfile", str(ext), "-out", str(crt),
    )  # fmt: skip
    return {"ca": ca, "other_ca": other_ca, "key": key, "crt": crt}


@pytest.fixture
def tls_server(pki: dict[str, Path]) -> Iterator[int]:
    """A TLS listener on 127.0.0.1 that completes handshakes until the test ends."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(pki["crt"]), str(pki["key"]))
    srv = socket.create_server(("127.0.0.1", 0))
    srv.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except TimeoutError:
                continue
            conn.settimeout(5)
            try:
                with ctx.wrap_socket(conn, server_side=True):
                    pass
            except (ssl.SSLError, OSError):
                conn.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield srv.getsockname()[1]
    stop.set()
    t.join(5)
    srv.close()


def _handshake(tls: TlsSettings, port: int) -> None:
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        tls.ssl_context().wrap_socket(raw, server_hostname="127.0.0.1"),
    ):
        pass


@pytest.mark.integration
def test_ssl_context_verifies_chain_and_host(pki: dict[str, Path], tls_server: int) -> None:
    with pytest.raises(ssl.SSLCertVerificationError, match=r"IP address mismatch|hostname"):
        _handshake(TlsSettings(ca_file=pki["ca"]), tls_server)
    _handshake(TlsSettings(ca_file=pki["ca"], insecure=True), tls_server)  # host name check skipped
    with pytest.raises(ssl.SSLCertVerificationError, match="unable to get local issuer"):
        _handshake(TlsSettings(ca_file=pki["other_ca"], insecure=True), tls_server)  # chain still checked


def test_ssl_context_loads_client_cert_and_names_missing_file(pki: dict[str, Path], tmp_path: Path) -> None:
    ctx = TlsSettings(cert_file=pki["crt"], key_file=pki["key"]).ssl_context()
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    with pytest.raises(OSError):
        TlsSettings(ca_file=tmp_path / "nope.pem").ssl_context()
