"""Bounds on what a JSON request body may hold, checked before any library code sees it.

The byte size is bounded by the security middleware (``MAX_BODY``); here the nesting depth: a
spec is a dozen levels deep, while hundreds of levels only serve to exhaust recursion in the
validators and serialisers behind the API.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator

MAX_DEPTH = 64  # levels of lists and mappings in one request field


def depth_within(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether ``value`` nests lists and mappings at most ``limit`` levels (iteratively: a
    deep value cannot exhaust the stack here)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth >= limit:
            return False
        stack.extend((child, depth + 1) for child in children)
    return True


def _bounded(value: Any) -> Any:
    if not depth_within(value):
        raise ValueError(f"nested more than {MAX_DEPTH} levels deep")
    return value


#: for ``Annotated[...]``: a free-form JSON field (a spec, parameters) whose nesting is bounded
bounded = AfterValidator(_bounded)
Nested = Annotated[Any, bounded]
