"""Whether an annotation added after signing is a mark or changes what a reader sees.

A comment, highlight, underline or link *marks* the page: the reader still reads what
was signed. Anything that can cover, replace or add content is an overlay, whatever the
annotation calls itself. The checks fail closed: an appearance that cannot be read
cleanly, or uses anything beyond what a mark needs, is an overlay.

* visibility comes from an integer ``/F``: Hidden hides; NoView hides only on screen,
  so without Hidden it still prints and counts as visible;
* a sticky note (``/Text``) or a highlight/underline/squiggly without an appearance of
  its own is drawn by the viewer as its standard icon or mark: a mark, except a
  highlight whose colour (``/C``) is dark enough to hide the text under it;
* with an appearance of its own, a sticky note must be icon-sized and draw shapes only
  (no text, image, form, pattern or shading); a highlight must only fill light
  shapes blended with Multiply or Darken; its content stream is
  tokenized (comments, strings, names, numbers) and may use only path, fill, colour
  (gray/RGB/CMYK), transform and graphics-state operators, every graphics state it
  selects declared with such a blend, selected before anything is painted, with no
  soft mask, no transparency group, no pattern and no stroke (strokes can draw
  letters);
* underlines and squiggles with their own appearance, links with an appearance or a
  border wider than a hairline, and popups with an appearance are overlays;
* an annotation that carries an action other than going to a place in the document
  or opening a web address (``/A`` JavaScript, Launch, SubmitForm…) or any additional
  action (``/AA``) brings active content: refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace

from pyhanko.pdf_utils import generic

#: Annotation types that mark up or point at the page without painting over it.
COMMENT_SUBTYPES = frozenset({"/Text", "/Popup", "/Highlight", "/Underline", "/Squiggly", "/Link"})
HIDDEN, PRINT, NO_VIEW = 2, 4, 32  # ISO 32000-2 Table 167
ICON_POINTS = 40.0  # a sticky note's icon is 20-24 points a side
MAX_APPEARANCE_BYTES = 64 * 1024
MIN_LIGHTNESS = 0.6  # the darkest colour a highlight may fill with (0 black, 1 white)
MAX_BORDER = 1.0  # points: a link's frame may be a hairline
BLENDS = frozenset({"/Multiply", "/Darken"})
SAFE_ACTIONS = frozenset({"/GoTo", "/URI"})

#: Operators a highlight's appearance may use.
_ALLOWED_OPS = frozenset(
    {
        b"q", b"Q", b"cm", b"gs",  # state
        b"m", b"l", b"c", b"v", b"y", b"h", b"re",  # paths
        b"f", b"F", b"f*", b"n", b"W", b"W*",  # fill, end path, clip
        b"g", b"rg", b"k",  # fill colours
    }
)  # fmt: skip
_PAINTING = frozenset({b"f", b"F", b"f*"})

_WHITESPACE = b" \t\r\n\f\x00"
_DELIMITERS = b"()<>[]{}/%"
_NUMBER = re.compile(rb"[+-]?(?:\d+\.?\d*|\.\d+)")
_WORD = re.compile(rb"[A-Za-z'\"*]+")
_NAME = re.compile(rb"/[^\s()<>\[\]{}/%]*")


class Unreadable(ValueError):
    """The content stream does not tokenize cleanly: treat it as an overlay."""


def tokens(data: bytes) -> Iterator[tuple[bytes, list[bytes]]]:
    """Operators with their operands, as a PDF reader lexes them. Comments are skipped;
    strings, arrays and dictionaries are kept as single operands; anything a strict
    lexer would not accept (a number running into an operator, an unclosed string,
    inline image data) raises :class:`Unreadable`."""
    i, n = 0, len(data)
    operands: list[bytes] = []
    while i < n:
        ch = data[i : i + 1]
        if ch in (b"",) or data[i] in _WHITESPACE:
            i += 1
            continue
        if ch == b"%":
            end = data.find(b"\n", i)
            cr = data.find(b"\r", i)
            ends = [e for e in (end, cr) if e != -1]
            i = min(ends) + 1 if ends else n
            continue
        if ch == b"(":
            i = _skip_string(data, i)
            operands.append(b"(string)")
            continue
        if ch == b"<":
            end = data.find(b">>" if data[i : i + 2] == b"<<" else b">", i)
            if end == -1 or data[i : i + 2] == b"<<":
                raise Unreadable("a dictionary or hex string in a content stream")
            operands.append(b"<hex>")
            i = end + 1
            continue
        if ch in (b"[", b"]", b"{", b"}", b">", b")"):
            raise Unreadable(f"unexpected {ch!r} in a content stream")
        if ch == b"/":
            m = _NAME.match(data, i)
            assert m is not None
            operands.append(m.group(0))
            i = m.end()
            continue
        m = _NUMBER.match(data, i)
        if m is not None:
            i = m.end()
            if i < n and data[i] not in _WHITESPACE and data[i] not in _DELIMITERS:
                raise Unreadable("a number runs into the next token")
            operands.append(m.group(0))
            continue
        m = _WORD.match(data, i)
        if m is None:
            raise Unreadable(f"unexpected byte {data[i]:#x} in a content stream")
        i = m.end()
        if i < n and data[i] not in _WHITESPACE and data[i] not in _DELIMITERS:
            raise Unreadable("an operator runs into the next token")
        op = m.group(0)
        if op == b"BI":
            raise Unreadable("an inline image")
        yield op, operands
        operands = []


def _skip_string(data: bytes, i: int) -> int:
    depth, i, n = 0, i, len(data)
    while i < n:
        c = data[i : i + 1]
        if c == b"\\":
            i += 2
            continue
        if c == b"(":
            depth += 1
        elif c == b")":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise Unreadable("an unclosed string")


def _integer(value: object) -> int | None:
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else None


def visible(annot: generic.DictionaryObject) -> bool:
    """Whether a viewer shows or prints the annotation at all."""
    flags = _integer(annot.get("/F", 0)) if "/F" in annot else 0
    if flags is None:  # /F 2.5: viewers disagree; fail closed
        return True
    return not flags & HIDDEN


def active_content(annot: generic.DictionaryObject) -> str | None:
    """The action an annotation would run that a mark has no business with."""
    if "/AA" in annot:
        return "additional actions (/AA)"
    if "/A" not in annot:
        return None
    action = annot["/A"]
    kind = action.get("/S") if isinstance(action, generic.DictionaryObject) else None
    if str(kind) not in SAFE_ACTIONS:
        return f"an action of type {kind}"
    if isinstance(action, generic.DictionaryObject) and "/Next" in action:
        return "a chain of actions (/Next)"
    return None


def paints_over_page(annot: generic.DictionaryObject) -> bool:
    """Whether a (non-widget) annotation changes what a reader sees of the page."""
    if not visible(annot):
        return False
    subtype = str(annot.get("/Subtype", ""))
    if subtype not in COMMENT_SUBTYPES:
        return True
    own = "/AP" in annot
    if subtype == "/Link":
        return own or _border(annot) > MAX_BORDER
    if subtype == "/Popup":
        return own
    if subtype == "/Text":
        return own and not (_icon_sized(annot) and _all_marks(annot, strokes=True))
    if subtype == "/Highlight":
        return _dark(annot.get("/C")) if not own else not _all_marks(annot)
    return own  # underline, squiggly: a stroke of its own can draw letters


def _border(annot: generic.DictionaryObject) -> float:
    try:
        if "/BS" in annot and "/W" in annot["/BS"]:
            return float(annot["/BS"]["/W"])
        if "/Border" in annot:
            return float(annot["/Border"][2])
    except Exception:
        return MAX_BORDER + 1
    return 1.0  # the default border of a link is 1 point


def _icon_sized(annot: generic.DictionaryObject) -> bool:
    try:
        x1, y1, x2, y2 = (float(v) for v in annot["/Rect"])
    except Exception:
        return False
    return abs(x2 - x1) <= ICON_POINTS and abs(y2 - y1) <= ICON_POINTS


def _rgb(components: list[float]) -> tuple[float, float, float] | None:
    if len(components) == 1:
        return components[0], components[0], components[0]
    if len(components) == 3:
        return components[0], components[1], components[2]
    if len(components) == 4:
        c, m, y, k = components
        return (1 - c) * (1 - k), (1 - m) * (1 - k), (1 - y) * (1 - k)
    return None


def _light(components: list[float]) -> bool:
    """A colour a mark may multiply the page with without hiding what is under it:
    light overall, and light in at least two of red, green and blue (a pure green
    multiplied over green text makes text and paper one colour; yellow, the usual
    highlight, keeps black and coloured text readable)."""
    rgb = _rgb(components)
    if rgb is None or not all(0.0 <= v <= 1.0 for v in rgb):
        return False
    r, g, b = rgb
    luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return luminance >= MIN_LIGHTNESS and sum(v >= MIN_LIGHTNESS for v in rgb) >= 2


def _dark(colour: object) -> bool:
    """A viewer-drawn highlight's colour (``/C``): yellow when absent."""
    if colour is None:
        return False
    try:
        return not _light([float(v) for v in colour])  # type: ignore[attr-defined]
    except Exception:
        return True


