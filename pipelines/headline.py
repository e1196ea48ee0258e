"""The headline among the forms a page gives of it, without the site's or section's name.

Pages state their headline several times: JSON-LD, Open Graph, Twitter and other meta tags,
<h1> elements, the <title>. Some forms carry the site's name (" | Site", "Site - "), some are
something else (a JSON-LD summary, an <h1> naming the section). The forms vouch for each other:
the one another form repeats is the headline, and a part the others lack is decoration.
"""

from __future__ import annotations

import re
import unicodedata

_TITLE_SEPARATOR = re.compile(r"\s+[|\-\u2013\u2014:»·/]\s+")
_PART_SEPARATOR = re.compile(f"{_TITLE_SEPARATOR.pattern}|:\\s+")
# A <title> this short is a site or section name rather than the headline.
_TITLE_MIN_WORDS = 3


def _words(text: str) -> list[str]:
    """The words of a name or title, case and accents folded, punctuation dropped."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return re.findall(r"\w+", "".join(ch for ch in decomposed if not unicodedata.combining(ch)))


def _names_site(segment: str, sites: list[list[str]]) -> bool:
    """True when a title segment is the site's name: equal to it, or one starts the other word for
    word ("Spiceworks" of "Spiceworks Inc", "Aktuálně.cz" of "Aktuálně.cz - Víte, co se děje")."""
    words = _words(segment)
    return bool(words) and any(
        site[: len(words)] == words or words[: len(site)] == site or "".join(site) == "".join(words)
        for site in sites
        if site
    )


def _without_site(title: str, sites: list[list[str]], others: set[str]) -> str:
    """The title without the site or section names the page adds around the headline.

    A segment after the last separator goes when it names the site, or when what precedes it is
    the headline as the page gives it elsewhere (`others`, the other forms, folded) and is the
    longer part; a segment before the first separator goes when it names the site.
    """
    while separators := list(_TITLE_SEPARATOR.finditer(title)):
        last, first = separators[-1], separators[0]
        head, tail = title[: last.start()].strip(), title[last.end() :].strip()
        if _names_site(tail, sites) or (len(tail) < len(head) and folded(head) in others):
            title = head
        elif _names_site(title[: first.start()], sites):
            title = title[first.end() :].strip()
        else:
            break
    return title


def _is_headline(text: str) -> bool:
    """Long enough to be a headline rather than a site or section name (Readability's measure)."""
    return len(text.split()) >= _TITLE_MIN_WORDS or len(text) >= 15


def _without_last_part(title: str) -> str:
    """A bare <title> without its last part where the page names no site: Readability's rule,
    that part is the site's when what precedes it is longer and long enough to be a headline."""
    separators = [s for s in _TITLE_SEPARATOR.finditer(title) if ":" not in s.group()]
    if not separators:
        return title
    head, tail = title[: separators[-1].start()].strip(), title[separators[-1].end() :].strip()
    return head if len(tail) < len(head) and _is_headline(head) else title


def folded(text: str) -> str:
    """The words of a text, case and accents folded, one space apart: the form compared."""
    return " ".join(_words(text))


def _title_parts(title: str) -> dict[str, str]:
    """The title and each run of it up to or from a separator or a colon ("Site: Headline"), by
    their folded forms."""
    parts = [title]
    for separator in _PART_SEPARATOR.finditer(title):
        parts.extend((title[: separator.start()].strip(), title[separator.end() :].strip()))
    return {folded(part): part for part in parts}


def choose(
    declared: list[str], trusted: list[str], h1s: list[str], page: str | None, sites: list[str]
) -> tuple[str, ...]:
    """Every form of the headline, the best first, without the site's name.

    `declared` are the forms meta data gives (JSON-LD, Open Graph, Twitter, other meta names) in
    that order, `trusted` those of them that may stand unconfirmed (JSON-LD, Open Graph,
    Twitter), `h1s` the first <h1> texts, `page` the <title>, `sites` the site's names.

    A declared form comes first: the first that another form of the page confirms (a JSON-LD
    "headline" may be a summary, its "name" the headline), else the first trusted one. Else the
    <title>'s part that the longest <h1> repeats; else the <title>, which an <h1> that says
    something else (a section name, "About this site") does not beat, unless the <title> is too
    short to be a headline.
    """
    found = declared + h1s + ([page] if page else [])
    if not found:
        return ()
    site_words = [_words(site) for site in sites]
    parts = {form: _title_parts(form) for form in found}
    others = {folded(form) for form in found}

    def confirmed(form: str) -> bool:
        forms = {folded(form), folded(_without_site(form, site_words, set()))} - {""}
        return any(forms & parts[other].keys() for other in found if other != form)

    chosen = next((form for form in declared if confirmed(form)), None) or next(iter(trusted), None)
    if chosen:
        best = _without_site(chosen, site_words, others - {folded(chosen)})
    elif page and (agreed := [h for h in h1s if folded(h) in parts[page]]):
        best = parts[page][folded(max(agreed, key=len))]
    elif page and (_is_headline(page) or not h1s):
        best = _without_site(page, site_words, others - {folded(page)})
        best = _without_last_part(best) if best == page else best
    else:
        best = (h1s + found)[0]
    return tuple(dict.fromkeys([best, *found]))
