"""Word-level differences between two versions of an article record, over every field (pure: two
records in, a list of field differences out; the history page renders them as ``<del>``/``<ins>``).

Bounded: difflib's matcher is quadratic in the worst case (a few seconds for 8,000 tokens of a small
vocabulary), so text is compared in steps that keep it small — paragraphs first, then words only
inside the paragraphs that changed, after the common beginning and end are set aside — and every
word comparison has a budget (cells of the comparison matrix, per pair and per request). Past the
budget a changed stretch is shown whole (the old removed, the new inserted) with a note: never
wrong, only coarser.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..record import FIELDS

# a word or a run of punctuation, with the whitespace after it (fewer, less repetitive tokens than
# whitespace as tokens of its own: the matcher's worst case is a small vocabulary)
# a paragraph break is a token of its own (a split or joined paragraph shows as such)
_TOKEN = re.compile(r"\n\n|\w+ *|[^\w\s]+ *|\s+")
BREAK = "\n\n"
PAIR_CELLS = 1_000_000  # len(a) * len(b) of one word comparison
TOTAL_CELLS = 2_500_000  # of all the word comparisons of one diff (~0.4 s in the worst case measured)
MAX_UNITS = 5_000  # paragraphs or list items compared as units, per side (past it: coarse)
MIN_CELLS = 1_000  # what one word comparison costs at least, whatever its size (2,500 of them a diff)
MAX_SHOWN = 1_000  # blocks (paragraphs, items, images) a field shows; past it the rest is counted
SHOWN_NOTE = "còn {n} mục thay đổi nữa không hiển thị ở đây (so sánh bản ghi JSON của hai phiên bản)"
CONTEXT = 1  # unchanged paragraphs shown around a change

LABELS = {  # the reading room speaks Vietnamese
    "url": "Địa chỉ (URL)", "site": "Trang báo", "article_id": "Mã bài (CMS)", "kind": "Loại bài",
    "title": "Tiêu đề", "sapo": "Sapo", "dateline": "Dateline", "authors": "Tác giả",
    "published_at": "Thời gian đăng", "modified_at": "Thời gian cập nhật", "section": "Chuyên mục",
    "breadcrumb": "Cây chuyên mục", "tags": "Thẻ", "body_text": "Nội dung", "images": "Ảnh và chú thích",
    "source": "Nguồn", "language": "Ngôn ngữ", "extractor": "Bộ trích xuất",
    "extractor_version": "Phiên bản bộ trích xuất", "fetched_at": "Thời điểm lưu (UTC)",
}
COARSE_NOTE = ("quá dài để so sánh từng từ: phần thay đổi được hiển thị nguyên khối, bản cũ bị xoá rồi bản mới"
               " được thêm")


@dataclass(frozen=True)
class Seg:
    op: str  # "same", "del", "ins"
    text: str


@dataclass
class Block:
    """A paragraph (or a list item, an image) of a field: its segments, or a gap of ``skipped``
    unchanged paragraphs left out. An image's block holds its caption; ``src`` is its address."""

    segs: list[Seg] = field(default_factory=list)
    skipped: int = 0
    src: str | None = None

    @property
    def changed(self) -> bool:
        return any(s.op != "same" for s in self.segs)


@dataclass
class FieldDiff:
    name: str
    label: str
    changed: bool
    blocks: list[Block]
    kind: str = "text"  # "text", "body", "list", "images"
    note: str | None = None


class _Budget:
    def __init__(self, cells: int) -> None:
        self.cells = cells
        self.coarse = False

    def take(self, cells: int) -> bool:
        cells = max(cells, MIN_CELLS)  # each comparison's own cost: 20,000 changed captions took 1 s
        if cells > PAIR_CELLS or cells > self.cells:
            self.coarse = True
            return False
        self.cells -= cells
        return True


def _nfc(text: str | None) -> str:
    return unicodedata.normalize("NFC", text or "")


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(_nfc(text))


