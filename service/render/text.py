"""Fill the pack's card templates. EHR text is escaped: clients render detail markdown, some with raw HTML."""

from __future__ import annotations

import re

# Brackets are escaped, so parentheses can never form a link and stay readable as they are.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]#|~>])")


# GitHub-flavoured markdown turns bare URLs, www. names and e-mail addresses in text into live links. A backslash
# before the "://" or the "www." dot breaks the first two and renders as nothing; an e-mail address is found even
# then, so its "@" is shown as a code span, which no link can contain.
_AUTOLINK = re.compile(r"(?i)(?<=[a-z])(:)(?=//)|(?<=\bwww)(\.)")
_EMAIL_AT = re.compile(r"(?i)(?<=[a-z0-9._+-])@(?=[a-z0-9_-]+\.)")


def escape_markdown(text: str) -> str:
    """Plain text safe inside GitHub-flavoured markdown: one line, no emphasis, links (bare URLs included) or HTML."""
    one_line = " ".join(text.split())
    escaped = _MARKDOWN_SPECIAL.sub(r"\\\1", one_line).replace("<", "&lt;")
    return _EMAIL_AT.sub("`@`", _AUTOLINK.sub(lambda match: "\\" + match.group(0), escaped))


def bullet_list(items: tuple[str, ...]) -> str:
    return "\n".join(f"- {escape_markdown(item)}" for item in items)


def capitalise(text: str) -> str:
    """Upper-case the first letter, after any leading markdown such as `**`."""
    for index, char in enumerate(text):
        if char.isalpha():
            return text[:index] + char.upper() + text[index + 1 :]
    return text
