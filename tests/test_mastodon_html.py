"""Mastodon status HTML -> plain text: what real servers send, and what hostile ones might."""

from __future__ import annotations

import html
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.mastodon.html import html_to_text, status_text
from store.sanitize import clean_text

BOB = {"id": "7", "username": "bob", "acct": "bob@other.example", "url": "https://other.example/@bob"}
BRAND = {"id": "1", "username": "brand", "acct": "brand", "url": "https://example.social/@brand"}


def mention_html(url: str, user: str) -> str:
    return f'<span class="h-card"><a href="{url}" class="u-url mention">@<span>{user}</span></a></span>'


def test_mentions_resolve_to_full_acct_through_status_mentions():
    content = (f"<p>{mention_html(BRAND['url'], 'brand')} {mention_html(BOB['url'], 'bob')} "
               "can you help?</p>")
    assert html_to_text(content, [BRAND, BOB]) == "@brand @bob@other.example can you help?"


def test_unlisted_mention_falls_back_to_profile_url_then_visible_text():
    content = (f"<p>{mention_html('https://gts.example/@zoe', 'zoe')} "
               f"{mention_html('https://ak.example/users/yan', 'yan')} "
               f"{mention_html('https://weird.example/profile.php?id=3', 'xi')}</p>")
    assert html_to_text(content, []) == "@zoe@gts.example @yan@ak.example @xi"


def test_links_use_href_not_truncated_visible_text():
    content = ('<p>see <a href="https://example.com/a/very/long/path?q=1&amp;r=2" rel="nofollow noopener" '
               'target="_blank"><span class="invisible">https://</span><span class="ellipsis">example.com/a/very'
               '</span><span class="invisible">/long/path?q=1&amp;r=2</span></a> now</p>')
    assert html_to_text(content) == "see https://example.com/a/very/long/path?q=1&r=2 now"


def test_link_whose_label_is_not_its_address_shows_both():
    content = ('<p><a href="https://evil.example/login">https://bank.example</a> and '
               '<a href="https://x.example/doc">the docs</a></p>')
    assert html_to_text(content) == ("https://bank.example (https://evil.example/login) and "
                                     "the docs (https://x.example/doc)")


def test_bare_domain_label_becomes_the_full_url():
    assert html_to_text('<p><a href="https://example.com/">example.com</a></p>') == "https://example.com/"


def test_hashtags_keep_their_text():
    content = ('<p>love it <a href="https://example.social/tags/Coffee" class="mention hashtag" rel="tag">'
               '#<span>Coffee</span></a></p>')
    assert html_to_text(content) == "love it #Coffee"


def test_line_breaks_and_paragraphs():
    content = "<p>one<br>two<br />three</p><p>four</p><p>five<br/><br/>six</p>"
    assert html_to_text(content) == "one\ntwo\nthree\n\nfour\n\nfive\n\nsix"


def test_remote_html_without_paragraphs_and_with_stray_whitespace():
    content = "  hello   <b>world</b>\n\n again<br/>  next line  "
    assert html_to_text(content) == "hello world again\nnext line"


def test_entities_are_unescaped_once():
    content = "<p>Fish &amp; chips &lt;3 &quot;yes&quot; it&#39;s &amp;lt;b&amp;gt; &eacute;</p>"
    assert html_to_text(content) == "Fish & chips <3 \"yes\" it's &lt;b&gt; é"


def test_quote_inline_paragraph_is_dropped():
    content = ('<p class="quote-inline">RE: <a href="https://x.example/@a/1">https://x.example/@a/1</a></p>'
               "<p>my comment</p>")
    assert html_to_text(content) == "my comment"


def test_lists_blockquotes_and_pre():
    content = ("<p>steps:</p><ol><li>open</li><li>close</li></ol><ul><li>a</li></ul>"
               "<blockquote><p>quoted</p></blockquote><pre>  keep   spacing</pre>")
    assert html_to_text(content) == "steps:\n\n1. open\n2. close\n\n- a\n\nquoted\n\n  keep   spacing"