def _merge(segs: list[Seg]) -> list[Seg]:
    """Adjacent segments of one kind joined; whitespace left "same" between two changes goes into
    both (so "a b → x y" reads as one change, not two)."""
    out: list[Seg] = []
    for i, s in enumerate(segs):
        if not s.text:
            continue
        if (s.op == "same" and not s.text.strip() and 0 < i < len(segs) - 1
                and segs[i - 1].op != "same" and segs[i + 1].op != "same"):
            out.extend([Seg("del", s.text), Seg("ins", s.text)])
            continue
        out.append(s)
    # order within a change: all that was removed, then all that was inserted
    merged: list[Seg] = []
    i = 0
    while i < len(out):
        if out[i].op == "same":
            if merged and merged[-1].op == "same":
                merged[-1] = Seg("same", merged[-1].text + out[i].text)
            else:
                merged.append(out[i])
            i += 1
            continue
        j = i
        while j < len(out) and out[j].op != "same":
            j += 1
        dels = "".join(s.text for s in out[i:j] if s.op == "del")
        inss = "".join(s.text for s in out[i:j] if s.op == "ins")
        # "lớn " → "nhẹ ": the space after both words is not part of the change
        cut = 0
        while (cut < min(len(dels), len(inss)) - 1 and dels[-1 - cut] == inss[-1 - cut]
               and dels[-1 - cut].isspace()):
            cut += 1
        space = dels[len(dels) - cut:]
        merged.extend(s for s in (Seg("del", dels[:len(dels) - cut]), Seg("ins", inss[:len(inss) - cut])) if s.text)
        if space:
            merged.append(Seg("same", space))
        i = j
    return _join_same(merged)


def _join_same(segs: list[Seg]) -> list[Seg]:
    out: list[Seg] = []
    for s in segs:
        if out and out[-1].op == s.op == "same":
            out[-1] = Seg("same", out[-1].text + s.text)
        else:
            out.append(s)
    return out


def _common_ends(a: Sequence[Any], b: Sequence[Any]) -> tuple[int, int]:
    """Lengths of the common prefix and (of what is left) the common suffix."""
    n = min(len(a), len(b))
    pre = 0
    while pre < n and a[pre] == b[pre]:
        pre += 1
    suf = 0
    while suf < n - pre and a[len(a) - 1 - suf] == b[len(b) - 1 - suf]:
        suf += 1
    return pre, suf


def _key(token: str) -> str:
    """What a token is compared by: the word without the space after it ("một" at the end of a
    title is the same word as "một " before an addition)."""
    return token.rstrip() or token


LARGE = 20_000  # characters of two texts past which their common ends are set aside character-wise first
_SEEK = 1_000  # characters walked from a common end to a word boundary, at most
MAX_MIDDLE = 1_000_000  # characters of a changed stretch compared word by word, per side (past it: whole)


def _prefix(a: str, b: str) -> int:
    """Length of the common beginning of two texts, compared a block at a time (C speed)."""
    n, k = min(len(a), len(b)), 0
    while k < n and a[k:k + 4096] == b[k:k + 4096]:
        k += 4096
    k = min(k, n)
    while k < n and a[k] == b[k]:
        k += 1
    return k


def _boundary(text: str, i: int) -> bool:
    """A token boundary whatever comes after: whitespace before ``i``, a non-space at it."""
    return 0 < i < len(text) and text[i - 1].isspace() and not text[i].isspace()


def _trim(a: str, b: str) -> tuple[int, int]:
    """Characters of the common beginning and end of two texts, each cut back to a token boundary
    that lies inside the common part (so both texts have it, and tokenizing the middle alone gives
    the middle's tokens of the whole)."""
    k = _prefix(a, b)
    p = k - 1  # a[p] is common too: a boundary at p is one in b
    while p > max(0, k - 1 - _SEEK) and not _boundary(a, p):
        p -= 1
    p = p if _boundary(a, p) else 0
    ra, rb = a[p:], b[p:]
    s = _prefix(ra[::-1], rb[::-1])
    q = len(ra) - s + 1  # ra[q - 1] is common too
    while q < min(len(ra), len(ra) - s + 1 + _SEEK) and not _boundary(ra, q):
        q += 1
    q = q if _boundary(ra, q) else len(ra)
    return p, len(ra) - q


