"""Twin objects → response models, and the shared pagination/filter helpers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from api.room_types import type_label
from api.schemas import BuildingOut, CampusOut, Page, RoomOut, StoreyOut
from api.scope import visible
from api.series_index import SeriesIndex
from twin.index import SpacePlace
from twin.model import Building, Campus, Storey

T = TypeVar("T")


def page(model: type[Page[T]], items: Sequence[T], limit: int, offset: int) -> Page[T]:
    """One page of the `items` the caller may see (every list endpoint pages the same way, so
    the campus scope filter applies to every list: api/scope.py)."""
    items = visible(items)
    return model(items=list(items[offset : offset + limit]), total=len(items), limit=limit, offset=offset)


def campus_out(c: Campus) -> CampusOut:
    return CampusOut(
        id=c.id,
        name=c.name,
        buildings=len(c.buildings),
        rooms=sum(len(b.all_spaces()) for b in c.buildings),
        problems=len(c.problems),
    )


def building_out(c: Campus, b: Building) -> BuildingOut:
    return BuildingOut(
        id=b.global_id, campus=c.id, name=b.name, storeys=len(b.storeys), rooms=len(b.all_spaces())
    )


def storey_out(c: Campus, b: Building, st: Storey) -> StoreyOut:
    return StoreyOut(
        id=st.global_id,
        campus=c.id,
        building=b.global_id,
        name=st.name,
        elevation_m=st.elevation_m,
        rooms=len(st.spaces),
    )


def bound_devices(place: SpacePlace, series: SeriesIndex) -> list[str]:
    gid = place.space.global_id
    found = set(series.devices_in_room.get(gid, ()))
    found.update(str(s.get("DeviceId")) for s in place.space.sensors if s.get("DeviceId"))
    return sorted(found)


def room_out(
    place: SpacePlace, series: SeriesIndex, factory: Callable[..., RoomOut] = RoomOut, **extra: object
) -> RoomOut:
    sp = place.space
    return factory(
        id=sp.global_id,
        number=sp.room_number,
        name=sp.long_name,
        campus=place.campus.id,
        building=place.building.global_id,
        storey=place.storey.global_id if place.storey else None,
        type=sp.room_type,
        type_label=type_label(sp.room_type, sp.long_name),
        area_m2=sp.area_m2,
        volume_m3=sp.volume_m3,
        height_m=sp.height_m,
        devices=bound_devices(place, series),
        **extra,
    )
