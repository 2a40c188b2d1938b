"""One 'known quantity' check: contract.quantities.check_quantity, wherever a name is validated."""

from __future__ import annotations

import pytest


def test_one_known_quantity_check_everywhere() -> None:
    """The standards schema, the API's conditions and its `quantity` parameter all say the
    catalogue's message (contract.quantities.check_quantity), never a copy of their own."""
    from api.conditions import ConditionError, parse_clause
    from api.deps import check_quantity as api_check
    from api.errors import ApiError
    from contract.quantities import unknown_quantity_message
    from twin.standards.schema import Rule

    want = unknown_quantity_message("warmth")
    with pytest.raises(ConditionError) as cond:
        parse_clause("warmth", ">", 1)
    assert str(cond.value) == want
    with pytest.raises(ApiError) as api:
        api_check("warmth")
    assert api.value.status_code == 422 and api.value.detail == f"quantity: {want}"
    with pytest.raises(ValueError, match=r"unknown quantity 'warmth'; known: co2, "):
        Rule.model_validate({"id": "x", "quantity": "warmth"})
