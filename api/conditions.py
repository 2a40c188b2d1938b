"""Room filters such as `co2>1000` or `illuminance<300,occupancy>0`: a tiny validated grammar.

    condition := clause ( ("," | " and ") clause )*        at most 8 clauses, 300 characters
    clause    := quantity op number
    op        := ">" | ">=" | "<" | "<=" | "=" | "==" | "!="
    quantity  := a contract quantity (co2, illuminance, temperature, …)
    number    := decimal, e.g. 1000, -5, 0.5

Parsed by a regex into data, evaluated in Python against latest values: nothing is ever
evaluated as code or passed to a store query.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from contract.quantities import check_quantity

MAX_CLAUSES = 8
MAX_LENGTH = 300
OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "=": operator.eq,
    "==": operator.eq,
    "!=": operator.ne,
}
OP_NAMES = {"gt": ">", "ge": ">=", "lt": "<", "le": "<=", "eq": "=", "ne": "!="}
_CLAUSE = re.compile(r"^\s*([a-z][a-z0-9_]{0,31})\s*(>=|<=|==|!=|>|<|=)\s*(-?\d{1,12}(?:\.\d{1,9})?)\s*$")
_SPLIT = re.compile(r",|\s+and\s+", re.IGNORECASE)


class ConditionError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Clause:
    quantity: str
    op: str
    value: float

    def test(self, actual: float) -> bool:
        return OPS[self.op](actual, self.value)

    def __str__(self) -> str:
        return f"{self.quantity}{self.op}{self.value:g}"


def parse_clause(quantity: str, op: str, value: float) -> Clause:
    try:
        check_quantity(quantity)
    except ValueError as exc:
        raise ConditionError(str(exc)) from None
    symbol = OP_NAMES.get(op, op)
    if symbol not in OPS:
        raise ConditionError(f"unknown operator {op!r}; use one of {', '.join(OP_NAMES)} or > >= < <= = !=")
    if not math.isfinite(value):
        raise ConditionError("value must be a finite number")
    return Clause(quantity, symbol, float(value))


def parse_condition(text: str) -> list[Clause]:
    if len(text) > MAX_LENGTH:
        raise ConditionError(f"condition longer than {MAX_LENGTH} characters")
    parts = [p for p in _SPLIT.split(text) if p.strip()]
    if not parts:
        raise ConditionError("empty condition; expected e.g. co2>1000")
    if len(parts) > MAX_CLAUSES:
        raise ConditionError(f"at most {MAX_CLAUSES} clauses")
    out = []
    for i, part in enumerate(parts, 1):
        m = _CLAUSE.match(part)
        if not m:
            raise ConditionError(
                f"clause {i} {part.strip()[:40]!r}: expected <quantity><op><number>, e.g. co2>1000"
            )
        out.append(parse_clause(m.group(1), m.group(2), float(m.group(3))))
    return out


def matches(clauses: list[Clause], latest: Mapping[str, float]) -> dict[str, float] | None:
    """The values that satisfied every clause, or None. A quantity without a value never matches."""
    hit: dict[str, float] = {}
    for c in clauses:
        v = latest.get(c.quantity)
        if v is None or not c.test(v):
            return None
        hit[c.quantity] = v
    return hit
