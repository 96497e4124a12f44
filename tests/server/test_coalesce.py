"""``server.coalesce``: what every batched path of the server (token look-ups, group commit, presence passes)
relies on, promise by promise. Real asyncio; a pass is held open on an event, never on a timer."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import pytest

from server.coalesce import Batcher, Coalescer

T = TypeVar("T")


class Gate:
    """A ``serve`` that records each pass and holds it open until released; answers each item doubled."""

    def __init__(self) -> None:
        self.passes: list[list[int]] = []
        self.entered = asyncio.Event()
        self.release = asyncio.Event()
        self.error: BaseException | None = None

    async def __call__(self, items: list[int]) -> Sequence[int | BaseException]:
        self.passes.append(items)
        self.entered.set()
        await self.release.wait()
        self.release.clear()
        if self.error is not None:
            error, self.error = self.error, None
            raise error
        return [ValueError(f"odd {item}") if item % 2 else item * 2 for item in items]

    async def next_pass(self) -> None:
        """Wait until a pass has begun, then forget it, so the next wait is for the next pass."""
        await self.entered.wait()
        self.entered.clear()


def run(scenario: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(scenario())


async def started(count: int, call: Callable[[int], Awaitable[int]], first: int = 0) -> list[asyncio.Task[int]]:
    tasks = [asyncio.create_task(call(first + 2 * n)) for n in range(count)]
    await asyncio.sleep(0)  # each task runs to its await: queued, in order (a yield, not a wait for time)
    return tasks


def test_callers_waiting_together_share_a_pass_and_latecomers_wait_for_the_next() -> None:
    async def scenario() -> None:
        gate = Gate()
        batcher: Batcher[int, int] = Batcher(gate, name="test")
        first = await started(3, batcher)
        await gate.next_pass()
        late = await started(2, batcher, first=100)
        assert gate.passes == [[0, 2, 4]], "the latecomers are not in the running pass"
        gate.release.set()
        assert await asyncio.gather(*first) == [0, 4, 8]
        await gate.next_pass()
        assert gate.passes[1] == [100, 102]
        gate.release.set()
        assert await asyncio.gather(*late) == [200, 204]

    run(scenario)


def test_a_pass_takes_at_most_max_batch_in_arrival_order() -> None:
    async def scenario() -> None:
        gate = Gate()
        batcher: Batcher[int, int] = Batcher(gate, name="test", max_batch=2)
        tasks = await started(5, batcher)
        for _ in range(3):
            await gate.next_pass()
            gate.release.set()
        assert await asyncio.gather(*tasks) == [0, 4, 8, 12, 16]
        assert gate.passes == [[0, 2], [4, 6], [8]]

    run(scenario)


def test_distinct_keys_go_once_per_pass_and_repeats_wait_in_order() -> None:
    async def scenario() -> None:
        gate = Gate()
        batcher: Batcher[int, int] = Batcher(gate, name="test", distinct=lambda item: item % 10)
        tasks = [asyncio.create_task(batcher(item)) for item in (2, 12, 4, 22, 14)]
        for _ in range(3):
            await gate.next_pass()
            gate.release.set()
        assert await asyncio.gather(*tasks) == [4, 24, 8, 44, 28]
        assert gate.passes == [[2, 4], [12, 14], [22]]

    run(scenario)


def test_a_caller_that_gave_up_is_skipped() -> None:
    async def scenario() -> None:
        gate = Gate()
        batcher: Batcher[int, int] = Batcher(gate, name="test")
        running = await started(2, batcher)
        await gate.next_pass()
        queued = await started(3, batcher, first=10)
        queued[1].cancel()  # gave up before its pass began: left out of it
        running[0].cancel()  # gave up during its pass: gets no answer, the others still do
        gate.release.set()
        assert await running[1] == 4
        await gate.next_pass()
        assert gate.passes == [[0, 2], [10, 14]]
        gate.release.set()
        assert [await queued[0], await queued[2]] == [20, 28]
        for gone in (running[0], queued[1]):
            with pytest.raises(asyncio.CancelledError):
                await gone

    run(scenario)


def test_a_failed_pass_fails_its_callers_only_and_the_next_pass_serves_the_rest() -> None:
    async def scenario() -> None:
        gate = Gate()
        batcher: Batcher[int, int] = Batcher(gate, name="test")
        failing = await started(2, batcher)
        await gate.next_pass()
        after = await started(2, batcher, first=10)
        gate.error = RuntimeError("database is locked")
        gate.release.set()
        for task in failing:
            with pytest.raises(RuntimeError, match="database is locked"):
                await task
        await gate.next_pass()
        gate.release.set()
        assert await asyncio.gather(*after) == [20, 24]

    run(scenario)


def test_results_that_do_not_fit_the_pass_fail_its_unanswered_callers_and_the_next_pass_serves_the_rest() -> None:
    async def scenario() -> None:
        gate = Gate()

        async def one_result_short(items: list[int]) -> Sequence[int | BaseException]:
            results = await gate(items)
            return results[:-1] if len(gate.passes) == 1 else results

        batcher: Batcher[int, int] = Batcher(one_result_short, name="test")
        failing = await started(3, batcher)
        await gate.next_pass()
        serving = batcher._task
        assert serving is not None
        after = await started(2, batcher, first=10)
        gate.release.set()
        # Either every caller of the pass is answered, or the serving task ends: whichever comes first.
        await asyncio.wait([asyncio.gather(*failing, return_exceptions=True), serving],
                           return_when=asyncio.FIRST_COMPLETED)
        assert not serving.done(), "the serving task lives on for the next pass"
        assert [await failing[0], await failing[1]] == [0, 4], "those the results reached have them"
        with pytest.raises(ValueError, match="shorter"):
            await failing[2]
        await gate.next_pass()
        gate.release.set()
        assert await asyncio.gather(*after) == [20, 24]

    run(scenario)


def test_an_exception_as_a_result_reaches_its_own_caller_alone() -> None:
    async def scenario() -> None:
        gate = Gate()
        batcher: Batcher[int, int] = Batcher(gate, name="test")
        even, odd = asyncio.create_task(batcher(2)), asyncio.create_task(batcher(3))
        await gate.next_pass()
        gate.release.set()
        assert await even == 4
        with pytest.raises(ValueError, match="odd 3"):
            await odd

    run(scenario)


def test_cancelling_the_serving_task_fails_its_callers_and_re_raises() -> None:
    async def scenario() -> None:
        gate = Gate()
        batcher: Batcher[int, int] = Batcher(gate, name="test")
        callers = await started(2, batcher)
        await gate.next_pass()
        serving = batcher._task
        assert serving is not None
        serving.cancel()
        with pytest.raises(asyncio.CancelledError):
            await serving
        for caller in callers:
            with pytest.raises(asyncio.CancelledError):
                await caller
            assert caller.cancelled(), "the caller got the pass's cancellation, not a hang"
        again = asyncio.create_task(batcher(6))  # a new caller starts a new serving task
        await gate.next_pass()
        gate.release.set()
        assert await again == 12

    run(scenario)


def test_an_owner_served_pass_can_be_put_back_ahead_of_later_callers() -> None:
    async def scenario() -> None:
        pending: Coalescer[str, str] = Coalescer()
        a, b = pending.add("a"), pending.add("b")
        first = pending.take()
        c = pending.add("c")
        assert first.items == ["a", "b"] and bool(pending)
        first.put_back()
        again = pending.take()
        assert again.items == ["a", "b", "c"] and not pending
        again.answer(["A", KeyError("b"), "C"])
        assert (await a, await c) == ("A", "C")
        with pytest.raises(KeyError):
            await b

    run(scenario)


def test_max_batch_must_allow_a_pass() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Coalescer(max_batch=0)
