"""Reading a Prometheus exposition in tests: `{'name{a="x",b="y"}': value}` from text or a URL.

Parsed with prometheus_client's own parser; label names are sorted in the key (as
prometheus_client writes them), so build keys with `key(name, **labels)`.
"""

from __future__ import annotations

import urllib.request

from prometheus_client.parser import text_string_to_metric_families


def key(name: str, **labels: str) -> str:
    if not labels:
        return name
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return f"{name}{{{inner}}}"


def parse_metrics(text: str) -> dict[str, float]:
    """Every sample (counters with their `_total` name), values as floats (`2.0 == 2`)."""
    return {
        key(s.name, **s.labels): float(s.value)
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def scrape(url: str, timeout: float = 2.0) -> dict[str, float]:
    """GET a /metrics URL and parse it (raises OSError while nothing listens)."""
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return parse_metrics(r.read().decode())
