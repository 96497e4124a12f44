"""Many callers, one pass: the server's one way to serve waiting callers together.

Token look-ups (``server.auth``), batch writes (``server.ingest``) and presence PUTs (``server.presence_writer``)
all arrive in storms, and each costs a round trip or a commit that serves a hundred callers as cheaply as one.
So callers do not do the work themselves: each adds what it wants to a ``Coalescer`` and waits on a future,
and one pass serves everyone waiting (one query, one transaction). What holds, for every user of it:

- **Next pass.** A caller arriving while a pass runs waits for the next one; a pass takes what was waiting
  when it began, in arrival order, at most ``max_batch`` of it (the rest waits for the pass after).
- **Once per key.** With ``distinct``, a pass takes each key once; a repeat waits, in order, for a later pass
  (a batch id sent twice is stored as if it came after the first).
- **Gave up, skipped.** A caller that gave up (its future cancelled: the client left) before its pass began is
  left out of it; one that gives up during the pass gets no answer, and what the pass did stays done.
- **Failures stay in their pass.** A pass that raises answers that error to every caller of that pass and
  only them; the next pass serves the rest. So does a pass whose results cannot be handed out (not one per
  caller): those it had not answered get the error. A result that is an exception answers its own caller alone.
- **Cancellation.** ``Batcher``'s serving task cancelled (server shutdown) fails its pass's callers with the
  ``CancelledError`` and re-raises it. A ``Coalescer`` served by its owner's own loop may instead hand a
  pass back (``Pass.put_back``) for a later one.

``Batcher`` is a ``Coalescer`` that serves itself: the first caller starts a task that runs passes until
nobody is waiting. ``Coalescer`` alone is for an owner whose passes do more than answer callers (the presence
writer also writes what sockets noted, and runs on a timer).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


@dataclasses.dataclass(eq=False)
class _Waiter(Generic[T, R]):
    item: T
    answer: asyncio.Future[R]


class Pass(Generic[T, R]):
    """The callers one pass serves: their items in arrival order, and how to answer them."""

    def __init__(self, owner: Coalescer[T, R], waiters: list[_Waiter[T, R]]) -> None:
        self._owner, self._waiters = owner, waiters

    @property
    def items(self) -> list[T]:
        return [waiter.item for waiter in self._waiters]

    def __len__(self) -> int:
        return len(self._waiters)

    def answer(self, results: Sequence[R | BaseException]) -> None:
        """Each caller its result, by position; an exception is raised to that caller alone."""
        for waiter, result in zip(self._waiters, results, strict=True):
            if waiter.answer.done():  # gave up meanwhile
                continue
            if isinstance(result, BaseException):
                waiter.answer.set_exception(result)
            else:
                waiter.answer.set_result(result)

    def fail(self, exc: BaseException) -> None:
        """Every caller of this pass gets ``exc`` (nothing it asked for was done)."""
        for waiter in self._waiters:
            if not waiter.answer.done():
                waiter.answer.set_exception(exc)

    def put_back(self) -> None:
        """Let a later pass serve these callers, ahead of those who came after them."""
        self._owner._waiting[:0] = self._waiters


class Coalescer(Generic[T, R]):
    """Callers waiting for a pass; the owner takes them a pass at a time (see the module)."""

    def __init__(self, *, max_batch: int | None = None, distinct: Callable[[T], Hashable] | None = None) -> None:
        if max_batch is not None and max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, not {max_batch}")
        self.max_batch, self.distinct = max_batch, distinct
        self._waiting: list[_Waiter[T, R]] = []

    def add(self, item: T) -> asyncio.Future[R]:
        """Queue ``item`` for the next pass; the future gets its answer."""
        answer: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._waiting.append(_Waiter(item, answer))
        return answer

    def __bool__(self) -> bool:
        """Whether anyone is waiting (a caller that gave up may still be counted until the next ``take``)."""
        return bool(self._waiting)

    def take(self) -> Pass[T, R]:
        """The callers of the next pass; the rest keep their place."""
        taken: list[_Waiter[T, R]] = []
        later: list[_Waiter[T, R]] = []
        keys: set[Hashable] = set()
        for waiter in self._waiting:
            if waiter.answer.done():
                continue
            key = self.distinct(waiter.item) if self.distinct is not None else None
            if (self.max_batch is not None and len(taken) >= self.max_batch) or (key is not None and key in keys):
                later.append(waiter)
                continue
            taken.append(waiter)
            if key is not None:
                keys.add(key)
        self._waiting = later
        return Pass(self, taken)


class Batcher(Coalescer[T, R]):
    """A ``Coalescer`` that serves itself: ``await batcher(item)`` is answered by ``serve`` called with every
    item waiting at the start of a pass, which returns one result (or exception) per item, in order."""

    def __init__(self, serve: Callable[[list[T]], Awaitable[Sequence[R | BaseException]]], *, name: str,
                 max_batch: int | None = None, distinct: Callable[[T], Hashable] | None = None) -> None:
        super().__init__(max_batch=max_batch, distinct=distinct)
        self._serve, self._name = serve, name
        self._task: asyncio.Task[None] | None = None

    async def __call__(self, item: T) -> R:
        answer = self.add(item)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name=self._name)
        return await answer

    async def _run(self) -> None:
        while self:
            served = self.take()
            if not served:
                continue
            try:
                served.answer(await self._serve(served.items))
            except BaseException as exc:  # the database busy or gone, shutdown, or results that do not fit the
                served.fail(exc)  # pass: each caller not yet answered gets it to answer
                if isinstance(exc, asyncio.CancelledError):
                    raise
