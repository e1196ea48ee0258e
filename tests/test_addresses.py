"""Which addresses a crawl may reach: the SSRF policy, without touching the network."""

from ipaddress import ip_address
from pathlib import Path

import pytest
from scrapy import Request
from scrapy.http import HtmlResponse
from scrapy.settings import Settings
from scrapy.utils.conf import build_component_list

from crawler.addresses import literal_ip, refusal_reason
from crawler.config import load_config
from crawler.downloadermiddlewares.addressguard import AddressRefused, ConnectedAddressMiddleware
from crawler.downloadermiddlewares.warccapture import WarcCaptureMiddleware
from crawler.settings import scrapy_settings


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


def test_a_response_from_a_refused_address_is_dropped_before_the_warc_capture_sees_it(
    tmp_path: Path,
) -> None:
    """The connected address is checked on the way back, nearer the network than the capture:
    Scrapy hands a response to middlewares in decreasing order, so the check must come later in
    the built list than WarcCaptureMiddleware, or a body from a rebound address is archived."""
    config = tmp_path / "sources.toml"
    config.write_text('[[source]]\nname = "a"\nfeeds = ["https://news.example/rss"]\n')
    settings = Settings(scrapy_settings(load_config(config, archive_dir=tmp_path)))
    chain = build_component_list(settings.getwithbase("DOWNLOADER_MIDDLEWARES"))
    position = {path: n for n, path in enumerate(chain)}
    connected, capture = (
        f"{c.__module__}.{c.__name__}" for c in (ConnectedAddressMiddleware, WarcCaptureMiddleware)
    )
    assert position[connected] > position[capture]
    guard = ConnectedAddressMiddleware(allow_private=True)
    request = Request("http://news.example/a")
    rebound = HtmlResponse(request.url, body=b"<p>x</p>", ip_address=ip_address("169.254.169.254"))
    with pytest.raises(AddressRefused):
        guard.process_response(request, rebound)
    fine = HtmlResponse(request.url, body=b"<p>x</p>", ip_address=ip_address("127.0.0.1"))
    assert guard.process_response(request, fine) is fine
