"""The suite-wide guard (tests/conftest.py): a test that tried to reach a live host fails at once."""

from __future__ import annotations

import pytest
import requests


@pytest.mark.parametrize("url", ["https://api.github.com/", "http://8.8.8.8/"])
def test_a_live_host_is_refused_before_any_packet(url):
    with pytest.raises(requests.exceptions.ConnectionError, match="never touch the network"):
        requests.get(url, timeout=5)
