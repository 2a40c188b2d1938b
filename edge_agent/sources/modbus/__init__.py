"""The Modbus southbound source: device instances (config), the poller, and CLI helpers."""
