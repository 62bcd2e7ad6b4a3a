"""Deep-frozen copies of JSON-like values: what untrusted checks and helper caches hand out.

``FrozenDict``/``FrozenList`` subclass ``dict``/``list`` so that checks written against plain
data keep working (``isinstance(x, dict)``, ``json.dumps``, ``x.get``, ``x + [1]``, ``dict(x)``
for a mutable copy), while every mutating method raises ``TypeError``. The base-class methods
(``dict.update(x, ...)``) would bypass the overrides; the AST allowlist refuses attribute access
on the mutable builtin types for that reason (``policy.py``).

Stdlib-only and import-free on purpose: the sandbox worker and ``assertions/helpers.py`` load it
without importing the ``llmassert`` package.
"""

from __future__ import annotations

import copy
from typing import Any, NoReturn, cast


def _refuse(*_args: Any, **_kwargs: Any) -> NoReturn:
    raise TypeError("this value is read-only (inputs of checks and templates cannot be changed)")


class Sealed(type):
    """A metaclass whose classes cannot gain, lose or rebind attributes after creation.

    ``type(value)`` is within reach of assertion code; its class must not be patchable.
    """

    def __setattr__(cls, name: str, value: Any) -> None:
        raise AttributeError(f"{cls.__name__}.{name} is read-only")

    def __delattr__(cls, name: str) -> None:
        raise AttributeError(f"{cls.__name__}.{name} is read-only")


class _Frozen(metaclass=Sealed):
    """What both frozen containers share: copies are the value itself; pickles are plain."""

    __slots__ = ()

    def __reduce__(self) -> Any:
        plain = dict if isinstance(self, dict) else list
        return (plain, (plain(self),))  # type: ignore[call-overload]

    def __copy__(self) -> Any:
        return self

    def __deepcopy__(self, _memo: Any) -> Any:
        return self


class FrozenDict(_Frozen, dict):  # type: ignore[type-arg]
    """A ``dict`` whose contents cannot change."""

    __slots__ = ()
    __setitem__ = __delitem__ = __ior__ = _refuse
    clear = pop = popitem = setdefault = update = _refuse


class FrozenList(_Frozen, list):  # type: ignore[type-arg]
    """A ``list`` whose contents cannot change."""

    __slots__ = ()
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse
    append = extend = insert = pop = remove = reverse = sort = clear = _refuse


_SCALARS = (str, int, float, bool, type(None), bytes, complex)


def freeze(value: Any) -> Any:
    """A deep-frozen copy of ``value`` (``value`` itself when already frozen or immutable).

    dicts and lists become FrozenDict/FrozenList, tuples and sets are frozen member by member,
    scalars are kept; any other object is deep-copied (or, if it cannot be, its ``str``), so a
    check can never reach the caller's object.
    """
    kind = type(value)
    if kind in _SCALARS or kind is FrozenDict or kind is FrozenList:
        return value
    if isinstance(value, dict):
        return FrozenDict({freeze(k): freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return FrozenList([freeze(v) for v in value])
    if isinstance(value, tuple):
        return tuple(freeze(v) for v in value)
    if isinstance(value, (set, frozenset)):
        return frozenset(freeze(v) for v in value)
    for scalar in (str, bytes, int, float, complex):
        if isinstance(value, scalar):  # a subclass (str enum, IntEnum): its plain value
            return cast(Any, scalar)(value)
    try:
        return copy.deepcopy(value)
    except Exception:
        return str(value)


def thaw(value: Any) -> Any:
    """A plain, mutable deep copy of a value that may hold frozen parts (what code returned)."""
    kind = type(value)
    if kind in _SCALARS:
        return value
    if isinstance(value, dict):
        return {thaw(k): thaw(v) for k, v in value.items()}
    if isinstance(value, list):
        return [thaw(v) for v in value]
    if isinstance(value, tuple):
        return tuple(thaw(v) for v in value)
    return value
