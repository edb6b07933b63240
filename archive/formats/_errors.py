"""The parsers' error contract: ParseError and nothing else leaves a parser."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from archive import ParseError

__all__ = ["guarded"]

_P = ParamSpec("_P")
_R = TypeVar("_R")


def guarded(what: str) -> Callable[[Callable[_P, _R]], Callable[_P, _R]]:
    """Wrap a parser so that any unexpected exception surfaces as a ParseError naming `what`."""

    def decorate(func: Callable[_P, _R]) -> Callable[_P, _R]:
        @functools.wraps(func)
        def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            try:
                return func(*args, **kwargs)
            except ParseError:
                raise
            except (KeyboardInterrupt, MemoryError):
                # Not the input's fault: let the process deal with these.
                raise
            except Exception as exc:
                # Callers catch ParseError only; a parser bug on odd input must not crash the poller.
                raise ParseError(f"cannot parse {what}: {type(exc).__name__}: {exc}") from exc

        return wrapper

    return decorate
