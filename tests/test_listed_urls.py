"""URLs a feed or sitemap lists are read as browsers read them, before anything uses them."""

from __future__ import annotations

from pathlib import Path

from support import LocalSite, local_config, newsarchive, records_of, serve

PAGE = (
    "<html><head><title>{title}</title></head><body><article><h1>{title}</h1>"
    + "<p>The harbour board met on Monday to settle the matter of the {title} at length, and "
    "agreed after a long debate that it deserved another hearing within the month.</p>"
    * 3
    + "</article></body></html>"
)


def test_spaces_and_line_breaks_in_listed_urls_are_encoded_and_bad_ones_counted(
    tmp_path: Path,
) -> None:
    with serve(LocalSite()) as site:
        base = site.base_url
        links = [f"{base}/a/ok-space here", f"{base}/b/cr&#13;\nlf.html", "http://bad host/x"]
        items = "".join(f"<item><link>{link}</link></item>" for link in links)
        site.pages["/feed.xml"] = (
            "application/rss+xml",
            f'<rss version="2.0"><channel>{items}</channel></rss>'.encode(),
        )
        site.pages["/sitemap.xml"] = (
            "application/xml",
            f"<urlset><url><loc>{base}/c/site map.html</loc></url>"
            "<url><loc>http://[::1/</loc></url></urlset>".encode(),
        )
        for path, title in [
            ("/a/ok-space%20here", "space"),
            ("/b/crlf.html", "line break"),
            ("/c/site%20map.html", "sitemap"),
        ]:
            site.pages[path] = ("text/html", PAGE.format(title=title).encode())
        archive = tmp_path / "archive"
        config = local_config(
            tmp_path / "crawl.toml",
            archive,
            f'[[source]]\nname = "odd"\nfeeds = ["{base}/feed.xml"]\n'
            f'sitemaps = ["{base}/sitemap.xml"]\nallowed_domains = ["127.0.0.1"]\n',
        )
        result = newsarchive("crawl", "--config", config, "--json", timeout=60)
    assert result.returncode == 0, result.stderr
    summary = result.summary()
    assert summary["articles_new"] == 3
    assert summary["articles_failed"] == 2, "each unparsable URL is counted"
    rejected = [line for line in result.stderr.splitlines() if "unparsable article URL" in line]
    assert len(rejected) == 2, result.stderr
    assert any("'http://bad host/x'" in line for line in rejected)
    assert any("'http://[::1/'" in line for line in rejected)
    urls = sorted(record["url"] for record in records_of(archive))
    assert urls == [
        f"{base}/a/ok-space%20here",
        f"{base}/b/crlf.html",
        f"{base}/c/site%20map.html",
    ]
    verified = newsarchive("verify", "--archive-dir", archive)
    assert verified.returncode == 0, verified.stdout + verified.stderr