def _appearances(annot: generic.DictionaryObject) -> list[generic.PdfObject]:
    found: list[generic.PdfObject] = []
    ap = annot["/AP"]
    if not isinstance(ap, generic.DictionaryObject):
        return [ap]
    for key in ap:
        value = ap[key]
        if isinstance(value, generic.DictionaryObject) and not isinstance(
            value, generic.StreamObject
        ):
            found.extend(value[state] for state in value)
        else:
            found.append(value)
    return found


def _all_marks(annot: generic.DictionaryObject, *, strokes: bool = False) -> bool:
    """Each appearance of the annotation only marks the page (see
    :func:`_only_light_blended_fills`). A sticky note's icon may add hairline strokes:
    light fills under a darkening state still keep a row of notes from whiting out a
    clause or drawing digits over it."""
    try:
        return all(_only_light_blended_fills(a, strokes=strokes) for a in _appearances(annot))
    except Exception:
        return False


def _declared_states(appearance: generic.StreamObject) -> dict[bytes, bool]:
    """The graphics states an appearance may select, and whether each only blends by
    darkening: Multiply or Darken, an opacity at most, nothing else (a transfer
    function, a soft mask or a halftone can turn a light fill black)."""
    resources = appearance.get("/Resources")
    states = (
        resources.get("/ExtGState") if isinstance(resources, generic.DictionaryObject) else None
    )
    declared: dict[bytes, bool] = {}
    if isinstance(states, generic.DictionaryObject):
        for name in states:
            state = states[name]
            declared[str(name).encode()] = (
                isinstance(state, generic.DictionaryObject)
                and str(state.get("/BM")) in BLENDS
                and set(state.keys()) <= _STATE_KEYS
            )
    return declared


