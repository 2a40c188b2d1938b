"""The lowest layer: the shapes every other package agrees on.

`telemetry` is the agent↔ingest wire contract, `bindings` the twin→ingest binding table,
`campus` the campus spec shared by the IFC generator and the simulators, `yamlio` the
line-numbered YAML loading every config uses. Imports nothing of this project.
"""
