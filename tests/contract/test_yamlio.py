from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict

from contract.yamlio import ConfigError, load_model


class Inner(BaseModel):
    model_config = ConfigDict(extra="forbid")
    port: int


class Outer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    items: list[Inner]


def test_error_names_file_line_and_field(tmp_path: Path) -> None:
    f = tmp_path / "c.yaml"
    f.write_text("name: x\nitems:\n  - port: 1\n  - port: nope\n  - prot: 3\n")
    with pytest.raises(ConfigError) as info:
        load_model(Outer, f)
    text = str(info.value)
    assert f"{f}:4:5: field items[1].port:" in text
    assert f"{f}:5:5: field items[2].prot: unknown field" in text


def test_syntax_error_has_line(tmp_path: Path) -> None:
    f = tmp_path / "c.yaml"
    f.write_text("name: x\nitems: [\n")
    with pytest.raises(ConfigError, match=rf"{f.name}:\d+:\d+: YAML syntax"):
        load_model(Outer, f)


def test_duplicate_key_and_missing_file(tmp_path: Path) -> None:
    f = tmp_path / "c.yaml"
    f.write_text("name: x\nname: y\nitems: []\n")
    with pytest.raises(ConfigError, match=r"c\.yaml"):
        load_model(Outer, f)
    with pytest.raises(ConfigError, match="cannot read"):
        load_model(Outer, tmp_path / "missing.yaml")


def test_valid_file_loads(tmp_path: Path) -> None:
    f = tmp_path / "c.yaml"
    f.write_text("name: x\nitems:\n  - port: 1\n")
    assert load_model(Outer, f).items[0].port == 1


def test_union_tags_are_not_shown_as_fields(tmp_path: Path) -> None:
    from typing import Annotated, Literal

    from pydantic import Field

    class A(BaseModel):
        model_config = ConfigDict(extra="forbid")
        type: Literal["a"]
        path: int

    class B(BaseModel):
        model_config = ConfigDict(extra="forbid")
        type: Literal["b"]
        url: str

    class Top(BaseModel):
        store: Annotated[A | B, Field(discriminator="type")]

    f = tmp_path / "c.yaml"
    f.write_text("store:\n  type: a\n  path: nope\n")
    with pytest.raises(ConfigError) as info:
        load_model(Top, f)
    assert f"{f}:3:3: field store.path:" in str(info.value)
