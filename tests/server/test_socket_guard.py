"""``server.socket_guard``'s log budget, with an injected clock (the guard itself is tested end to end against a
real server in tests/security/test_socket_protocol.py)."""

from __future__ import annotations

import logging

import pytest

from server.socket_guard import LOG_LINES_PER_WINDOW, LOG_WINDOW_S, QuietLog


def test_the_log_budget_is_one_line_each_then_a_count(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    quiet = QuietLog(logging.getLogger("test.quiet"), clock=lambda: now[0])
    with caplog.at_level(logging.DEBUG, "test.quiet"):
        for index in range(LOG_LINES_PER_WINDOW + 5):
            try:
                raise ValueError(f"bad packet {index}\nsecond line")
            except ValueError:
                quiet.exception("receive error")
        quiet.info("per-packet chatter")
        now[0] = LOG_WINDOW_S
        quiet.error("next window")
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == LOG_LINES_PER_WINDOW + 2
    assert warnings[0].getMessage() == "receive error (ValueError: bad packet 0 second line)"
    assert all(r.exc_info is None and "\n" not in r.getMessage() for r in caplog.records)
    assert warnings[-2].getMessage().startswith("5 more socket warnings")
    assert warnings[-1].getMessage() == "next window"
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG] == ["per-packet chatter"]
