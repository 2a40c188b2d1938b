"""Time-series stores behind one small interface (`store.base.Store`).

Below ingest (writes), twin and api (reads): the protocol, point/window types, the store config
models (`store.config`) and the factory (`store.factory.open_store`). Imports `contract` only.
"""
