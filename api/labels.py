"""Chinese-first labels for quantities shown in the API and UI ("二氧化碳 CO₂").

The labels live in the quantity catalogue (contract/quantities.yaml); this module only shapes
them for the API and gives the catalogue's order for lists.
"""

from __future__ import annotations

from api.schemas import Label
from contract.quantities import catalogue

# (zh, en) per quantity in catalogue order: a derived view kept for api/status.py's ordering.
QUANTITY_LABELS: dict[str, tuple[str, str]] = {
    q: (s.label.zh, s.label.en) for q, s in catalogue().quantities.items()
}


def quantity_order() -> dict[str, int]:
    """Position of each quantity in the catalogue (the order the UI lists them in)."""
    return {q: i for i, q in enumerate(catalogue().quantities)}


def quantity_label(q: str) -> Label:
    spec = catalogue().quantities.get(q)
    if spec is None:
        return Label(zh=q, en=q)
    return Label(zh=spec.label.zh, en=spec.label.en)
