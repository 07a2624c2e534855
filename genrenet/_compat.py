"""Deprecated names kept working: renamed keyword arguments and renamed module attributes.

A public name that genrenet renames keeps its old spelling for a while. Calling a
function with the old keyword, or importing the old attribute, still works and emits a
:class:`FutureWarning` naming the new spelling (``FutureWarning`` rather than
``DeprecationWarning`` because the users to warn are people calling the library from
notebooks and scripts, where Python hides ``DeprecationWarning``).

- :func:`renamed_kwargs` decorates a function whose keyword arguments were renamed:
  ``@renamed_kwargs(root="data_dir")`` maps ``f(root=...)`` to ``f(data_dir=...)``.
- :func:`renamed_attributes` builds a module ``__getattr__`` that answers the old
  name of a renamed class or function with the new object.

The module depends on nothing but :mod:`genrenet.errors`. Documented in
``book/api/infrastructure.md``.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Mapping
from typing import Any

from genrenet.errors import ParameterError

__all__ = ["renamed_kwargs", "renamed_attributes"]


def renamed_kwargs(caller: str | None = None, /, **renames: str) -> Callable:
    """Decorator: accept each old keyword ``old=...`` as ``new=...`` with a :class:`FutureWarning`.

    Passing both spellings is an error (:class:`genrenet.errors.ParameterError`). The
    decorated function lists its deprecated keywords in ``__renamed_kwargs__``.

    Parameters
    ----------
    caller : str, optional, positional-only
        The public name the messages give (default: the function's own name), for a
        private function reached through a public one (a registered data-set loader).
    **renames : str
        ``old="new"`` pairs: the deprecated keyword and the keyword that replaced it.

    Examples
    --------
    >>> @renamed_kwargs(root="data_dir")
    ... def load(data_dir):
    ...     return data_dir
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     load(root="music")
    'music'
    >>> print(caught[0].category.__name__, caught[0].message)
    FutureWarning load(root=...) is deprecated: use data_dir=... instead
    """

    def decorate(func: Callable) -> Callable:
        name = caller or func.__name__

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            for old, new in renames.items():
                if old in kwargs:
                    if new in kwargs:
                        raise ParameterError(f"{name}() got both {old}= (deprecated) and {new}=")
                    warnings.warn(f"{name}({old}=...) is deprecated: use {new}=... instead",
                                  FutureWarning, stacklevel=2)
                    kwargs[new] = kwargs.pop(old)
            return func(*args, **kwargs)

        wrapper.__renamed_kwargs__ = {**getattr(func, "__renamed_kwargs__", {}), **renames}
        return wrapper

    return decorate


def renamed_attributes(module: str, namespace: Mapping[str, Any], renames: Mapping[str, str]) -> Callable:
    """A module ``__getattr__`` that answers each old name with the renamed object and a :class:`FutureWarning`.

    Parameters
    ----------
    module : str
        The module's ``__name__`` (for the messages).
    namespace : mapping
        The module's ``globals()``, looked up when the old name is asked for.
    renames : mapping of str to str
        ``{"OldName": "NewName"}``.

    Returns
    -------
    callable
        ``__getattr__(attr)``; raises :class:`AttributeError` for any other name.
    """

    def __getattr__(attr: str):
        if attr in renames:
            new = renames[attr]
            warnings.warn(f"{module}.{attr} is deprecated: use {module}.{new} instead", FutureWarning,
                          stacklevel=2)
            return namespace[new]
        raise AttributeError(f"module {module!r} has no attribute {attr!r}")

    return __getattr__
