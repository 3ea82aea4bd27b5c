"""The reference configurations' optional request-rate lines (issue 17): uncommented, the
proxy accepts them and refuses a burst of password sign-ins from one address itself, with
429 and never a 5xx, while Keystile's own answers pass through unchanged."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.e2e.proxies.conftest import Stack, StackSpec

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize(
    "stack",
    [StackSpec(proxy, "pinned", rate_limited=True) for proxy in ("nginx", "haproxy")],
    indirect=True,
    ids=str,
)
def test_a_burst_of_guesses_is_refused_by_the_proxy(stack: Stack) -> None:
    answers: Counter[int] = Counter()
    with stack.client() as client:
        page = client.get("/login")
        assert page.status_code == 200
        for _ in range(40):
            # no CSRF token: Keystile answers 400 for each one that reaches it
            answers[
                client.post("/login", data={"username": "alice", "password": "wrong"}).status_code
            ] += 1
        assert client.get("/login").status_code == 200  # pages are not limited
    assert set(answers) == {400, 429}, answers
    assert answers[400] >= 15 and answers[429] >= 10, answers
