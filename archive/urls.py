"""URL identity: URLs as browsers read them, canonical dedup keys, hosts, and which domains a
source may reach.

Pure functions, no network: the public suffix list is the snapshot bundled with tldextract.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from functools import lru_cache
from urllib.parse import unquote, urlsplit, urlunsplit

import ada_url
from tldextract import TLDExtract
from w3lib.url import canonicalize_url

TRACKING_PARAMETERS = frozenset(
    {
        "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "twclid", "yclid", "igshid",
        "mc_cid", "mc_eid", "_ga", "_gl", "_hsenc", "_hsmi", "mkt_tok", "ref_src", "ref_url",
        "at_medium", "at_campaign", "at_custom1", "at_custom2", "at_custom3", "at_custom4",
        "cmp", "ocid", "smid", "oly_enc_id", "oly_anon_id", "vero_id",
    }
)  # fmt: skip
"""Query parameters (compared case-insensitively) that only tell analytics where a click came
from; ``utm_*`` parameters are dropped as well."""

_DEFAULT_PORTS = {"http": 80, "https": 443}
# The public suffix list snapshot shipped with tldextract: never fetched, never cached on disk.
_SUFFIXES = TLDExtract(suffix_list_urls=(), cache_dir=None, include_psl_private_domains=True)


def canonical_url(url: str) -> str:
    """The dedup key of `url`: two URLs with the same key are taken to be the same article.

    Scheme and host lower-cased, IDN hosts punycoded, default port (80 for http, 443 for https)
    and fragment dropped, empty path made "/", percent-encoding normalised, tracking parameters
    (`TRACKING_PARAMETERS`, ``utm_*``) dropped, and the remaining query parameters sorted (by name,
    then value). Sorting is w3lib's `canonicalize_url` rule, which Scrapy's request
    fingerprints use too, so our dedup keys and Scrapy's duplicate filter agree; a site whose pages
    differ only by parameter order is not a news site we know of. ``www.`` and trailing slashes are
    kept: they can name different pages. Idempotent. A string that cannot be parsed as a URL is
    returned stripped, unchanged otherwise.
    """
    try:
        parts = urlsplit(canonicalize_url(url.strip()))
        port = parts.port
    except ValueError:
        return url.strip()
    netloc = parts.netloc
    if port is not None and _DEFAULT_PORTS.get(parts.scheme) == port:
        netloc = netloc.rsplit(":", 1)[0]
    query = "&".join(pair for pair in parts.query.split("&") if pair and not _is_tracking(pair))
    return urlunsplit((parts.scheme, netloc, parts.path or "/", query, ""))


def whatwg_url(candidate: str, base: str = "") -> str | None:
    """`candidate` resolved against `base` and serialised as browsers do (WHATWG URL Standard).

    Surrounding spaces and C0 controls are stripped, tabs and newlines inside removed, spaces and
    other characters a URL cannot hold percent-encoded, hosts lower-cased and punycoded. So what a
    feed lists is what a browser would fetch, and no stored URL holds white space or a control
    character. None when the standard rejects it (a space in the host, a port out of range, no
    base for a relative reference).
    """
    try:
        return ada_url.join_url(base, candidate) if base else ada_url.normalize_url(candidate)
    except ValueError:  # UnicodeEncodeError (lone surrogates) included
        return None


def absolute_http_url(candidate: object, base: str = "") -> str | None:
    """`candidate` as `whatwg_url` gives it, if it is a string naming an http(s) URL with a host.

    Anything else (other schemes, not a string, unparsable) gives None.
    """
    if not isinstance(candidate, str):
        return None
    absolute = whatwg_url(candidate, base)
    if absolute is None or urlsplit(absolute).scheme not in _DEFAULT_PORTS:
        return None
    return absolute


def unparsable_url(candidate: object, base: str = "") -> bool:
    """True if `candidate` is a non-blank string the WHATWG URL parser rejects: a listing that
    gives one is broken, unlike one that links elsewhere (``mailto:``) or gives no link."""
    return (
        isinstance(candidate, str) and bool(candidate.strip()) and not whatwg_url(candidate, base)
    )


def host_of(url: str) -> str:
    """Lower-case (punycoded) host of `url` without port, IPv6 brackets or the trailing dot of a
    fully qualified name (``news.example.`` is ``news.example``); "" if it has none."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return ""
    return _host_of_origin(parts.scheme, parts.netloc)


@lru_cache(maxsize=4096)
def _host_of_origin(scheme: str, netloc: str) -> str:
    """The host as `canonical_url` writes it; cached, since a crawl asks it of every request and
    a few hosts serve them all."""
    try:
        return (urlsplit(canonical_url(f"{scheme}://{netloc}/")).hostname or "").rstrip(".")
    except ValueError:
        return ""


def domain_allowed(url: str, allowed_domains: Sequence[str]) -> bool:
    """True if the host of `url` is one of `allowed_domains` or a subdomain of one.

    Domains are compared case-insensitively and after IDN encoding; an IP literal only matches
    itself, never as a "subdomain".
    """
    host = host_of(url)
    if not host:
        return False
    for domain in allowed_domains:
        allowed = normalise_domain(domain)
        if host == allowed:
            return True
        if allowed and not is_ip(allowed) and host.endswith("." + allowed) and not is_ip(host):
            return True
    return False


@lru_cache(maxsize=1024)
def normalise_domain(domain: str) -> str:
    """`domain` as `host_of` would report it: lower-case, punycoded, IPv6 without brackets."""
    domain = domain.strip().strip(".")
    if ":" in domain and not domain.startswith("["):
        domain = f"[{domain}]"
    return host_of(f"http://{domain}/")


def same_site(a: str, b: str) -> bool:
    """True if `a` and `b` share a registrable domain (``bbc.co.uk`` for ``www.bbc.co.uk``).

    Used to decide whether a page's rel=canonical may be honoured. IP hosts, and hosts with no
    registrable domain (``localhost``, a bare public suffix, an unlisted top-level domain such as
    ``.example`` or ``.internal``), must be equal. Private suffixes such
    as ``github.io`` count as public, so two blogs on one hosting service are different sites.
    """
    host_a, host_b = host_of(a), host_of(b)
    if not host_a or not host_b:
        return False
    if is_ip(host_a) or is_ip(host_b):
        return host_a == host_b
    site_a = _SUFFIXES(host_a).top_domain_under_public_suffix
    site_b = _SUFFIXES(host_b).top_domain_under_public_suffix
    if not site_a or not site_b:
        return host_a == host_b
    return site_a == site_b


def _is_tracking(pair: str) -> bool:
    name = unquote(pair.split("=", 1)[0]).lower()
    return name.startswith("utm_") or name in TRACKING_PARAMETERS


def is_ip(host: str) -> bool:
    """True if `host` is an IP address literal (no brackets)."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
