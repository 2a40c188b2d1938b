"""Benchmarks (not tests): each prints its figures and a ratio against a baseline measured in
the same run; `--json` adds one JSON object on the last line. Entry: `campus-twin bench NAME`."""
