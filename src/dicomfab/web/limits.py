"""Bounds on what a JSON request body may hold, checked before any library code sees it.

The byte size is bounded by the security middleware (``MAX_BODY``); here the nesting depth, by
the document loader's rule (:func:`dicomfab.studyspec.documents.too_deep`): a spec is a dozen levels
deep, while hundreds of levels only serve to exhaust recursion in the validators and
serialisers behind the API.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator

from dicomfab.studyspec.documents import MAX_DEPTH, too_deep


def _bounded(value: Any) -> Any:
    if too_deep(value):
        raise ValueError(f"nested more than {MAX_DEPTH} levels deep")
    return value


#: for ``Annotated[...]``: a free-form JSON field (a spec, parameters) whose nesting is bounded
bounded = AfterValidator(_bounded)
Nested = Annotated[Any, bounded]
