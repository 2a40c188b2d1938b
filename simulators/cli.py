"""`campus-twin sim …` commands. Registering imports nothing heavy; handlers import lazily.

- `sim run --campus SPEC`: serve a whole campus (Modbus TCP servers + MQTT sensors) driven by
  the classroom model, write a manifest for the agents, stop cleanly on SIGINT/SIGTERM;
- `sim faults --manifest M --device D --kind K`: inject a fault into a running campus
  (through the broker's control topic named in the manifest).
"""

from __future__ import annotations

import argparse
from typing import Any

from contract.cli import group

MODBUS_FAULTS = ("timeout", "exception", "garbled", "short", "delay")
MQTT_FAULTS = ("malformed", "oversized", "nan", "wrong_types", "missing_fields", "burst")


def _broker_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--mqtt-username", help="MQTT user name")
    pw = p.add_mutually_exclusive_group()
    pw.add_argument(
        "--mqtt-password-env", metavar="VAR", help="environment variable holding the MQTT password"
    )
    pw.add_argument("--mqtt-password-file", metavar="FILE", help="file holding the MQTT password")
    p.add_argument("--mqtt-tls", action="store_true", help="connect with TLS")
    p.add_argument("--mqtt-ca", metavar="FILE", help="CA bundle for the broker certificate")
    p.add_argument("--mqtt-cert", metavar="FILE", help="client certificate (mutual TLS)")
    p.add_argument("--mqtt-key", metavar="FILE", help="client key (mutual TLS)")
    p.add_argument(
        "--mqtt-insecure", action="store_true", help="TLS without checking the broker host name (lab use)"
    )


def _broker(args: argparse.Namespace, host_port: str, client_id: str) -> Any:
    from contract.secrets import SecretRef, TlsSettings
    from simulators.mqtt_link import BrokerOptions

    password = (
        SecretRef(env=args.mqtt_password_env, file=args.mqtt_password_file)
        if args.mqtt_password_env or args.mqtt_password_file
        else None
    )
    tls_files = {"ca_file": args.mqtt_ca, "cert_file": args.mqtt_cert, "key_file": args.mqtt_key}
    use_tls = args.mqtt_tls or args.mqtt_insecure or any(tls_files.values())
    return BrokerOptions.parse(
        host_port,
        username=args.mqtt_username,
        password=password,
        tls=TlsSettings(**tls_files, insecure=args.mqtt_insecure) if use_tls else None,
        client_id=client_id,
    )


def _listen(value: str) -> str:
    from ops.metrics import parse_listen

    try:
        parse_listen(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return value


def register(sub: Any) -> None:
    cmds = group(
        sub, "sim", "Simulated classrooms, labs and devices (Modbus TCP and MQTT) with fault injection."
    )
    run = cmds.add_parser(
        "run",
        help="serve a simulated campus over Modbus TCP and MQTT",
        description="Serve every device of a campus spec: one Modbus TCP server per (building, "
        "server_index), MQTT sensors in zigbee2mqtt/tasmota/lorawan formats, values from the "
        "physical classroom model. Stops cleanly on SIGINT/SIGTERM.",
    )
    run.add_argument("--campus", required=True, metavar="SPEC", help="campus spec YAML (contract/campus.py)")
    run.add_argument(
        "--broker", metavar="HOST:PORT", help="MQTT broker for the MQTT sensors and fault control"
    )
    _broker_args(run)
    run.add_argument("--host", default="127.0.0.1", help="address the Modbus servers listen on")
    run.add_argument("--base-port", type=int, default=0, help="first Modbus port (default: free ports)")
    run.add_argument(
        "--framer", choices=("socket", "rtu"), default="socket", help="Modbus TCP or RTU-over-TCP"
    )
    run.add_argument("--speed", type=float, default=1.0, help="simulated seconds per wall second")
    run.add_argument("--origin-ns", type=int, help="ScaledClock origin shared with the agents")
    run.add_argument("--start", metavar="ISO", help="simulated start, campus-local, e.g. 2026-11-23T07:30")
    run.add_argument("--step-s", type=float, default=60.0, help="model time step (simulated seconds)")
    run.add_argument("--tick-s", type=float, default=1.0, help="wall seconds between value updates")
    run.add_argument(
        "--mqtt-interval-s", type=float, default=10.0, help="wall seconds between sensor messages"
    )
    run.add_argument("--mqtt-qos", type=int, choices=(0, 1), default=0)
    run.add_argument(
        "--profiles", action="append", metavar="DIR", help="profile directory (default: library)"
    )
    run.add_argument("--manifest", metavar="OUT.json", help="write where every device lives")
    run.add_argument("--duration", type=float, metavar="S", help="stop after S wall seconds")
    run.add_argument(
        "--metrics-listen",
        metavar="HOST:PORT",
        type=_listen,
        help="serve Prometheus /metrics here (the simulators' port is 9112: 127.0.0.1:9112); default off",
    )
    run.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="DEVICE:KIND[:ARG]",
        help="inject at start: Modbus timeout/exception[:code]/garbled/short/delay[:s], "
        "MQTT malformed/oversized/nan/wrong_types/missing_fields/burst[:count]",
    )
    run.set_defaults(func=_run, _parser=run)

    faults = cmds.add_parser(
        "faults",
        help="inject a fault into a running simulated campus",
        description="Publish a fault command on the control topic of a running `sim run` "
        "(read from its manifest). Modbus kinds: " + ", ".join(MODBUS_FAULTS) + ", clear; "
        "MQTT kinds: " + ", ".join(MQTT_FAULTS) + ".",
    )
    faults.add_argument("--manifest", required=True, metavar="FILE", help="manifest written by `sim run`")
    faults.add_argument("--device", required=True, help="device id, e.g. A-201-air")
    faults.add_argument("--kind", required=True, choices=(*MODBUS_FAULTS, *MQTT_FAULTS, "clear"))
    faults.add_argument("--code", type=int, help="Modbus exception code (exception)")
    faults.add_argument("--delay-s", type=float, help="answer delay in seconds (delay)")
    faults.add_argument("--duration-s", type=float, help="clear the Modbus fault after S wall seconds")
    faults.add_argument("--count", type=int, help="messages in a burst")
    faults.add_argument("--size", type=int, help="bytes of an oversized payload")
    faults.add_argument("--broker", metavar="HOST:PORT", help="override the manifest's broker")
    _broker_args(faults)
    faults.set_defaults(func=_faults, _parser=faults)


def _run(args: argparse.Namespace) -> int:
    import asyncio

    from simulators.run_cli import run_campus

    return asyncio.run(run_campus(args, _broker(args, args.broker, "") if args.broker else None))


def _faults(args: argparse.Namespace) -> int:
    from simulators.run_cli import send_fault

    return send_fault(args, lambda hp: _broker(args, hp, ""))
