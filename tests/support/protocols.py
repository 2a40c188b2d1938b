"""`assert_implements(obj, Proto)`: a protocol check that can fail on more than a missing name.

`isinstance(x, RuntimeCheckableProtocol)` only checks that the method *names* exist, so it passes
for a class whose `write` takes the wrong arguments. This compares every protocol method's
parameters (names, kinds, defaults present) with the implementation's.
"""

from __future__ import annotations

import inspect
from typing import Any


def _params(fn: Any) -> list[tuple[str, Any, bool]]:
    sig = inspect.signature(fn)
    return [
        (p.name, p.kind, p.default is not inspect.Parameter.empty)
        for p in sig.parameters.values()
        if p.name != "self"
    ]


def assert_implements(obj: object, proto: type) -> None:
    problems = []
    for name, member in vars(proto).items():
        if name.startswith("_") or not callable(member):
            continue
        impl = getattr(obj, name, None)
        if impl is None:
            problems.append(f"{name}: missing")
        elif _params(impl) != _params(member):
            problems.append(f"{name}{inspect.signature(impl)} differs from {name}{inspect.signature(member)}")
    assert not problems, f"{type(obj).__name__} does not implement {proto.__name__}: " + "; ".join(problems)