def test_script_and_style_content_never_shows():
    assert html_to_text("<p>a<script>alert(1)</script><style>p{}</style>b</p>") == "ab"


def test_custom_emoji_images_keep_their_shortcode():
    assert html_to_text('<p>hi <img src="x.png" alt=":blobcat:" class="emoji"></p>') == "hi :blobcat:"


def test_hostile_text_survives_only_as_inert_literal_text():
    content = ("<p>\x1b]0;pwned\x07[bold red]x[/] &#27;[31mred&#27;[0m [@click=app.quit]q[/] "
               "\u202eevil\u202c \x9b31m</p>")
    text = html_to_text(content)
    assert "[bold red]x[/]" in text and "[@click=app.quit]q[/]" in text
    assert all(ch not in text for ch in "\x1b\x07\x9b\u202e\u202c")
    assert "pwned" not in text  # the whole OSC sequence is gone, not just its ESC
    # &#27; decodes to nothing (an invalid code point), leaving only inert brackets.
    assert "[31mred[0m" in text


def test_not_html_is_empty_text():
    assert html_to_text(None) == "" and html_to_text(42) == "" and html_to_text("") == ""


def test_status_text_prefixes_content_warning_and_lists_attachments():
    status = {
        "content": "<p>spoilers inside</p>",
        "spoiler_text": "Film \x1b[2Jending",
        "mentions": [],
        "media_attachments": [{"type": "image", "description": "a cat\non a mat"}, {"type": "video"}, "junk"],
    }
    assert status_text(status) == "CW: Film ending\n\nspoilers inside\n\n[image: a cat on a mat]\n[video]"


def test_status_text_tolerates_missing_and_wrong_fields():
    assert status_text({}) == ""
    assert status_text({"content": ["x"], "spoiler_text": 3, "media_attachments": {"a": 1}}) == ""


def test_broken_markup_is_still_read():
    content = '<p>unclosed <a href="https://example.com/x">link<p>next</p><![CDATA[x]]><!-- c --></b></p></div>'
    text = html_to_text(content)
    assert "https://example.com/x" in text and "next" in text


# --- properties -------------------------------------------------------------------------

_TAGS = st.sampled_from(["p", "br", "span", "a", "b", "i", "pre", "ol", "ul", "li", "blockquote", "script",
                         "div", "code", "img", "strong"])
_ATTRS = st.sampled_from(['', ' class="invisible"', ' class="ellipsis"', ' class="mention"',
                          ' class="quote-inline"', ' href="https://x.example/@y"', ' href="javascript:x"',
                          ' class="u-url mention" href="https://ex.example/users/a"', ' alt=":x:"',
                          ' start="3"', ' start="²"', ' href'])
_PIECE = st.one_of(
    st.text(max_size=20),
    st.builds(lambda t, a: f"<{t}{a}>", _TAGS, _ATTRS),
    st.builds(lambda t: f"</{t}>", _TAGS),
    st.sampled_from(["&amp;", "&#27;", "&#x9b;", "&bogus;", "&#99999999;", "<!--", "<![", "<!DOCTYPE", "</", "<",
                     ">", "&", "\x00", "\r\n", "\u202e"]),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_PIECE, max_size=40).map("".join), st.lists(st.dictionaries(
    st.sampled_from(["acct", "url", "id"]), st.one_of(st.text(max_size=10), st.integers(), st.none())), max_size=3))
def test_arbitrary_html_never_crashes_and_is_always_inert(content, mentions):
    text = html_to_text(content, mentions)
    assert isinstance(text, str)
    assert text == clean_text(text)  # already clean: nothing left for the sanitizer to strip


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_escaped_plain_text_round_trips(text):
    result = html_to_text(f"<p>{html.escape(text)}</p>")
    assert result == clean_text(re.sub(r"[ \t\n\r\f]+", " ", text))
