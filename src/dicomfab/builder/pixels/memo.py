"""A least-recently-used cache bounded by bytes as well as entries, for read-only numpy results.

``functools.lru_cache`` counts entries only: sized for the hundreds of small fields a library of
reduced images draws, it could hold as many full-size ones. This one drops the oldest entries
past ``maxbytes`` too (a value larger than that is returned but not kept), and makes the arrays it
keeps read-only so that no caller can change what the next one gets.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from functools import update_wrapper
from typing import Generic, NamedTuple, ParamSpec, TypeVar

import numpy as np

P = ParamSpec("P")
R = TypeVar("R")


class CacheInfo(NamedTuple):
    """What ``functools.lru_cache``'s ``cache_info()`` says, and the bytes held."""

    hits: int
    misses: int
    maxsize: int
    currsize: int
    nbytes: int
    maxbytes: int


def nbytes(value: object) -> int:
    """The bytes of the arrays in ``value``: an array, a tuple of them, or an object that says
    (an ``nbytes`` attribute); anything else counts 0."""
    if isinstance(value, tuple):
        return sum(nbytes(item) for item in value)
    size = getattr(value, "nbytes", 0)
    return size if isinstance(size, int) else 0


def freeze(value: object) -> None:
    """Make the arrays in ``value`` (an array or a tuple of them) read-only; other values must be
    immutable already."""
    if isinstance(value, np.ndarray):
        value.setflags(write=False)
    elif isinstance(value, tuple):
        for item in value:
            freeze(item)


class BoundedCache(Generic[P, R]):
    """``function`` memoised on its (hashable) arguments, least recently used dropped first."""

    def __init__(self, function: Callable[P, R], maxsize: int, maxbytes: int) -> None:
        self.__wrapped__ = function
        self._maxsize, self._maxbytes = maxsize, maxbytes
        self._entries: OrderedDict[Hashable, tuple[R, int]] = OrderedDict()
        self._bytes = self._hits = self._misses = 0
        self._lock = threading.Lock()  # the value is computed outside it, as lru_cache does
        update_wrapper(self, function)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        key = (args, tuple(sorted(kwargs.items()))) if kwargs else args
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
                self._hits += 1
                return entry[0]
            self._misses += 1
        value = self.__wrapped__(*args, **kwargs)
        freeze(value)
        size = nbytes(value)
        if size > self._maxbytes or self._maxsize <= 0:
            return value
        with self._lock:
            if key not in self._entries:
                self._entries[key] = (value, size)
                self._bytes += size
            while len(self._entries) > self._maxsize or self._bytes > self._maxbytes:
                _, (_, dropped) = self._entries.popitem(last=False)
                self._bytes -= dropped
        return value

    def cache_info(self) -> CacheInfo:
        with self._lock:
            return CacheInfo(
                self._hits, self._misses, self._maxsize, len(self._entries), self._bytes,
                self._maxbytes,
            )  # fmt: skip

    def cache_clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = self._hits = self._misses = 0


def bounded_cache(maxsize: int, maxbytes: int) -> Callable[[Callable[P, R]], BoundedCache[P, R]]:
    """Decorator: :class:`BoundedCache` of at most ``maxsize`` entries and ``maxbytes`` bytes."""

    def wrap(function: Callable[P, R]) -> BoundedCache[P, R]:
        return BoundedCache(function, maxsize, maxbytes)

    return wrap
