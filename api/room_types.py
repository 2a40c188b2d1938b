"""Room type labels (zh/en) from the twin's room-type rules, with the IFC LongName as fallback."""

from __future__ import annotations

from functools import lru_cache

from api.schemas import Label


@lru_cache(maxsize=1)
def _labels() -> dict[str, tuple[str, str]]:
    from twin.rooms import load_rules

    return {k: (v.zh, v.en) for k, v in load_rules().types.items()}


def type_label(room_type: str | None, long_name: str | None) -> Label | None:
    if room_type is None:
        return Label(zh=long_name, en=long_name) if long_name else None
    zh_en = _labels().get(room_type)
    if zh_en:
        return Label(zh=zh_en[0], en=zh_en[1])
    return Label(zh=long_name or room_type, en=room_type.replace("_", " "))
