"""The article record (shared/spec/record.md): its fields, and what counts as its content."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from .text import collapse

FIELDS: tuple[str, ...] = (
    "url",
    "site",
    "article_id",
    "kind",
    "title",
    "sapo",
    "dateline",
    "authors",
    "published_at",
    "modified_at",
    "section",
    "breadcrumb",
    "tags",
    "body_text",
    "images",
    "source",
    "language",
    "extractor",
    "extractor_version",
    "fetched_at",
)
LIST_FIELDS = frozenset({"authors", "breadcrumb", "tags", "images"})
KINDS = ("article", "longform", "video", "podcast", "photo")

# The content of an article (record.md, "Revisions"): a change elsewhere is not a new version.
CONTENT_FIELDS: tuple[str, ...] = (
    "title",
    "sapo",
    "dateline",
    "authors",
    "published_at",
    "section",
    "tags",
    "body_text",
    "images",
)


def content_hash(record: dict[str, Any]) -> str:
    """Hash of the content tuple, with every whitespace run in the body collapsed, so that a
    whitespace-only or paragraph-split edit is not a revision."""
    content = {k: record.get(k) for k in CONTENT_FIELDS}
    content["body_text"] = collapse(content["body_text"] or "")
    blob = json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def ordered(record: dict[str, Any]) -> dict[str, Any]:
    """The record with exactly the spec's fields, in the spec's order."""
    return {k: record.get(k, [] if k in LIST_FIELDS else None) for k in FIELDS}


# What a re-extraction of the same page may change without the article having changed.
_DERIVATION_FIELDS = frozenset({"fetched_at", "extractor", "extractor_version"})


def same_record(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether two records of one page say the same thing (who derived them, and when, aside)."""
    return all(a.get(k) == b.get(k) for k in FIELDS if k not in _DERIVATION_FIELDS)