def word_diff(a: str | None, b: str | None, budget: _Budget | None = None) -> list[Seg]:
    """Word-level difference of two texts (NFC), as segments; coarse (the differing middle removed
    and inserted whole) past the budget."""
    budget = budget or _Budget(TOTAL_CELLS)
    a, b = _nfc(a), _nfc(b)
    if budget.cells < MIN_CELLS and a != b:  # spent: the rest whole, without tokenizing (20,000 captions)
        budget.coarse = True
        return [s for s in (Seg("del", a), Seg("ins", b)) if s.text]
    head = tail = ""
    if len(a) + len(b) > LARGE:
        # two large texts (two 5 MB bodies took 2.7 s of tokens and keys): their common ends set
        # aside by characters, and the middle's cost bounded before its keys are made: by its words
        # (fewer than its tokens), then by its tokens (less the few in the stretches left to a boundary)
        p, s = _trim(a, b)
        head, tail = b[:p], b[len(b) - s:]
        a, b = a[p:len(a) - s], b[p:len(b) - s]
        cells = min(PAIR_CELLS, budget.cells)
        coarse = max(len(a), len(b)) > MAX_MIDDLE or len(a.split()) * len(b.split()) > cells
        if not coarse:
            ta, tb = _TOKEN.findall(a), _TOKEN.findall(b)
            coarse = max(len(ta) - 2 * _SEEK, 0) * max(len(tb) - 2 * _SEEK, 0) > cells
        if coarse:
            budget.coarse = True
            return _merge([Seg("same", head), Seg("del", a), Seg("ins", b), Seg("same", tail)])
    else:
        ta, tb = _TOKEN.findall(a), _TOKEN.findall(b)
    ka, kb = [_key(t) for t in ta], [_key(t) for t in tb]
    pre, suf = _common_ends(ka, kb)
    mid_a, mid_b = ta[pre:len(ta) - suf], tb[pre:len(tb) - suf]
    segs = [Seg("same", head + "".join(tb[:pre]))]  # the same words, spaced as in the newer text
    if mid_a and mid_b and budget.take(len(mid_a) * len(mid_b)):
        matcher = difflib.SequenceMatcher(None, ka[pre:len(ka) - suf], kb[pre:len(kb) - suf], autojunk=False)
        for op, i1, i2, j1, j2 in matcher.get_opcodes():
            if op == "equal":
                segs.append(Seg("same", "".join(mid_b[j1:j2])))
            else:
                segs.append(Seg("del", "".join(mid_a[i1:i2])))
                segs.append(Seg("ins", "".join(mid_b[j1:j2])))
    else:
        segs += [Seg("del", "".join(mid_a)), Seg("ins", "".join(mid_b))]
    segs.append(Seg("same", "".join(tb[len(tb) - suf:]) + tail))
    return _merge(segs)


def paragraphs(text: str | None) -> list[str]:
    return [p.strip() for p in _nfc(text).split("\n\n") if p.strip()]


def _repeats(a: Sequence[Any], b: Sequence[Any]) -> int:
    """The matcher's work over units, measured before it runs: for each unit of ``a``, the places
    of ``b`` that hold it (distinct paragraphs: one each; 5,000 paragraphs of two kinds, alternating:
    12,500,000, and 3.6 s in difflib)."""
    counts: dict[Any, int] = {}
    for unit in b:
        counts[unit] = counts.get(unit, 0) + 1
    return sum(counts.get(unit, 0) for unit in a)


