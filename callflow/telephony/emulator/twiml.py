"""Reading TwiML documents: parsing, attributes, and URLs relative to the document.

A document must be well-formed XML (error 12100, "Document parse failure", which also
covers white space before the XML declaration) whose root is `<Response>` (error 12102).
Relative URLs in a document resolve against the document's own URL, like a browser
resolves links (Redirect page: "relative to the current URL"). An answer served as
`audio/*` is played and one served as `text/plain` is read out, as Twilio does for those
content types.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from urllib.parse import urljoin
from xml.sax.saxutils import escape

from .webhooks import is_absolute_http_url

#: The verbs this emulator executes. Any other element under `<Response>` (Twilio's
#: `<Record>`, `<Connect>`, `<Pay>`… or a misspelling) stops the call: see `engine.py`.
EMULATED_VERBS = frozenset(
    {"Say", "Play", "Pause", "Gather", "Redirect", "Enqueue", "Leave", "Dial", "Hangup", "Reject"}
)


class TwimlError(Exception):
    """A document Twilio would refuse, with its error code."""

    def __init__(self, code: int, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


@dataclass
class Document:
    """A parsed `<Response>` and the URL it came from (None for inline TwiML)."""

    root: ET.Element
    url: str | None

    def resolve(self, reference: str) -> str:
        """An absolute URL for `reference`, relative to this document."""
        reference = reference.strip()
        if is_absolute_http_url(reference):
            return reference
        if self.url is None:
            raise TwimlError(11100, f"relative URL {reference!r} in TwiML that has no URL")
        return urljoin(self.url, reference)


def parse_document(text: str, url: str | None) -> Document:
    try:
        root = ET.fromstring(text)
    except ET.ParseError as error:
        raise TwimlError(12100, f"document parse failure: {error}") from error
    if root.tag != "Response":
        raise TwimlError(12102, f"the root element must be Response, not <{root.tag}>")
    return Document(root, url)


def document_for_answer(content_type: str, body: str, url: str) -> Document:
    """The document an HTTP answer stands for, by its content type."""
    kind = content_type.split(";")[0].strip().lower()
    if kind.startswith("audio/"):
        return parse_document(f"<Response><Play>{escape(url)}</Play></Response>", url)
    if kind == "text/plain":
        return parse_document(f"<Response><Say>{escape(body)}</Say></Response>", url)
    return parse_document(body, url)


def text_of(element: ET.Element) -> str:
    """The element's text, SSML children included, with white space collapsed."""
    return " ".join("".join(element.itertext()).split())


def attr_bool(element: ET.Element, name: str, default: bool) -> bool:
    value = element.get(name)
    if value is None:
        return default
    return value.strip().lower() == "true"


def attr_int(element: ET.Element, name: str, default: int | None) -> int | None:
    value = element.get(name)
    if value is None:
        return default
    try:
        return int(value.strip())
    except ValueError:
        return default


def attr_method(element: ET.Element, name: str, default: str = "POST") -> str:
    value = (element.get(name) or "").strip().upper()
    return value if value in ("GET", "POST") else default


def attr_list(element: ET.Element, name: str) -> frozenset[str]:
    """A space- or comma-separated attribute (`input="dtmf speech"`)."""
    value = element.get(name) or ""
    return frozenset(part for part in value.replace(",", " ").split() if part)
