"""Registry entry of the MQTT sensor source: the agent YAML's `mqtt:` section (`config.MqttSouthConfig`)."""

from __future__ import annotations

from edge_agent.sources import Source, SourceContext, SourcePlugin
from edge_agent.sources.mqtt.config import MqttSouthConfig


def build(section: MqttSouthConfig | None, ctx: SourceContext) -> Source | None:
    if section is None or not section.subscriptions:
        return None
    from edge_agent.sources.mqtt.source import MqttSource

    return MqttSource(section, ctx)


PLUGIN = SourcePlugin(key="mqtt", section=MqttSouthConfig | None, default=None, build=build)
