"""What ``server.logins`` calls a lookalike and what it refuses, as a table (no server needed)."""

from __future__ import annotations

import pytest

from server.logins import login_problem, normalise_login, skeleton


@pytest.mark.parametrize("impostor, real", [
    ("\u0430lice", "alice"),  # Cyrillic а
    ("b\u03bfb", "bob"),  # Greek ο
    ("\uff21\uff2c\uff29\uff23\uff25", "alice"),  # full-width
    ("rnia@corp", "mia@corp"),  # rn for m
    ("j0e", "joe"),
    ("pau1", "paul"),
    ("ali\u200bce", "alice"),  # zero-width space, dropped
    ("CORP\\Jo", "corp\\jo"),
])
def test_lookalikes_share_a_skeleton(impostor: str, real: str) -> None:
    assert skeleton(impostor) == skeleton(real)


@pytest.mark.parametrize("one, other", [("alice", "alicia"), ("member1@t", "member2@t"), ("jo", "joe"),
                                        ("corp\\ana", "corp\\anna")])
def test_different_logins_stay_different(one: str, other: str) -> None:
    assert skeleton(one) != skeleton(other)


def test_normalising_folds_compatibility_forms_and_case() -> None:
    assert normalise_login("  \uff2a\uff24\uff2f\uff25@Example.COM ") == "jdoe@example.com"


@pytest.mark.parametrize("login, refused", [
    ("jdoe", None), ("corp\\j doe", None), ("ren\u00e9e@example.com", None), ("\u5f20\u4f1f", None),
    ("", "must not be empty"), ("a\tb", "U+0009"), ("a\u200db", "U+200D"), ("a\u2066b", "U+2066"),
    ("a\ue000b", "U+E000"), ("a\u3000b", None),
])
def test_login_problems_name_the_character(login: str, refused: str | None) -> None:
    problem = login_problem(normalise_login(login))
    assert (problem is None) if refused is None else (problem is not None and refused in problem)