def _only_light_blended_fills(appearance: generic.PdfObject, *, strokes: bool = False) -> bool:
    """Every operator of the appearance is a path, a fill (or, with ``strokes``, a
    hairline stroke), a light colour, a transform or the selection of a darkening
    graphics state, each with exactly its operands; nothing is painted before such a
    state is selected or in a colour that is not light."""
    if not isinstance(appearance, generic.StreamObject):
        return False
    if "/Group" in appearance:  # an isolated group undoes the blend with the page
        return False
    data = appearance.data
    if len(data) > MAX_APPEARANCE_BYTES:
        return False
    declared = _declared_states(appearance)
    allowed = _ALLOWED_OPS | (_STROKE_OPS if strokes else frozenset())
    try:
        ops = list(tokens(data))
    except Unreadable:
        return False
    stack = [_PaintState()]  # one per q/Q level
    for op, operands in ops:
        if op not in allowed or len(operands) != _OPERANDS.get(op, 0):
            return False
        state = stack[-1]
        if op == b"q":
            stack.append(replace(state))
        elif op == b"Q":
            if len(stack) > 1:
                stack.pop()
        elif op == b"gs":
            if not declared.get(operands[0], False):
                return False
            state.blended = True
        elif not state.apply(op, operands):
            return False
    return True


@dataclass
class _PaintState:
    """What an appearance has set at one q/Q level."""

    blended: bool = False
    fill_light: bool = False  # the initial colour is black
    stroke_light: bool = False
    line_width: float = 1.0

    def apply(self, op: bytes, operands: list[bytes]) -> bool:
        """Take one operator (not q, Q or gs); False when it paints what a mark may not."""
        try:
            numbers = [float(v) for v in operands]
        except ValueError:
            return False
        if op in (b"g", b"rg", b"k"):
            self.fill_light = _light(numbers)
        elif op in (b"G", b"RG", b"K"):
            self.stroke_light = _light(numbers)
        elif op == b"w":
            self.line_width = numbers[0]
        elif op in _PAINTING:
            return self.blended and self.fill_light
        elif op in _STROKING:
            return self.blended and self.stroke_light and 0 <= self.line_width <= 1.0
        return True


_STATE_KEYS = frozenset({"/Type", "/BM", "/ca", "/CA"})
_STROKE_OPS = frozenset({b"w", b"S", b"s", b"G", b"RG", b"K", b"J", b"j", b"M", b"d"})
_STROKING = frozenset({b"S", b"s"})
#: How many operands each allowed operator takes.
_OPERANDS = {
    b"cm": 6, b"gs": 1, b"m": 2, b"l": 2, b"c": 6, b"v": 4, b"y": 4, b"re": 4,
    b"g": 1, b"rg": 3, b"k": 4, b"G": 1, b"RG": 3, b"K": 4, b"w": 1, b"J": 1, b"j": 1,
    b"M": 1, b"d": 2,
}  # fmt: skip
