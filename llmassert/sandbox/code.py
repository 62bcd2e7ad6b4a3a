"""Running a code operation's ``transform`` (``code_map``/``code_filter``/``code_reduce``).

The same containment as assertion code, chosen per source:

- code that passes the inline-safe rules (``policy.check_inline_safe``: statically bounded, only
  ``re``/``json``/``math``/``string``) runs in this process through :func:`load_inline` -- frozen
  inputs, a per-call deadline and memory bound on any thread, size-guarded operations;
- anything else -- a ``while`` loop, recursion, a curated stdlib import (``typing``,
  ``collections``, ``datetime``, ...), a computed ``*`` factor -- runs in a
  :class:`ProcessSandbox` with the ``code`` profile: rlimits (address space, CPU), a per-row
  deadline, a parent that kills a worker stuck in C, size-guarded operations.

Either way :meth:`CodeRunner.apply` turns every row into ``(value, None)`` or
``(None, one-line reason)``: never a hang, a traceback or a lost row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from llmassert.errors import SandboxError, UnsafeCodeError
from llmassert.sandbox import policy
from llmassert.sandbox._worker import describe
from llmassert.sandbox.inline import scope
from llmassert.sandbox.process import ProcessSandbox, load_inline

DEFAULT_TIMEOUT_S = 10.0
DEFAULT_MEMORY_MB = 512
Outcome = tuple[Any, str | None]
_CHUNK = 64


class CodeRunner:
    """One code operation's ``function`` (default ``transform``), loaded once, applied per row.

    Raises :class:`UnsafeCodeError` (the allowlist refused it) or :class:`SandboxError` (its
    module level failed, or it defines no ``function``) at construction, before any row.
    """

    def __init__(
        self,
        source: str,
        *,
        filename: str,
        function: str = "transform",
        timeout_s: float = DEFAULT_TIMEOUT_S,
        memory_mb: int = DEFAULT_MEMORY_MB,
    ) -> None:
        self.function = function
        self.timeout_s = timeout_s
        self.memory_mb = memory_mb
        self._inline: Callable[..., Any] | None = None
        self._box: ProcessSandbox | None = None
        self._id = ""
        policy.validate(source, filename, "code")
        try:
            policy.check_inline_safe(source, filename)
            inline = True
        except UnsafeCodeError as e:
            inline = False
            self.why_sandboxed = e.message
        if inline:
            self.why_sandboxed = ""
            fn = load_inline(
                source,
                filename=filename,
                timeout_s=timeout_s,
                memory_mb=memory_mb,
                process_fallback=True,  # a regex without a bounded worst case: the box
            )
            self._inline = fn.get(function)
            names: set[str] = set(fn)
        else:
            box = ProcessSandbox(timeout_s=timeout_s, memory_mb=memory_mb)
            try:
                self._id = box.load(source, filename=filename, profile="code")
            except BaseException:
                box.close()
                raise
            self._box = box
            names = set(box.functions(self._id))
        if function not in names:
            self.close()
            raise SandboxError(f"code must define `def {function}(...)`", file=filename)

    @property
    def inline(self) -> bool:
        """True when the code runs in this process (it passed the inline-safe rules)."""
        return self._inline is not None

    def apply(self, arg_lists: Sequence[Sequence[Any]]) -> list[Outcome]:
        """``function(*args)`` for each ``args``, in order: ``(value, None)`` or ``(None, why)``."""
        if self._box is not None:
            return [
                (r.value, None) if r.error is None else (None, f"transform failed: {r.error}")
                for r in self._box.apply_many(self._id, self.function, arg_lists)
            ]
        assert self._inline is not None
        # One installed timer per chunk of rows; each row still has its own deadline from its
        # start. Chunked: the memory baseline is the scope's, and results accumulate.
        out: list[Outcome] = []
        for i in range(0, len(arg_lists), _CHUNK):
            with scope(self.timeout_s, self.memory_mb):
                out.extend(self._one(self._inline, args) for args in arg_lists[i : i + _CHUNK])
        return out

    @staticmethod
    def _one(fn: Callable[..., Any], args: Sequence[Any]) -> Outcome:
        try:
            return fn(*args), None
        except SandboxError as e:  # a bound (time, memory, size) or the regex router
            return None, f"transform stopped: {e.message}"[:500]
        except Exception as e:  # the user's code: any exception is that row's error
            return None, f"transform raised {describe(e)}"

    def close(self) -> None:
        if self._box is not None:
            self._box.close()
            self._box = None
