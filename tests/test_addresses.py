"""Which addresses a crawl may reach: the SSRF policy, without touching the network."""

import pytest

from crawler.addresses import literal_ip, refusal_reason


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "10.0.0.5", "172.16.3.4", "192.168.1.1", "::1", "fd00::1", "::ffff:10.1.2.3"],
)
def test_loopback_and_private_refused_by_default_allowed_on_request(address: str) -> None:
    assert refusal_reason(address, allow_private=False) is not None
    assert refusal_reason(address, allow_private=True) is None


@pytest.mark.parametrize(
    "address",
    ["169.254.169.254", "fe80::1%eth0", "224.0.0.1", "ff02::1", "0.0.0.0", "240.0.0.1", "::"],
)
def test_link_local_multicast_reserved_unspecified_always_refused(address: str) -> None:
    assert refusal_reason(address, allow_private=True) is not None
    assert refusal_reason(address, allow_private=False) is not None


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"])
def test_public_addresses_pass(address: str) -> None:
    assert refusal_reason(address, allow_private=False) is None


def test_reason_names_the_kind_of_address() -> None:
    assert "link-local" in (refusal_reason("169.254.169.254", allow_private=True) or "")
    assert "loopback" in (refusal_reason("127.0.0.1", allow_private=False) or "")


def test_literal_ip_recognises_ip_hosts_only() -> None:
    assert literal_ip("10.0.0.1") == "10.0.0.1"
    assert literal_ip("[::1]") == "::1"
    assert literal_ip("example.com") is None
