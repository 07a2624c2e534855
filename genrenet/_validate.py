"""Shared parameter checks, with one message style.

Each check returns the value normalised (a Python ``int`` or ``float``) or raises
:class:`genrenet.errors.ParameterError` worded ``"<name> must be <what>, got <value>"``,
e.g. ``"epochs must be a positive integer, got 0"``. With ``optional=True`` a ``None``
passes through and the message says ``"... or None"``. Booleans are never numbers here
(``True`` is not an epoch count), strings never numbers either.

The module depends on nothing but :mod:`genrenet.errors`, so the signal modules
(:mod:`genrenet.audio`, :mod:`genrenet.synth`, ...) may use it too. Documented in
``book/api/infrastructure.md`` with the errors.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Collection
from typing import Any

from genrenet.errors import ParameterError

__all__ = ["integer", "positive_int", "non_negative_int", "int_at_least", "number", "positive_float",
           "non_negative_float", "probability", "sample_rate", "choice"]


def _fail(name: str, what: str, value: Any, optional: bool = False):
    raise ParameterError(f"{name} must be {what}{' or None' if optional else ''}, got {value!r}")


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def integer(name: str, value: Any, *, low: int | None = None, high: int | None = None, what: str | None = None,
            optional: bool = False) -> int | None:
    """``value`` as an ``int`` in ``[low, high]`` (either bound may be None).

    ``what`` words the requirement in the message (default: ``"an integer"``, with the bounds).
    """
    if value is None and optional:
        return None
    if what is None:
        bounds = [f">= {low}" if low is not None else "", f"<= {high}" if high is not None else ""]
        what = " ".join(["an integer", " and ".join(b for b in bounds if b)]).strip()
    if not _is_int(value) or (low is not None and value < low) or (high is not None and value > high):
        _fail(name, what, value, optional)
    return int(value)


def positive_int(name: str, value: Any, *, optional: bool = False) -> int | None:
    """``value`` as an ``int`` >= 1: "``name`` must be a positive integer, got ``value``"."""
    return integer(name, value, low=1, what="a positive integer", optional=optional)


def non_negative_int(name: str, value: Any, *, optional: bool = False) -> int | None:
    """``value`` as an ``int`` >= 0: "``name`` must be a non-negative integer, got ``value``"."""
    return integer(name, value, low=0, what="a non-negative integer", optional=optional)


def int_at_least(name: str, value: Any, low: int, *, optional: bool = False) -> int | None:
    """``value`` as an ``int`` >= ``low``: "``name`` must be an integer >= ``low``, got ``value``"."""
    return integer(name, value, low=low, optional=optional)


def number(name: str, value: Any, *, what: str = "a finite number", optional: bool = False) -> float | None:
    """``value`` as a finite ``float`` (any real number but a bool or a string)."""
    if value is None and optional:
        return None
    if isinstance(value, (bool, str, bytes)):
        _fail(name, what, value, optional)
    try:
        v = float(value)
    except (TypeError, ValueError):
        v = math.nan
    if not math.isfinite(v):
        _fail(name, what, value, optional)
    return v


def _unit(what: str, unit: str | None) -> str:
    return f"{what} of {unit}" if unit else what


def positive_float(name: str, value: Any, *, unit: str | None = None, optional: bool = False) -> float | None:
    """``value`` as a finite ``float`` > 0: "``name`` must be a positive number [of ``unit``], got ``value``"."""
    what = _unit("a positive number", unit)
    v = number(name, value, what=what, optional=optional)
    if v is not None and v <= 0:
        _fail(name, what, value, optional)
    return v


def non_negative_float(name: str, value: Any, *, unit: str | None = None, optional: bool = False) -> float | None:
    """``value`` as a finite ``float`` >= 0: "``name`` must be a number >= 0 [of ``unit``], got ``value``"."""
    what = _unit("a number >= 0", unit)
    v = number(name, value, what=what, optional=optional)
    if v is not None and v < 0:
        _fail(name, what, value, optional)
    return v


def probability(name: str, value: Any, *, optional: bool = False) -> float | None:
    """``value`` as a ``float`` in [0, 1]: "``name`` must be a number in [0, 1], got ``value``"."""
    what = "a number in [0, 1]"
    v = number(name, value, what=what, optional=optional)
    if v is not None and not 0.0 <= v <= 1.0:
        _fail(name, what, value, optional)
    return v


def sample_rate(value: Any, name: str = "sr", *, low: int = 1, high: int | None = None,
                optional: bool = False) -> int | None:
    """``value`` as an ``int`` number of Hz in ``[low, high]``.

    The message is "``name`` must be a positive integer number of Hz, got ``value``", with the
    range when one is given (``low`` above 1 or ``high``).
    """
    what = "a positive integer number of Hz"
    if low > 1 or high is not None:
        what = f"an integer number of Hz in [{low}, {high if high is not None else 'inf'}]"
    return integer(name, value, low=low, high=high, what=what, optional=optional)


def choice(name: str, value: Any, options: Collection, *, optional: bool = False) -> Any:
    """``value`` itself when it is one of ``options``: "``name`` must be one of (...), got ``value``"."""
    if value is None and optional:
        return None
    try:
        ok = value in options
    except TypeError:  # unhashable value and a set of options
        ok = False
    if not ok:
        _fail(name, f"one of {tuple(options)}", value, optional)
    return value
