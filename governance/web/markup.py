"""Notice Markdown to safe HTML.

A notice is what a person consents to, so it is shown as a readable document (headings, paragraphs, lists,
emphasis, links), not as source text. markdown-it-py (CommonMark, raw HTML off) renders it and nh3 (the
Rust `ammonia` sanitizer) keeps only a short list of tags, so a policy author's mistake cannot put script,
style or a form on the page. The pinned SHA-256 is over the source text (consent.policy); rendering never
changes what was hashed.
"""

from __future__ import annotations

from functools import lru_cache

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

ALLOWED_TAGS = frozenset(
    {"h2", "h3", "h4", "h5", "h6", "p", "ul", "ol", "li", "strong", "em", "a", "code", "blockquote", "br", "hr"}
    | {"table", "thead", "tbody", "tr", "th", "td"}
)
ALLOWED_ATTRIBUTES = {"a": {"href"}, "th": {"scope"}, "ol": {"start"}}
HEADING_SHIFT = 1  # the page has its own <h1>: a notice's "# Title" becomes an <h2>


@lru_cache(maxsize=1)
def _parser():
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable("table")

    def heading(renderer, tokens, idx, options, env):
        token = tokens[idx]
        level = min(int(token.tag[1]) + HEADING_SHIFT, 6)
        token.tag = f"h{level}"
        return renderer.renderToken(tokens, idx, options, env)

    md.add_render_rule("heading_open", heading)
    md.add_render_rule("heading_close", heading)
    return md


def render_notice(source: str) -> Markup:
    """The notice's Markdown as sanitized HTML (safe to insert into a page unescaped)."""
    html = _parser().render(source)
    clean = nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        attributes={tag: set(attrs) for tag, attrs in ALLOWED_ATTRIBUTES.items()},
        url_schemes={"https", "mailto"},
        link_rel="noopener noreferrer",
    )
    return Markup(clean)  # noqa: S704  # nosec B704 - sanitized by nh3 just above (allow-listed tags only)
