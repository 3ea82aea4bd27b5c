"""Certificate sign-in through each real proxy, in auto mode: what every kind of certificate
and every forged header ends in (issue 3, "Proxies, tested for real"; threat model A and B).

Each test runs one deployment (see conftest.py) through a table of attempts and compares
what it observed with the expected outcome of each, so a failure shows the whole table.
The outcomes and how each is observed: tests/support/proxy_matrix.py.
"""

from __future__ import annotations

import pytest

from app.deploy import PROXIES
from tests.e2e.proxies.conftest import Stack, StackSpec
from tests.support.proxy_matrix import CA_MODE, PINNED, run_table

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize(
    "stack", [StackSpec(proxy, "pinned") for proxy in PROXIES], indirect=True, ids=str
)
def test_pinned_keys(stack: Stack) -> None:
    run_table(stack, PINNED)


@pytest.mark.parametrize(
    "stack", [StackSpec(proxy, "ca") for proxy in PROXIES], indirect=True, ids=str
)
def test_ca_mode_with_crl_and_proxy_secret(stack: Stack) -> None:
    run_table(stack, CA_MODE)