def _unit_opcodes(a: Sequence[Any], b: Sequence[Any]) -> tuple[list[tuple[str, int, int, int, int]], bool]:
    """difflib opcodes over whole units (paragraphs, items), and whether they are coarse: past
    MAX_UNITS the middle between the common beginning and end is one replacement."""
    pre, suf = _common_ends(a, b)
    ops: list[tuple[str, int, int, int, int]] = [("equal", 0, pre, 0, pre)] if pre else []
    coarse = len(a) - pre - suf > MAX_UNITS or len(b) - pre - suf > MAX_UNITS or _repeats(
        a[pre:len(a) - suf], b[pre:len(b) - suf]) > PAIR_CELLS
    if coarse:
        ops.append(("replace", pre, len(a) - suf, pre, len(b) - suf))
    else:
        matcher = difflib.SequenceMatcher(None, a[pre:len(a) - suf], b[pre:len(b) - suf], autojunk=False)
        for op, i1, i2, j1, j2 in matcher.get_opcodes():
            ops.append((op, i1 + pre, i2 + pre, j1 + pre, j2 + pre))
    if suf:
        ops.append(("equal", len(a) - suf, len(a), len(b) - suf, len(b)))
    return ops, coarse


def body_diff(a: str | None, b: str | None, budget: _Budget) -> list[Block]:
    """Paragraph by paragraph; inside a changed stretch of paragraphs, word by word (a paragraph
    split or joined shows as such). Unchanged paragraphs far from any change are left out."""
    pa, pb = paragraphs(a), paragraphs(b)
    ops, coarse = _unit_opcodes(pa, pb)
    blocks: list[Block] = []
    for op, i1, i2, j1, j2 in ops:
        if op == "equal":
            blocks.extend(Block([Seg("same", p)]) for p in pa[i1:i2])
        elif op == "delete":
            blocks.extend(Block([Seg("del", p)]) for p in pa[i1:i2])
        elif op == "insert":
            blocks.extend(Block([Seg("ins", p)]) for p in pb[j1:j2])
        elif coarse:  # past MAX_UNITS: the stretch removed and inserted, paragraph by paragraph
            budget.coarse = True
            blocks.extend([Block([Seg("del", p)]) for p in pa[i1:i2]] + [Block([Seg("ins", p)]) for p in pb[j1:j2]])
        elif i2 - i1 == j2 - j1:  # the same number of paragraphs: each against its counterpart
            blocks.extend(Block(word_diff(x, y, budget)) for x, y in zip(pa[i1:i2], pb[j1:j2], strict=True))
        else:  # split or joined: the stretch as one text, paragraph breaks as tokens
            blocks.extend(_split_blocks(word_diff("\n\n".join(pa[i1:i2]), "\n\n".join(pb[j1:j2]), budget)))
    return _elide(blocks)


def _split_blocks(segs: list[Seg]) -> list[Block]:
    """Segments of a text with paragraph breaks in it, cut into paragraphs (a removed or inserted
    break ends the paragraph as well, marked ¶ as removed or inserted: the reader sees both sides'
    paragraphs)."""
    blocks = [Block()]
    for s in segs:
        parts = re.split(r"\s*\n\n\s*", s.text)
        for n, part in enumerate(parts):
            if n:
                if s.op != "same":
                    blocks[-1].segs.append(Seg(s.op, "¶"))
                blocks.append(Block())
            if part:
                blocks[-1].segs.append(Seg(s.op, part))
    return [b for b in blocks if b.segs]


def _elide(blocks: list[Block]) -> list[Block]:
    keep = [False] * len(blocks)
    for i, b in enumerate(blocks):
        if b.changed:
            for k in range(max(0, i - CONTEXT), min(len(blocks), i + CONTEXT + 1)):
                keep[k] = True
    out: list[Block] = []
    for b, k in zip(blocks, keep, strict=True):
        if k:
            out.append(b)
        elif out and out[-1].skipped:
            out[-1].skipped += 1
        else:
            out.append(Block(skipped=1))
    return out


