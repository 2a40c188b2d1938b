"""MQTT southbound: sensor payload formats (pure) and the subscriber (I/O)."""
