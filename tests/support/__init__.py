"""Shared test support, imported as a package (`from tests.support.waiting import wait_until`).

- `waiting`: bounded waits on a condition (never a fixed sleep before an assertion).
- `mqtt`: a recording subscriber and a QoS 1 publisher on a real broker.
- `servers`: the session/private Mosquitto and InfluxDB fixtures (a pytest plugin).
- `cases`: the loader for data-driven regression cases under `tests/cases/<area>/<case>/`.
"""