def list_diff(a: Sequence[str] | None, b: Sequence[str] | None) -> list[Block]:
    """Item by item (authors, tags, breadcrumb): each item a block, kept, removed or added."""
    la, lb = [_nfc(x) for x in a or []], [_nfc(x) for x in b or []]
    ops, _ = _unit_opcodes(la, lb)
    out: list[Block] = []
    for op, i1, i2, j1, j2 in ops:
        if op == "equal":
            out.extend(Block([Seg("same", x)]) for x in la[i1:i2])
            continue
        out.extend(Block([Seg("del", x)]) for x in la[i1:i2])
        out.extend(Block([Seg("ins", x)]) for x in lb[j1:j2])
    return out


NO_CAPTION = "(không có chú thích)"


def _image_line(image: Any) -> tuple[str, str]:
    if not isinstance(image, dict):
        return str(image), ""
    return str(image.get("src") or ""), _nfc(image.get("caption") or "")


def images_diff(a: Sequence[Any] | None, b: Sequence[Any] | None, budget: _Budget) -> list[Block]:
    """Image by image, matched by address; a kept image whose caption changed shows the caption's
    words. Each block: the caption's segments, and the image's address as ``src``."""
    ia, ib = [_image_line(x) for x in a or []], [_image_line(x) for x in b or []]
    ops, _ = _unit_opcodes([s for s, _ in ia], [s for s, _ in ib])
    out: list[Block] = []

    def whole(op: str, item: tuple[str, str]) -> Block:
        return Block([Seg(op, item[1] or NO_CAPTION)], src=item[0])

    for op, i1, i2, j1, j2 in ops:
        if op == "equal":
            for x, y in zip(ia[i1:i2], ib[j1:j2], strict=True):
                caption = word_diff(x[1], y[1], budget) if x[1] != y[1] else [Seg("same", x[1] or NO_CAPTION)]
                out.append(Block(caption, src=y[0]))
            continue
        out.extend(whole("del", x) for x in ia[i1:i2])
        out.extend(whole("ins", y) for y in ib[j1:j2])
    return out


def _scalar(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


def record_diff(a: dict[str, Any], b: dict[str, Any], *, cells: int = TOTAL_CELLS) -> list[FieldDiff]:
    """Every field of the record (``fetched_at`` too: it is when each version was archived), in
    the record's order; unchanged fields are included with ``changed=False``."""
    budget = _Budget(cells)
    out: list[FieldDiff] = []
    for name in FIELDS:
        before, after = a.get(name), b.get(name)
        changed = before != after
        coarse_before = budget.coarse
        budget.coarse = False
        if name == "body_text":
            blocks = body_diff(before, after, budget) if changed else []
            kind = "body"
        elif name == "images":
            blocks = images_diff(before, after, budget)
            kind = "images"
        elif name in ("authors", "tags", "breadcrumb"):
            blocks, kind = list_diff(before, after), "list"
        else:
            text_a, text_b = _scalar(before), _scalar(after)
            if not changed:
                segs = [Seg("same", text_a)]
            elif name.endswith("_at"):  # a time is one value: shown whole, the old then the new
                segs = _merge([Seg("del", text_a), Seg("ins", text_b)])
            else:
                segs = word_diff(text_a, text_b, budget)
            blocks = [Block(segs)]
            kind = "text"
        note = COARSE_NOTE if budget.coarse else None
        if len(blocks) > MAX_SHOWN:  # a hostile record's 20,000 changed tags took 2.6 s to render
            hidden = sum(1 for b in blocks[MAX_SHOWN:] if b.changed)
            blocks = blocks[:MAX_SHOWN]
            if hidden:
                note = "; ".join(x for x in (note, SHOWN_NOTE.format(n=f"{hidden:,}".replace(",", "."))) if x)
        budget.coarse = coarse_before or budget.coarse
        out.append(FieldDiff(name, LABELS.get(name, name), changed, blocks, kind, note))
    return out


__all__ = ["Block", "FieldDiff", "Seg", "body_diff", "images_diff", "list_diff", "paragraphs", "record_diff",
           "tokens", "word_diff"]
