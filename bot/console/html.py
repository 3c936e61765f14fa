"""Telegram's HTML parse mode, as the local Bot API checks and renders it."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass


# --------------------------------------------------------------------------------------------------
# HTML parse mode: validate like Telegram, render to plain text for the terminal
# --------------------------------------------------------------------------------------------------

_HTML_TAGS = frozenset(
    {
        "a",
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "span",
        "tg-spoiler",
        "tg-emoji",
        "tg-time",
        "code",
        "pre",
        "blockquote",
    }
)
_HTML_ENTITY = re.compile(r"&(#[xX][0-9a-fA-F]+|#[0-9]+|[a-zA-Z]+);")
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_HREF = re.compile(r"""href\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.IGNORECASE)


class HTMLParseError(ValueError):
    """Text that Telegram's HTML parse mode would reject ("can't parse entities: …")."""


def _decode_entity(match: re.Match[str]) -> str:
    name = match.group(1)
    if name.startswith(("#x", "#X")):
        return chr(int(name[2:], 16))
    if name.startswith("#"):
        return chr(int(name[1:]))
    # Telegram decodes only these four named entities; anything else stays as typed.
    return _NAMED_ENTITIES.get(name, match.group(0))


def html_to_text(text: str) -> str:
    """Parse Telegram-HTML into the plain text a user sees; raise :class:`HTMLParseError` like Telegram.

    Mirrors Telegram's parser closely enough to catch real bugs: every ``<`` must open a supported
    tag (so an unescaped ``<`` in a film title fails), tags must nest and close, and only ``&lt;``,
    ``&gt;``, ``&amp;``, ``&quot;`` and numeric entities are decoded. Links render as
    ``text (url)`` so the terminal still shows where they go.
    """
    out: list[str] = []
    stack: list[tuple[str, str | None, int]] = []  # (tag, href, index in `out` where it opened)
    i, n = 0, len(text)

    def offset(pos: int) -> int:
        return len(text[:pos].encode("utf-8"))

    while i < n:
        char = text[i]
        if char == "&":
            match = _HTML_ENTITY.match(text, i)
            if match is None:
                out.append("&")
                i += 1
            else:
                out.append(_decode_entity(match))
                i = match.end()
            continue
        if char != "<":
            out.append(char)
            i += 1
            continue
        if text.startswith("</", i):
            end = text.find(">", i)
            if end == -1:
                raise HTMLParseError(f"Unclosed end tag at byte offset {offset(i)}")
            name = text[i + 2 : end].strip().lower()
            if not stack:
                raise HTMLParseError(f'Unexpected end tag "{name}" at byte offset {offset(i)}')
            open_name, href, start = stack.pop()
            if name != open_name:
                raise HTMLParseError(
                    f'Unmatched end tag at byte offset {offset(i)}, expected "</{open_name}>", '
                    f'found "</{name}>"'
                )
            if open_name == "a" and href and href != "".join(out[start:]):
                out.append(f" ({href})")
        else:
            # Like Telegram: the tag name runs to the first space or '>', and must be supported.
            name_end = i + 1
            while name_end < n and not text[name_end].isspace() and text[name_end] != ">":
                name_end += 1
            if name_end >= n:
                raise HTMLParseError(f"Unclosed start tag at byte offset {offset(i)}")
            name = text[i + 1 : name_end].lower()
            if name not in _HTML_TAGS:
                raise HTMLParseError(f'Unsupported start tag "{name}" at byte offset {offset(i)}')
            end = text.find(">", name_end)
            if end == -1:
                raise HTMLParseError(f"Unclosed start tag at byte offset {offset(i)}")
            href = None
            if name == "a" and (href_match := _HREF.search(text, name_end, end)):
                raw = next(group for group in href_match.groups() if group is not None)
                href = _HTML_ENTITY.sub(_decode_entity, raw)
            stack.append((name, href, len(out)))
        i = end + 1
    if stack:
        raise HTMLParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    return "".join(out)
