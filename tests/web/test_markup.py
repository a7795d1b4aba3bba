"""Notice Markdown to HTML (issue 13, point 1): a readable document, and nothing a policy author's mistake could
turn into script, style, a form or an image; the pinned SHA-256 stays over the source text."""

from __future__ import annotations

import hashlib
from html.parser import HTMLParser

from governance.consent.service import load_purposes
from governance.settings import PROJECT_ROOT
from governance.web.markup import render_notice

HOSTILE = """# Title

Intro with *emphasis* and [a link](https://example.com) and [bad](javascript:alert(1)).

<script>alert(1)</script>
<img src=x onerror=alert(1)>
<form action="/x"><input name="a"></form>
<a href="https://example.com" onclick="steal()">raw</a>

- one
- two
"""


def test_markdown_becomes_a_document_below_the_page_heading() -> None:
    html = str(render_notice(HOSTILE))
    assert "<h2>Title</h2>" in html  # the page has its own <h1>
    assert "<em>emphasis</em>" in html
    assert "<li>one</li>" in html
    assert '<a href="https://example.com" rel="noopener noreferrer">a link</a>' in html


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, dict(attrs)))


def test_script_style_forms_images_and_handlers_never_reach_the_page() -> None:
    parser = _Elements()
    parser.feed(str(render_notice(HOSTILE)))
    tags = {tag for tag, _ in parser.found}
    assert tags <= {"h2", "p", "em", "a", "ul", "li"}, tags  # raw HTML in the source shows as text, never as tags
    attributes = {name for _, attrs in parser.found for name in attrs}
    assert attributes <= {"href", "rel"}, attributes
    hrefs = [attrs.get("href") for tag, attrs in parser.found if tag == "a"]
    assert hrefs == ["https://example.com"]  # the javascript: link lost its target


def test_the_pinned_hash_is_over_the_source_text_not_the_rendering() -> None:
    for purpose in load_purposes(PROJECT_ROOT / "policies"):  # the shipped files, read outside an app
        for notice in purpose.notices:
            source = (PROJECT_ROOT / "policies" / notice.file).read_bytes()
            assert hashlib.sha256(source).hexdigest() == notice.sha256
            rendered = str(render_notice(source.decode()))
            assert hashlib.sha256(rendered.encode()).hexdigest() != notice.sha256
