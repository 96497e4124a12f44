"""The token cache: a working token is not read from the keyring every minute (on Linux each read is a child
process), while a missing or refused one is, so an enrollment made meanwhile is picked up within a minute."""

from __future__ import annotations

from sync.service import TOKEN_CACHE_S, TOKEN_KEEP_S, CachedToken


class CountingStore:
    """A keyring stand-in that counts reads; the test sets what it holds."""

    def __init__(self, value: str | None) -> None:
        self.value, self.reads = value, 0

    def load(self, server_url: str) -> str | None:
        self.reads += 1
        return self.value

    def save(self, server_url: str, token: str) -> None:
        self.value = token

    def delete(self, server_url: str) -> None:
        self.value = None


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_working_token_is_read_again_only_after_the_keep_interval() -> None:
    store, clock = CountingStore("t1"), Clock()
    token = CachedToken(store, "https://pulse.example.test", clock)  # type: ignore[arg-type]
    assert token() == "t1" and store.reads == 1
    clock.now += TOKEN_CACHE_S + 1
    assert token() == "t1" and store.reads == 1, "not read again after a minute"
    store.value = "t2"
    clock.now += TOKEN_KEEP_S
    assert token() == "t2" and store.reads == 2


def test_none_or_a_refused_token_is_looked_for_every_minute() -> None:
    store, clock = CountingStore(None), Clock()
    token = CachedToken(store, "https://pulse.example.test", clock)  # type: ignore[arg-type]
    assert token() is None and store.reads == 1
    store.value = "enrolled-meanwhile"
    clock.now += TOKEN_CACHE_S
    assert token() == "enrolled-meanwhile" and store.reads == 2

    token.forget()  # the server refused it
    clock.now += TOKEN_CACHE_S
    assert token() == "enrolled-meanwhile" and store.reads == 3, "still the refused one: looked for again"
    store.value = "enrolled-again"
    clock.now += TOKEN_CACHE_S
    assert token() == "enrolled-again" and store.reads == 4
    clock.now += TOKEN_CACHE_S
    assert token() == "enrolled-again" and store.reads == 4, "the new token is trusted until refused"
