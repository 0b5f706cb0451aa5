"""The hardened edXML reader: lxml's push parser with a target, so nothing is built
that was not asked for.

- No DTD: a DOCTYPE (and with it every entity declaration: billion laughs, quadratic
  blow-up, external entities) is refused the moment it starts; nothing is fetched
  (``no_network``, ``load_dtd=False``, ``resolve_entities=False``).
- Bounded: element count, nesting depth, the text of each element.
- Attachments are never held: their base64 text is decoded as it arrives into spool
  files (:class:`~services.ingest.edxml.attachments.Base64Spool`).

What comes out is a small tree of :class:`Node` (names without namespaces, each with
its path, which every refusal names) and the spooled attachments.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from services.common.storage import SpooledUpload
from services.ingest.edxml.attachments import Base64Spool
from services.ingest.edxml.errors import PackageRefused
from services.ingest.settings import EdxmlSettings

QCVN_102 = "http://www.mic.gov.vn/TBT/QCVN_102_2016"
GO_VN = "http://www.go.vn/eDoc"
EDXML_NAMESPACES = (QCVN_102, GO_VN)
DSIG = "http://www.w3.org/2000/09/xmldsig#"
ROOTS = ("edXML", "edXMLEnvelope")
FEED_CHUNK = 64 * 1024

#: Elements that may repeat: their paths carry the position, [1] for the first.
REPEATED = frozenset(
    {"To", "Attachment", "Reference", "TraceHeader", "Place", "Appendix", "ReplacementInfo"}
)
#: The children of an Attachment that describe it; any other text in it is its content.
ATTACHMENT_FIELDS = frozenset(
    {
        "ContentId",
        "AttachmentName",
        "ContentType",
        "Description",
        "Name",
        "FileName",
        "ContentTransferEncoding",
        "Encoding",
        "Size",
    }
)


@dataclass
class Node:
    name: str  # local name
    namespace: str
    path: str
    attrs: dict[str, str]
    children: list[Node] = field(default_factory=list)
    parts: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(self.parts).strip()

    def child(self, name: str) -> Node | None:
        return next((c for c in self.children if c.name == name), None)

    def all(self, name: str) -> list[Node]:
        return [c for c in self.children if c.name == name]

    def find(self, name: str) -> Node | None:
        """The first element of this name below this one (depth first)."""
        stack = list(reversed(self.children))
        while stack:
            node = stack.pop()
            if node.name == name:
                return node
            stack.extend(reversed(node.children))
        return None


@dataclass(frozen=True)
class RawAttachment:
    node: Node  # its descriptive children; the content went to ``upload``
    upload: SpooledUpload


@dataclass
class ReadPackage:
    root: Node
    namespace: str
    attachments: list[RawAttachment]
    signed: bool  # an XML-DSig Signature element is present

    def discard(self) -> None:
        for attachment in self.attachments:
            attachment.upload.discard()


def _split(tag: str) -> tuple[str, str]:
    if tag.startswith("{"):
        namespace, _, name = tag[1:].partition("}")
        return namespace, name
    return "", tag


class _Reader:
    """The parser's target: builds the Node tree, streams attachments out."""

    def __init__(self, limits: EdxmlSettings, spool_dir: Path) -> None:
        self.limits = limits
        self.spool_dir = spool_dir
        self.stack: list[Node] = []
        self.root: Node | None = None
        self.count = 0
        self.signed = False
        self.attachments: list[RawAttachment] = []
        self.current: Node | None = None  # the Attachment being read
        self.sink: Base64Spool | None = None

    def where(self) -> str:
        return self.stack[-1].path if self.stack else "edXML"

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        namespace, name = _split(tag)
        parent = self.stack[-1] if self.stack else None
        self.count += 1
        if self.count > self.limits.max_elements:
            raise PackageRefused(
                self.where(), f"the package has more than {self.limits.max_elements} elements"
            )
        if len(self.stack) >= self.limits.max_depth:
            raise PackageRefused(
                self.where(), f"elements are nested more than {self.limits.max_depth} deep"
            )
        if parent is None:
            if name not in ROOTS or namespace not in (*EDXML_NAMESPACES, ""):
                raise PackageRefused(
                    name,
                    f"is not an edXML package: the root is edXML or edXMLEnvelope in {QCVN_102}"
                    f" (or {GO_VN})",
                )
            path = name
        else:
            path = f"{parent.path}/{name}"
            if name in REPEATED:
                path += f"[{1 + sum(1 for c in parent.children if c.name == name)}]"
        attrs = {_split(k)[1]: v for k, v in attrib.items()}
        node = Node(name, namespace, path, attrs)
        if parent is None:
            self.root = node
        else:
            parent.children.append(node)
        self.stack.append(node)
        if namespace == DSIG and name == "Signature":
            self.signed = True
        if name == "Attachment" and parent is not None and parent.name == "AttachmentEncoded":
            if self.current is not None:
                raise PackageRefused(path, "an Attachment inside an Attachment")
            if len(self.attachments) >= self.limits.max_attachments:
                raise PackageRefused(
                    path, f"the package has more than {self.limits.max_attachments} attachments"
                )
            self.current = node
            self.sink = Base64Spool(self.spool_dir, path, self.limits.max_attachment_bytes)

    def data(self, text: str) -> None:
        node = self.stack[-1]
        if self.sink is not None and (
            node is self.current
            or (
                len(self.stack) > 1
                and self.stack[-2] is self.current
                and node.name not in ATTACHMENT_FIELDS
            )
        ):
            self.sink.feed(text)
            return
        if sum(map(len, node.parts)) + len(text) > self.limits.max_text_chars:
            raise PackageRefused(
                node.path, f"its text is longer than {self.limits.max_text_chars} characters"
            )
        node.parts.append(text)

    def end(self, _tag: str) -> None:
        node = self.stack.pop()
        if node is self.current and self.sink is not None:
            upload = self.sink.finish()
            self.attachments.append(RawAttachment(node, upload))
            self.current, self.sink = None, None

    def doctype(self, *_declaration: object) -> None:
        raise PackageRefused(
            "DOCTYPE", "a DTD (and with it any entity declaration) is not accepted in edXML"
        )

    def comment(self, _text: str) -> None:
        return None

    def pi(self, _target: str, _data: str | None = None) -> None:
        return None

    def close(self) -> Node | None:
        return self.root

    def discard(self) -> None:
        if self.sink is not None:
            self.sink.discard()
        for attachment in self.attachments:
            attachment.upload.discard()


def hardened_parser(target: object | None = None) -> etree.XMLParser:
    """lxml with every door shut: no DTD, no entities, no network, no XInclude."""
    return etree.XMLParser(
        target=target,
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=True,  # the limits are ours (Reader); attachments arrive in pieces
        remove_comments=True,
        remove_pis=True,
    )


def read_package(path: Path, limits: EdxmlSettings, spool_dir: Path) -> ReadPackage:
    """Read a spooled package. On any refusal nothing it spooled is left behind."""
    reader = _Reader(limits, spool_dir)
    parser = hardened_parser(reader)
    try:
        with path.open("rb") as f:
            while chunk := f.read(FEED_CHUNK):
                parser.feed(chunk)
        root = parser.close()
    except etree.XMLSyntaxError as e:
        reader.discard()
        raise PackageRefused(reader.where(), f"is not well-formed XML ({e.msg})") from e
    except BaseException:
        reader.discard()
        raise
    if root is None or reader.sink is not None:
        reader.discard()
        raise PackageRefused("edXML", "the package is empty or ends early")
    namespace = root.namespace or QCVN_102
    return ReadPackage(root, namespace, reader.attachments, reader.signed)
