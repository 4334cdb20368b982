"""Read-only JSON values, decoded once per text and shared (the queue jobs' payload column).

A queue job's payload (a whole order) is read again by every request that loads its row: the build of a
round trip, the answer, the next step. :func:`loads` decodes each distinct text once per process and
hands every later load of the same text the same object, so decoding and the comparisons that follow
(``handlers.record_of``: is this the payload the record was read from?) cost an identity check.

A shared value must never change: one session's edit would show in every other session's read of the
same text. So the values are :class:`FrozenDict` and :class:`FrozenList`, which compare equal to plain
dicts and lists and serialize to the same JSON, but raise TypeError on any change in place. Code that
changes a payload builds a new one and assigns it (``job.payload = {**job.payload, "key": value}``);
``dict(value)``, ``value.copy()``, ``{**value}``, ``value | other``, slices and ``copy.deepcopy`` all give
plain, changeable copies.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

from sqlalchemy import JSON, Text, cast, type_coerce
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeDecorator

_T = TypeVar("_T")
_READ_ONLY = ("a JSON value read from the database is shared by every load of the same text and cannot be "
              "changed in place ({}); build a new value and assign it, e.g. "
              "job.payload = {{**job.payload, key: value}}")


def _refusing(*names: str) -> Callable[[type[_T]], type[_T]]:
    """A class decorator: each method ``names`` (those that change a value in place) raises TypeError."""
    def decorate(cls: type[_T]) -> type[_T]:
        for name in names:
            def refuse(self: object, *args: object, _name: str = name, **kwargs: object) -> NoReturn:
                raise TypeError(_READ_ONLY.format(f"{type(self).__name__}.{_name}"))

            refuse.__name__ = name
            setattr(cls, name, refuse)
        return cls

    return decorate


@_refusing("__setitem__", "__delitem__", "__ior__", "clear", "pop", "popitem", "setdefault", "update")
class FrozenDict(dict[str, Any]):
    """A dict that refuses every change in place (TypeError); equal to, and serialized as, a plain dict."""

    __slots__ = ()

    def __reduce_ex__(self, protocol: Any) -> tuple[Any, ...]:
        # pickle, copy.copy and copy.deepcopy: a plain dict (a copy is its owner's to change); the default
        # would rebuild a FrozenDict through __setitem__.
        return dict, (dict(self),)


@_refusing("__setitem__", "__delitem__", "__iadd__", "__imul__", "append", "extend", "insert", "pop",
           "remove", "clear", "sort", "reverse")
class FrozenList(list[Any]):
    """A list that refuses every change in place (TypeError); equal to, and serialized as, a plain list."""

    __slots__ = ()

    def __reduce_ex__(self, protocol: Any) -> tuple[Any, ...]:
        return list, (list(self),)


def _frozen_list(items: list[Any]) -> FrozenList:
    # The decoder's object hook has frozen every object already (inner ones first); lists are left.
    return FrozenList([_frozen_list(item) if type(item) is list else item for item in items])


def _frozen_object(obj: dict[str, Any]) -> FrozenDict:
    for key, value in obj.items():
        if type(value) is list:
            obj[key] = _frozen_list(value)  # obj is the decoder's own new dict, not yet shared
    return FrozenDict(obj)


_decode = json.JSONDecoder(object_hook=_frozen_object).decode


def freeze(value: Any) -> Any:
    """``value`` (decoded JSON: dicts, lists, scalars) read-only: :class:`FrozenDict`, :class:`FrozenList`."""
    kind = type(value)
    if kind is FrozenDict or kind is FrozenList:
        return value
    if isinstance(value, dict):
        return FrozenDict({key: freeze(item) for key, item in value.items()})
    if isinstance(value, list):
        return FrozenList([freeze(item) for item in value])
    return value


# Bounded in entries and in characters (the texts are kept as keys, their values beside them: about 6
# bytes of memory a character in all, so some 25 MB at most). An order's payload is a few kB; a round
# trip's jobs, read when built and again when answered, fit well within.
CACHE_ENTRIES = 2048
CACHE_CHARS = 4_000_000
_LARGEST_KEPT = CACHE_CHARS // 64  # a bigger text is decoded on every load rather than evict many others

_cache: OrderedDict[str, Any] = OrderedDict()
_cache_chars = 0
_lock = threading.Lock()
_MISSING = object()


def loads(text: str) -> Any:
    """The read-only value of JSON ``text``: decoded once, the same object for every later load of the
    same text (while it stays among the recently read ones)."""
    global _cache_chars
    with _lock:
        value = _cache.get(text, _MISSING)
        if value is not _MISSING:
            _cache.move_to_end(text)
            return value
    value = _decode(text)
    if len(text) > _LARGEST_KEPT:
        return value
    with _lock:
        shared = _cache.setdefault(text, value)  # another thread may have decoded it meanwhile: use one
        if shared is value:
            _cache_chars += len(text)
            while len(_cache) > CACHE_ENTRIES or _cache_chars > CACHE_CHARS:
                oldest, _ = _cache.popitem(last=False)
                _cache_chars -= len(oldest)
    return shared


def clear_cache() -> None:
    """Forget every decoded text (tests)."""
    global _cache_chars
    with _lock:
        _cache.clear()
        _cache_chars = 0


class FrozenJSON(TypeDecorator[Any]):
    """A JSON column whose values are read as shared, read-only values (:func:`loads`).

    Written as SQLAlchemy's JSON (same column type, same text). Read as text, decoded here: on SQLite the
    driver gives the text; on PostgreSQL psycopg would decode ``json`` itself, so the column is selected
    as ``CAST(... AS TEXT)``.
    """

    impl = JSON
    cache_ok = True
    hashable = False  # as JSON's: dicts (e.g. a result's unique() keys rows by identity instead)

    @property
    def should_evaluate_none(self) -> bool:  # type: ignore[override]
        """As JSON's: None is stored as JSON null (and read back as None), as the column always was."""
        return bool(self.impl_instance.should_evaluate_none)

    def column_expression(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        """PostgreSQL: select the column's text (typed as this type, so :meth:`result_processor` runs)."""
        if isinstance(self.impl_instance, postgresql.JSON):
            return type_coerce(cast(column, Text), self)
        return column

    def result_processor(self, dialect: Dialect, coltype: object) -> Any:
        """Decode through :func:`loads` instead of JSON's own result processing (which would decode every
        load anew): TypeDecorator's usual ``process_result_value`` would run after it."""
        def process(value: Any) -> Any:
            if value is None:
                return None
            if isinstance(value, str):
                return loads(value)
            return freeze(value)  # already decoded (a driver's own JSON loading)

        return process
