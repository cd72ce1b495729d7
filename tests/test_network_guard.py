"""The suite-wide guard (tests/conftest.py): a test that tried to reach a live host fails at once."""

import requests, pytest
def test_guard_blocks_a_live_host():
    with pytest.raises(requests.exceptions.ConnectionError, match="never touch the network"):
        requests.get("https://api.github.com/", timeout=5)
def test_guard_blocks_an_ip_literal():
    with pytest.raises(requests.exceptions.ConnectionError, match="never touch the network"):
        requests.get("http://8.8.8.8/", timeout=5)
