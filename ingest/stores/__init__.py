"""Time-series stores behind one small interface (`ingest.stores.base.Store`)."""
