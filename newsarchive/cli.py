"""The ``newsarchive`` command: a thin layer over the library. Errors are one line, never a traceback.

Exit codes: 0 success; 1 ordinary failure (unreachable, HTTP error, not an article, unreadable
file, an archive that cannot be read); 2 bad usage; 3 robots.txt forbids the URL; 7 the archive
cannot be written (read-only, locked, full) by a command that writes it.
"""

from __future__ import annotations

import base64
import csv
import json
import math
import os
import re
import shlex
import sqlite3
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click

from . import __version__
from .extract import ExtractorError, NotAnArticle, extract
from .store import DEFAULT_DB, Archive, RawPage, StorageError, busy_timeout, default_db_path

EXIT_FAIL = 1
EXIT_USAGE = 2
EXIT_STORAGE = 7  # the archive cannot be written (as for crawl)
EXIT_ROBOTS = 3


class Failure(click.ClickException):
    """One clear line on stderr and a chosen exit code."""

    def __init__(self, message: str, code: int = EXIT_FAIL) -> None:
        super().__init__(" ".join(message.split()))  # always one line
        self.exit_code = code

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


# ctx.meta key: the archive this command opened, and whether for writing (decides the exit code)
_OPENED = "newsarchive.archive"
# SQLite's codes for a file that is damaged or not a database at all: it cannot be read
_UNREADABLE = frozenset({sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB})


def archive_failure(exc: BaseException, writes: bool | None = None) -> Failure:
    """The one line for an archive that cannot be used: exit 1 when it cannot be read (damaged,
    not SQLite, missing), 7 when a command that writes it cannot (read-only, locked, full)."""
    opened = _opened()
    if writes is None:
        writes = bool(opened and opened[1])
    cause: BaseException | None = exc
    while cause is not None and not isinstance(cause, sqlite3.Error):
        cause = cause.__cause__ or cause.__context__
    code = getattr(cause, "sqlite_errorcode", None)
    message = str(exc) if isinstance(exc, StorageError) else f"archive {opened[0] if opened else ''}: {exc}"
    if code is not None and code & 0xFF in _UNREADABLE:
        return Failure(f"{message} (the file is damaged or not a newsarchive database; it was left as it is)")
    if code is not None and code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        message += f" (another process held it for more than {busy_timeout():g} s)"
    return Failure(message, EXIT_STORAGE if writes and "no archive at" not in message else EXIT_FAIL)


def _opened() -> tuple[Path, bool] | None:
    ctx = click.get_current_context(silent=True)
    return ctx.meta.get(_OPENED) if ctx else None


class Commands(click.Group):
    """Any archive fault that surfaces in a command (a page damaged past the header, a lock) is one
    line and the README's exit code, not a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except sqlite3.ProgrammingError:
            raise  # a bug, not the archive
        except (sqlite3.DatabaseError, StorageError) as exc:
            raise archive_failure(exc) from exc


def db_option(f: Any) -> Any:
    return click.option(
        "--db",
        "db_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        envvar="NEWSARCHIVE_DB",
        metavar="PATH",
        help=f"Archive database file [default: $NEWSARCHIVE_DB if set, else {DEFAULT_DB} under the current"
             " directory]. Its directory must exist: only the default's is created.",
    )(f)


def archive_path(db_path: Path | None) -> Path:
    """The archive a command uses: --db (or $NEWSARCHIVE_DB, which click reads for it), else
    data/archive.db under the current directory. Only that default is created with its directory:
    a path into a directory that does not exist is a mistake (a typo would start a second archive
    somewhere), one line and exit 2, for every command."""
    path = db_path or default_db_path()
    if path != DEFAULT_DB and not path.parent.is_dir():
        ctx = click.get_current_context(silent=True)
        source = ctx.get_parameter_source("db_path") if ctx else None
        given = "$NEWSARCHIVE_DB" if source is click.core.ParameterSource.ENVIRONMENT else "--db"
        raise Failure(f"{given} {path}: the directory {path.parent} does not exist (create it first; only the"
                      f" default {DEFAULT_DB} is created with its directory)", EXIT_USAGE)
    return path


def open_archive(db_path: Path | None, readonly: bool = False) -> Archive:
    path = archive_path(db_path)
    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        ctx.meta[_OPENED] = (path, not readonly or bool(ctx.meta.get(_OPENED, (path, False))[1]))
    try:
        return Archive(path, readonly=readonly)
    except StorageError as exc:
        raise archive_failure(exc, not readonly) from exc


def check_archive(db_path: Path | None, readonly: bool = False) -> None:
    """Open and close the archive: a command that works long before it stores anything (a crawl,
    the demo, a server) fails at once on an archive it could not use."""
    open_archive(db_path, readonly).close()


VN = timezone(timedelta(hours=7))  # the sites' offset: dates without one are read at +07:00
DATE_FORMS = ("YYYY-MM-DD (midnight at +07:00), ISO 8601 (2026-11-20T08:30:00+07:00, or Z; without an offset"
              " +07:00), 7d / 12h / 30m / 2w ago, yesterday or today (midnight at +07:00)")
DATE_HELP = "YYYY-MM-DD, ISO 8601, 7d / 12h / 30m / 2w ago, yesterday or today (+07:00 unless an offset is given)"
_RELATIVE = re.compile(r"(\d{1,6})\s*([wdhm])")
_UNITS = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes"}


def parse_date(value: str, now: datetime | None = None) -> str:
    """One date option's value as ISO 8601 with its offset (``ValueError`` for anything else):
    ``YYYY-MM-DD`` (midnight at +07:00); full ISO 8601 (``Z`` or an offset; none means +07:00);
    ``7d``, ``12h``, ``30m``, ``2w`` before now; ``today`` and ``yesterday`` (midnight at +07:00)."""
    text = value.strip().lower()
    now = (now or datetime.now(UTC)).astimezone(VN).replace(microsecond=0)
    if text in ("today", "yesterday"):
        day = now.replace(hour=0, minute=0, second=0)
        return (day - timedelta(days=1) if text == "yesterday" else day).isoformat()
    if m := _RELATIVE.fullmatch(text):
        return (now - timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})).isoformat()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        text += "t00:00:00"
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}[t ]\d{2}:\d{2}.*", text):
        raise ValueError(value)
    dt = datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
    return (dt if dt.tzinfo else dt.replace(tzinfo=VN)).isoformat()


class DateType(click.ParamType):
    """The type of every date option (--since, --until): its value becomes ISO 8601 with an offset;
    anything else is a usage error (exit 2) naming the option and the accepted forms."""

    name = "date"

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        return "DATE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        if isinstance(value, DateValue):
            return value
        try:
            return DateValue(parse_date(str(value)), str(value))
        except (ValueError, OverflowError):
            self.fail(f"{value!r} is not a date; use {DATE_FORMS}", param, ctx)


class DateValue(str):
    """A date option's ISO 8601 value that remembers how it was written: ``crawl --every`` hands
    ``--since 7d`` on to each run as written, so the cut-off moves with time."""

    given: str

    def __new__(cls, iso: str, given: str) -> DateValue:
        value = super().__new__(cls, iso)
        value.given = given
        return value


DATE = DateType()


class SiteType(click.ParamType):
    """``--site``: any spelling of a site (a registry key, a host, host:port, a base URL) becomes the
    site's one identity (sites.SiteRef.key); when the spelling was another, stderr says which."""

    name = "site"

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        return "SITE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        from .sites import resolve

        try:
            ref = resolve(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)
        if str(value).strip() != ref.key:
            click.echo(f"site: {ref.describe()}", err=True)
        return ref.key


SECTION_HELP = ("Only this section, e.g. 'Xã hội' or 'xa hoi' (case and diacritics folded); a parent section"
                " includes its children.")
AUTHOR_HELP = "Only articles credited to this person, e.g. 'mai que' for MAI QUẾ (case and diacritics folded)."
SITE_HELP = "Only this site: a key of 'newsarchive sites', a host (baonghean.vn, 127.0.0.1:8123) or a base URL."


def emit_json(obj: Any) -> None:
    click.echo(json.dumps(obj, ensure_ascii=False, indent=2))


# OWASP, CSV injection: a spreadsheet runs a cell that starts with one of these as a formula
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A CSV cell a spreadsheet opens as text: a string starting with = + - @ tab or CR gets a
    leading ' (numbers stay numbers: -5 from an INTEGER column is data, not a formula); a BLOB is
    its hexadecimal digits, as SQLite's hex() writes them."""
    if isinstance(value, bytes):
        return value.hex().upper()
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


class SafeCSV:
    """csv.writer whose every cell goes through :func:`csv_cell` (all CSV output uses it)."""

    def __init__(self, out: Any) -> None:
        self._writer = csv.writer(out)

    def writerow(self, row: Iterable[Any]) -> None:
        self._writer.writerow([csv_cell(v) for v in row])


BOM = "\ufeff"  # what Excel needs to read a CSV file as UTF-8 (Vietnamese) rather than the locale's code page


def one_format(as_json: bool, as_csv: bool, bom: bool = False) -> None:
    """--json and --csv together is bad usage (exit 2), as is --bom without --csv."""
    if as_json and as_csv:
        raise click.UsageError("--json and --csv cannot be used together: choose one")
    if bom and not as_csv:
        raise click.UsageError("--bom only goes with --csv")


def json_value(value: Any) -> Any:
    """Any SQLite value as JSON: a BLOB as {"$base64": true, "encoded": …} (Datasette's form), an
    infinite REAL as the string "Infinity" or "-Infinity" (JSON has no such number)."""
    if isinstance(value, bytes):
        return {"$base64": True, "encoded": base64.b64encode(value).decode("ascii")}
    if isinstance(value, float) and not math.isfinite(value):
        return str(value).replace("inf", "Infinity")
    return value


def summary(record: dict[str, Any]) -> str:
    """A short readable view of a record (terminal-safe: fields are already free of controls)."""
    lines = [
        record["title"],
        f"  url:       {record['url']}",
        f"  site:      {record['site']}   kind: {record['kind']}   extractor: {record['extractor']}",
        f"  published: {record['published_at'] or '-'}",
        f"  authors:   {', '.join(record['authors']) or '-'}",
        f"  section:   {' > '.join(record['breadcrumb']) or record['section'] or '-'}",
        f"  tags:      {', '.join(record['tags']) or '-'}",
        f"  images:    {len(record['images'])}",
    ]
    if record.get("sapo"):
        lines.append(f"  sapo:      {record['sapo'][:200]}")
    body = record["body_text"]
    lines.append(f"  body:      {len(body)} characters, {body.count(chr(10) + chr(10)) + 1 if body else 0} paragraphs")
    return "\n".join(lines)


def media_of(archive: Archive) -> Any:
    """The media file beside an archive, read-only (an empty one when there is none yet)."""
    from .media import MediaStore, media_path

    try:
        return MediaStore(media_path(archive.path), readonly=True)
    except StorageError as exc:
        raise Failure(str(exc)) from exc


def with_media(record: dict[str, Any], held: Any) -> dict[str, Any]:
    """The record with what the archive holds of each image (sha256, bytes, mime, width, height)."""
    from .media import with_media as merge

    return merge(record, held)


@click.group(cls=Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="newsarchive")
def cli() -> None:
    """Scrape and archive news articles (OneCMS sites first) into one SQLite file."""


def _run_crawl(crawling: Any, *args: Any, **kwargs: Any) -> tuple[str, dict[str, Any]]:
    """``runner.run_crawl``; a Ctrl-C that comes before the crawl installs its own handlers (while
    Scrapy starts) is one line and exit 6, as an interrupted crawl's."""
    try:
        return crawling.run_crawl(*args, **kwargs)
    except KeyboardInterrupt:
        raise Failure("interrupted while the crawl was starting: nothing was fetched",
                      crawling.EXIT_INTERRUPTED) from None


def check_target(target: str) -> None:
    """A URL of another scheme than http(s) (htp://, ftp://, file://, data:) is bad usage, exit 2;
    "c:" is a drive letter, and a saved page whose name has a colon in it is still read."""
    try:
        parts = urlsplit(target)
        scheme = parts.scheme.lower()
        if scheme in ("http", "https"):
            if not parts.hostname:
                raise ValueError("no host")
            parts.port  # noqa: B018  (a port past 65535 or not a number raises here)
            return
    except ValueError as exc:  # "http://[::1" (an unclosed IPv6 literal), "http://", "http://a:x/"
        raise Failure(f"refused: {_short(target, 60)} is not a valid URL ({exc})", EXIT_USAGE) from exc
    if "://" in target or (len(scheme) > 1 and not Path(target).exists()):
        raise Failure(f"refused: {_short(target, 60)} is not an http:// or https:// URL (the only schemes scrape"
                      " accepts) nor a saved page", EXIT_USAGE)


def _scrape(target: str, url: str | None, verbose: bool = False, allow_private: bool = False,
            hosts: dict[str, str] | None = None, hosts_only: bool = False) -> tuple[dict[str, Any], RawPage]:
    scheme = urlsplit(target).scheme.lower()
    now = datetime.now(UTC)
    if scheme in ("http", "https"):
        from .fetch import FetchError, fetch
        from .netguard import refusal

        # a literal address is judged here; a name when it is resolved for the connection itself
        # (GuardedResolver), so that a second lookup cannot answer differently
        reason = None if allow_private else refusal(target, resolver=None)
        if reason:
            raise Failure(reason)
        host = (urlsplit(target).hostname or "").lower()
        overrides = {
            # Scrapy's own log lines would break the one-line error contract: --verbose shows them
            "LOG_LEVEL": "INFO" if verbose else "CRITICAL",
            # --allow-private is for the server named in the URL, not for wherever it redirects
            "NEWSARCHIVE_ALLOW_PRIVATE": [host] if allow_private else False,
            "NEWSARCHIVE_HOSTS": hosts or {},
            "NEWSARCHIVE_HOSTS_ONLY": hosts_only,
        }
        try:
            got = fetch(target, overrides)
        except FetchError as exc:
            raise Failure(str(exc), EXIT_ROBOTS if exc.kind == "robots" else EXIT_FAIL) from exc
        page = RawPage(got.url, got.body, got.status, got.headers, None)
        try:
            record = extract(got.body, got.url, headers=got.headers, fetched_at=now)
        except NotAnArticle as exc:
            raise Failure(f"not an article: {got.url} ({exc})") from exc
        except ExtractorError as exc:
            raise Failure(f"{exc} (a bug in the extractor: please report it with the page)") from exc
        return record, page
    check_target(target)
    path = Path(target)
    try:
        body = path.read_bytes()
    except OSError as exc:
        raise Failure(f"cannot read {target}: {exc.strerror or exc}") from exc
    base = url or path.resolve().as_uri()
    try:
        record = extract(body, base, fetched_at=now)
    except NotAnArticle as exc:
        raise Failure(f"not an article: {target} ({exc})") from exc
    except ExtractorError as exc:
        raise Failure(f"{exc} (a bug in the extractor: please report it with the page)") from exc
    if not record["url"].startswith(("http://", "https://")):
        raise Failure(f"{target} has no canonical link: give its address with --url")
    return record, RawPage(url or record["url"], body, None, None, record["fetched_at"])


@cli.command()
@click.argument("target", metavar="URL_OR_FILE")
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print exactly the record object (JSON).")
@click.option("--no-store", is_flag=True, help="Print the record without archiving it.")
@click.option("--url", help="The address of a saved page that has no canonical link.")
@click.option("-v", "--verbose", is_flag=True, help="Show Scrapy's log on stderr.")
@click.option("--allow-private", is_flag=True,
              help="Allow a private, loopback or link-local address for the URL's own host (refused by default).")
@click.option("--resolve", "resolve_entries", multiple=True, metavar="HOST:ADDRESS",
              help="Use ADDRESS for HOST without asking DNS (repeatable), like curl --resolve.")
@click.option("--resolve-only", is_flag=True, help="Fail names not given with --resolve instead of asking DNS.")
def scrape(target: str, db_path: Path | None, as_json: bool, no_store: bool, url: str | None, verbose: bool,
           allow_private: bool, resolve_entries: tuple[str, ...], resolve_only: bool) -> None:
    """Fetch one article URL (or read a saved .html file), print its record and archive it.

    Private, loopback and link-local addresses are refused unless --allow-private is given,
    judged on the address connected to (redirects included).
    Exit codes: 0 archived (or printed), 1 failure (unreachable, HTTP error, not an article,
    unreadable file, refused address, an archive that cannot be read), 2 bad usage (a URL whose
    scheme is not http or https, as htp:// or ftp://; --db into a missing directory), 3 robots.txt
    forbids the URL, 7 the archive cannot be written (read-only, locked, full)."""
    from .netguard import parse_hosts

    if url and urlsplit(url).scheme.lower() not in ("http", "https"):
        raise click.BadParameter("--url must be an http(s) address", param_hint="--url")
    try:
        hosts = parse_hosts(list(resolve_entries))
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--resolve") from exc
    check_target(target)
    with ExitStack() as stack:
        # opened first: an archive that cannot take the record fails before anything is fetched
        archive = None if no_store else stack.enter_context(open_archive(db_path))
        record, page = _scrape(target, url, verbose, allow_private, hosts, resolve_only)
        if as_json:
            emit_json(record)
        else:
            click.echo(summary(record))
        if archive is None:
            return
        try:
            result = archive.save(record, page)
        except StorageError as exc:
            raise archive_failure(exc) from exc
    click.echo(f"archived as id {result.id} ({result.status}, {result.revision_count} revision(s)) in {archive.path}",
               err=True)


@cli.command()
@click.argument("target", metavar="URL_OR_ID")
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print the record object (JSON).")
@click.option("--revisions", is_flag=True, help="Include every stored version, oldest first.")
@click.option("--diff", is_flag=True,
              help="What changed between two versions, field by field (text, lists, dates, images and captions).")
@click.option("--from", "rev_from", type=int, help="With --diff: the older version [default: the one before --to].")
@click.option("--to", "rev_to", type=int, help="With --diff: the newer version [default: the current one].")
def show(target: str, db_path: Path | None, as_json: bool, revisions: bool, diff: bool, rev_from: int | None,
         rev_to: int | None) -> None:
    """Show an archived article by its URL (any URL it was reached by) or its archive id."""
    with open_archive(db_path, readonly=True) as archive:
        article = archive.resolve(target)
        if article is None:
            raise Failure(f"not in the archive: {target}")
        record = archive.record(article)
        revs = archive.revisions(article) if revisions or diff else []
        held = media_of(archive)
        failures: dict[str, tuple[str, int]] = {}
        if record is not None:
            record = with_media(record, held)
            failures = held.failures(i["src"] for i in record["images"])
        held.close()
    assert record is not None
    if diff:
        click.echo(revision_diff(revs, rev_from, rev_to), nl=False)
        return
    if as_json:
        emit_json({"record": record, "revisions": revs} if revisions else record)
        return
    click.echo(f"[{article}] " + summary(record))
    for n, image in enumerate(record["images"], 1):  # each image, its caption, and whether it is held
        if image.get("sha256"):
            size = f"{image['width']}x{image['height']} " if image["width"] else ""
            state = f"held: {size}{image['mime']}, {image['bytes']:,} bytes, sha256 {image['sha256']}"
        elif image["src"] in failures:
            state = f"not held: {failures[image['src']][0]} ({failures[image['src']][1]} attempt(s))"
        else:
            state = "not held"
        click.echo(f"    {n}. {image['src']}")
        click.echo(f"       caption: {image['caption'] or '(no caption)'}")
        click.echo(f"       {state}")
    for rev in revs:
        click.echo(f"  revision {rev['revision']}: {rev['reason']} at {rev['fetched_at']}")
    if not revisions:
        click.echo("")
        click.echo(record["body_text"])


def revision_diff(revs: list[dict[str, Any]], rev_from: int | None, rev_to: int | None) -> str:
    """What changed between two versions, for every field of the record but fetched_at (in the
    header): a field name line, then "-" lines for what was removed and "+" lines for what was
    added. Text by paragraph (a unified diff of the paragraphs); lists (authors, tags, breadcrumb)
    by item; images as "src | caption", so that a changed caption shows. An article with one
    version has nothing to compare: said so, not an error."""
    by_number = {r["revision"]: r for r in revs}
    if len(revs) < 2:
        only = revs[0] if revs else None
        return ("only one version of this article" + (f" (version {only['revision']}, {only['reason']}, fetched"
                                                      f" {only['fetched_at']})" if only else "")
                + ": nothing to compare\n")
    new = rev_to if rev_to is not None else revs[-1]["revision"]
    old = rev_from if rev_from is not None else new - 1
    if old not in by_number or new not in by_number or old >= new:
        available = ", ".join(str(n) for n in by_number) or "none"
        raise Failure(f"no such pair of versions {old}..{new} (this article has versions {available})")
    a, b = by_number[old], by_number[new]
    out = [f"version {old} ({a['reason']}, {a['fetched_at']}) → version {new} ({b['reason']}, {b['fetched_at']})\n"]
    from .record import FIELDS

    for field in FIELDS:
        if field == "fetched_at":
            continue
        lines = field_diff(field, a["record"].get(field), b["record"].get(field))
        if lines:
            out.append(f"{field}:\n")
            out.extend(line + "\n" for line in lines)
    if len(out) == 1:
        out.append("(no difference in any field)\n")
    return "".join(out)


def field_diff(field: str, before: Any, after: Any) -> list[str]:
    """The lines of one field's change ("-" removed, "+" added); none when it did not change."""
    import difflib

    if before == after:
        return []
    if field == "images":
        before = [f"{i.get('src')} | {i.get('caption') or '(no caption)'}" for i in before or []]
        after = [f"{i.get('src')} | {i.get('caption') or '(no caption)'}" for i in after or []]
    if isinstance(before, list) or isinstance(after, list):
        before, after = [str(x) for x in before or []], [str(x) for x in after or []]
        removed = [x for x in before if x not in after]
        added = [x for x in after if x not in before]
        if not removed and not added:  # the same items in another order
            return ["-" + ", ".join(before) + "  (order)", "+" + ", ".join(after) + "  (order)"]
        return [f"-{x}" for x in removed] + [f"+{x}" for x in added]
    old_text = "(none)" if before is None else str(before)
    new_text = "(none)" if after is None else str(after)
    if "\n" not in old_text + new_text:
        return [f"-{old_text}", f"+{new_text}"]
    paragraphs = ([p for p in text.split("\n") if p.strip()] for text in (old_text, new_text))
    lines = difflib.unified_diff(*paragraphs, lineterm="", n=1)
    return [line for line in lines if not line.startswith(("---", "+++"))]


def check_output(output: Path | None) -> None:
    """-o into a directory that does not exist is bad usage (exit 2), said before anything is read."""
    if output is not None and not output.parent.is_dir():
        raise Failure(f"-o {output}: the directory {output.parent} does not exist", EXIT_USAGE)


@contextmanager
def output_stream(output: Path | None, binary: bool = False, bom: bool = False) -> Iterator[Any]:
    """stdout, or the file -o names, written whole or not at all: into a temporary file beside it,
    renamed over it once everything is written, so a failure part way leaves no half-written file
    (and an older file of that name as it was). What is not a regular file (/dev/null, a pipe) is
    written directly. A write that fails is one line, exit 1."""
    check_output(output)
    if output is None:
        sys.stdout.flush()
        stream = open(sys.stdout.fileno(), "wb", closefd=False) if binary else sys.stdout
        try:
            if bom:
                stream.write(BOM)
            yield stream
        except OSError as exc:
            raise Failure(f"cannot write to stdout: {exc.strerror or exc}") from exc
        finally:
            if binary:
                stream.close()
        return
    if output.exists() and not output.is_file():
        try:
            with output.open("wb") if binary else output.open("w", encoding="utf-8", newline="") as stream:
                if bom:
                    stream.write(BOM)
                yield stream
        except OSError as exc:
            raise Failure(f"cannot write {output}: {exc.strerror or exc}") from exc
        return
    final = Path(os.path.realpath(output))
    partial = final.with_name(f".{final.name}.{os.getpid()}.part")
    try:
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding="utf-8", newline="") as stream:
            if bom:
                stream.write(BOM)
            yield stream
        if final.exists():
            os.chmod(partial, final.stat().st_mode & 0o7777)
        os.replace(partial, final)
    except OSError as exc:
        raise Failure(f"cannot write {output}: {exc.strerror or exc} (nothing was written)") from exc
    finally:
        partial.unlink(missing_ok=True)


def _export_warc(archive: Archive, output: Path | None, wanted: set[int] | None, filters: dict[str, Any]) -> None:
    from .warc import export_warc

    if output is None and sys.stdout.isatty():
        raise Failure("a WARC is binary: give -o FILE (or redirect stdout)", EXIT_USAGE)
    ids = (a for batch in archive.id_batches(500, **filters) for a in batch if wanted is None or a in wanted)
    held = media_of(archive)
    with output_stream(output, binary=True) as out:
        n = export_warc(archive, out, ids, media=held)
    held.close()
    click.echo(f"wrote {n} records (pages and media){f' to {output}' if output else ''}", err=True)


CSV_COLUMNS = ("id", "url", "site", "article_id", "kind", "title", "sapo", "dateline", "authors", "published_at",
               "modified_at", "section", "breadcrumb", "tags", "body_text", "image_urls", "image_captions", "source",
               "language", "extractor", "extractor_version", "fetched_at")
CSV_LIST = "; "  # authors, breadcrumb, tags
CSV_IMAGES = " | "  # image_urls, image_captions (captions often hold a ";")


def csv_row(article: int, rec: dict[str, Any]) -> list[Any]:
    """One article as the CSV columns: lists joined, images as two aligned columns."""
    row = {"id": article, **rec}
    for key in ("authors", "breadcrumb", "tags"):
        row[key] = CSV_LIST.join(rec[key])
    row["image_urls"] = CSV_IMAGES.join(i["src"] for i in rec["images"])
    captions = [" ".join((i["caption"] or "").split()) for i in rec["images"]]
    row["image_captions"] = CSV_IMAGES.join(captions) if any(captions) else ""
    return [row[c] for c in CSV_COLUMNS]


@cli.command()
@db_option
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv", "warc"]), default="jsonl", show_default=True,
              help="warc: the stored raw pages (headers, bodies, fetch times) as a gzipped WARC 1.1 file.")
@click.option("--since", type=DATE, help=f"Published at or after this date: {DATE_HELP}.")
@click.option("--until", type=DATE, help=f"Published before this date: {DATE_HELP}.")
@click.option("--site", type=SiteType(), help=SITE_HELP)
@click.option("--section", help=SECTION_HELP)
@click.option("--author", help=AUTHOR_HELP)
@click.option("--query", help="Only articles matching this search query (newsarchive search syntax).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to this file, not stdout: whole or not at all (its directory must exist).")
@click.option("--bom/--no-bom", default=None,
              help="CSV: start with a UTF-8 BOM, which Excel needs to show Vietnamese [default: --bom with -o FILE,"
                   " --no-bom on stdout].")
def export(db_path: Path | None, fmt: str, since: str | None, until: str | None, site: str | None,
           section: str | None, author: str | None, query: str | None, output: Path | None,
           bom: bool | None) -> None:
    """Export archived articles: JSONL (one record object per line), CSV (one row per article) or
    WARC (the raw pages they were extracted from). Takes the filters of 'newsarchive search'.

    CSV: lists (authors, breadcrumb, tags) are joined with "; "; images are two columns,
    image_urls and image_captions, each joined with " | " (the nth caption belongs to the nth
    image, empty when it has none). A cell starting with = + - @ tab or CR gets a leading ' (no
    spreadsheet formulas)."""
    since_v, until_v = since, until
    if bom is not None and fmt != "csv":
        raise click.UsageError("--bom and --no-bom only go with --format csv")
    check_output(output)
    with open_archive(db_path, readonly=True) as archive:
        wanted: set[int] | None = None
        if query:
            from .store import search as fts

            try:
                wanted = set(fts.search(archive.conn, query, limit=10**9, sort="newest"))
            except fts.QueryError as exc:
                raise Failure(str(exc)) from exc
        if fmt == "warc":
            _export_warc(archive, output, wanted, dict(since=since_v, until=until_v, site=site, section=section,
                                                       author=author))
            return
        held = media_of(archive) if fmt == "jsonl" else None
        with output_stream(output, bom=fmt == "csv" and (bom if bom is not None else output is not None)) as out:
            writer = SafeCSV(out) if fmt == "csv" else None
            if writer:
                writer.writerow(CSV_COLUMNS)
            for article, rec in archive.records(since=since_v, until=until_v, site=site, section=section,
                                                author=author):
                if wanted is not None and article not in wanted:
                    continue
                if writer is None:
                    out.write(json.dumps(with_media(rec, held), ensure_ascii=False) + "\n")
                    continue
                writer.writerow(csv_row(article, rec))


@cli.command()
@click.argument("query")
@db_option
@click.option("--site", type=SiteType(), help=SITE_HELP)
@click.option("--section", help=SECTION_HELP)
@click.option("--author", help=AUTHOR_HELP)
@click.option("--since", type=DATE, help=f"Published at or after this date: {DATE_HELP}.")
@click.option("--until", type=DATE, help=f"Published before this date: {DATE_HELP}.")
@click.option("--limit", type=click.IntRange(min=1, max=10000), default=20, show_default=True)
@click.option("--sort", type=click.Choice(["relevance", "newest"]), default="relevance", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="A JSON array of hits.")
@click.option("--csv", "as_csv", is_flag=True,
              help="CSV, one hit per row (a cell starting with = + - @ tab or CR gets a leading ').")
@click.option("--bom", is_flag=True, help="With --csv: start with a UTF-8 BOM (for Excel).")
@click.option("--highlight", is_flag=True,
              help="Wrap the matched words of each snippet in <mark>…</mark> [default: plain text; bold on a"
                   " terminal].")
def search(query: str, db_path: Path | None, site: str | None, section: str | None, author: str | None,
           since: str | None, until: str | None, limit: int, sort: str, as_json: bool, as_csv: bool, bom: bool,
           highlight: bool) -> None:
    """Full-text search of titles, sapos, bodies and captions, with or without diacritics
    ("dien bien" finds "Điện Biên"). Quoted phrases, AND / OR / NOT and prefix* work; a query typed
    with diacritics ranks the exact-accent matches first."""
    from .store import search as fts

    one_format(as_json, as_csv, bom)
    if highlight:
        marks = ("<mark>", "</mark>")
    elif sys.stdout.isatty() and not (as_json or as_csv):
        marks = (click.style("", bold=True, reset=False), click.style("", reset=True))
    else:
        marks = ("", "")
    filters = fts.Filters(site, section, author, since, until)
    with open_archive(db_path, readonly=True) as archive:
        try:
            q = fts.parse_query(query)
            ids = fts.search(archive.conn, query, limit=limit, sort=sort, filters=filters)
        except fts.QueryError as exc:
            raise Failure(str(exc)) from exc
        hits = []
        for article in ids:
            rec = archive.record(article)
            if rec is None:
                continue
            text = next((t for t in (rec["body_text"], rec["sapo"] or "", rec["title"])
                         if any(term.rstrip("*") in fts.fold(t) for term in q.terms)), rec["body_text"])
            hits.append({"id": article, "url": rec["url"], "title": rec["title"], "published_at": rec["published_at"],
                         "site": rec["site"], "authors": rec["authors"], "section": rec["section"],
                         "snippet": fts.snippet(text, q.terms, marks=marks)})
    if as_json:
        emit_json(hits)
    elif as_csv:
        if bom:
            sys.stdout.write(BOM)
        writer = SafeCSV(sys.stdout)
        writer.writerow(["id", "url", "title", "published_at", "site", "authors", "section", "snippet"])
        for h in hits:
            writer.writerow([h["id"], h["url"], h["title"], h["published_at"], h["site"], "; ".join(h["authors"]),
                             h["section"] or "", h["snippet"]])
    else:
        for h in hits:
            click.echo(f"[{h['id']}] {h['title']}\n  {h['published_at'] or '-'}  {h['site']}  "
                       f"{', '.join(h['authors']) or '-'}\n  {h['url']}\n  {h['snippet']}\n")
        if not hits:
            click.echo("no matches", err=True)


@cli.command("sql")
@click.argument("statement", metavar="SQL")
@db_option
@click.option("-p", "--param", "params", nargs=2, multiple=True, metavar="NAME VALUE", help="A :NAME parameter.")
@click.option("--json", "as_json", is_flag=True,
              help='JSON: a list of objects; a BLOB is {"$base64": true, "encoded": "…"}.')
@click.option("--csv", "as_csv", is_flag=True,
              help="CSV with a header row; a BLOB is its hex digits, a text cell starting with = + - @ tab or CR"
                   " gets a leading '.")
@click.option("--time-limit", type=click.FloatRange(min=0.01), default=5.0, show_default=True, help="Seconds.")
@click.option("--max-rows", type=click.IntRange(min=1), default=100_000, show_default=True,
              help="Stop with an error past this many rows.")
@click.option("--bom", is_flag=True, help="With --csv: start with a UTF-8 BOM (for Excel).")
def sql_command(statement: str, db_path: Path | None, params: tuple[tuple[str, str], ...], as_json: bool,
                as_csv: bool, time_limit: float, max_rows: int, bom: bool) -> None:
    """Read-only SQL over the archive: SELECT only (writes, ATTACH and PRAGMA changes are refused),
    parameters with -p NAME VALUE, interrupted after a time limit; a value (string or BLOB) may not
    exceed 64 MiB. Rows are written as they come. See docs/schema.md."""
    from .store.queries import SQLError, query_rows

    one_format(as_json, as_csv, bom)
    out = sys.stdout
    first = True
    try:
        with query_rows(archive_path(db_path), statement, dict(params), time_limit=time_limit,
                        max_rows=max_rows) as (columns, rows):
            if as_json:
                out.write("[")
                try:
                    for row in rows:
                        obj = {c: json_value(v) for c, v in zip(columns, row, strict=True)}
                        out.write(("\n" if first else ",\n") + json.dumps(obj, ensure_ascii=False))
                        first = False
                finally:  # valid JSON even when an error stops the rows (the exit code says so)
                    out.write("]\n" if first else "\n]\n")
            elif as_csv:
                if bom:
                    out.write(BOM)
                writer = SafeCSV(out)
                writer.writerow(columns)
                for row in rows:
                    writer.writerow(row)
            else:
                # only the shown width of each cell is kept: memory does not grow with the values
                table = [[_table_cell(v) for v in row] for row in rows]
                widths = [min(max([len(str(c))] + [len(r[i]) for r in table]), 60) for i, c in enumerate(columns)]
                click.echo("  ".join(str(c).ljust(w) for c, w in zip(columns, widths, strict=True)))
                click.echo("  ".join("-" * w for w in widths))
                for cells in table:
                    click.echo("  ".join(v.ljust(w) for v, w in zip(cells, widths, strict=True)))
    except SQLError as exc:
        raise Failure(str(exc)) from exc


def _table_cell(value: Any) -> str:
    if isinstance(value, bytes):
        return f"<BLOB {len(value)} bytes>"
    return str(value)[:60]


@cli.command()
@db_option
@click.option("--days", type=click.IntRange(min=1), default=14, show_default=True, help="Days in the per-day table.")
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
def stats(db_path: Path | None, days: int, as_json: bool) -> None:
    """Articles per site, section and day, the last crawl runs, and field coverage per site (the
    first thing to look at when a site changes its template)."""
    from .media import coverage
    from .store.queries import stats as compute

    with open_archive(db_path, readonly=True) as archive:
        data = compute(archive.conn, days)
        data["media"] = coverage(archive)
    if as_json:
        emit_json(data)
        return
    click.echo("articles per site:")
    for r in data["sites"]:
        click.echo(f"  {r['site']:<28} {r['articles']:>7}   {r['oldest'] or '-'} … {r['newest'] or '-'}")
    click.echo("field coverage per site (share of articles with):")
    click.echo(f"  {'site':<28} {'authors':>8} {'time':>6} {'images':>7} {'captions':>9} {'tags':>6} {'sapo':>6}")
    for r in data["coverage"]:
        click.echo(f"  {r['site']:<28} {r['authors']:>8.0%} {r['published_at']:>6.0%} {r['images']:>7.0%}"
                   f" {r['captions']:>9.0%} {r['tags']:>6.0%} {r['sapo']:>6.0%}")
    media = data["media"]
    click.echo(f"media held: {media['files']:,} files, {media['bytes']:,} bytes ({media['urls']:,} URLs;"
               f" {media['failed_urls']:,} not archived yet)")
    click.echo("media coverage per site (share of the referenced files held):")
    click.echo(f"  {'site':<28} {'images':>9} {'held':>6} {'all media':>10} {'held':>6}")
    for r in media["sites"]:
        click.echo(f"  {r['site']:<28} {r['images']:>9,} {r['images_held_share']:>6.0%} {r['refs']:>10,}"
                   f" {r['held_share']:>6.0%}")
    click.echo("articles per section:")
    for r in data["sections"]:
        click.echo(f"  {r['site']:<28} {r['section']:<30} {r['articles']:>7}")
    click.echo(f"articles per day (last {days} days with articles):")
    for r in data["days"]:
        click.echo(f"  {r['day']}  {r['articles']:>6}")
    click.echo(f"revised articles: {data['revised_articles']}")
    click.echo("last crawl runs:")
    for r in data["runs"]:
        click.echo(f"  #{r['id']} {r['site']} {r['started_at']} {r['outcome'] or 'running/killed'}: {r['pages']} pages,"
                   f" {r['new']} new, {r['revised']} revised, {r['failed']} failed")
    if data.get("alarms"):
        from .drift import describe

        click.echo("drift alarms (the last run of these sites was degraded):")
        for r in data["alarms"]:
            click.echo(f"  {r['site']} run #{r['run']} {r['started_at']}: {describe(r['drift'])}")


@cli.command()
@db_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(min=0, max=65535), default=8001, show_default=True,
              help="0: a free one. A port in use is an error (exit 1).")
def serve(db_path: Path | None, host: str, port: int) -> None:
    """Serve the reading room: search, read, cite and compare the archive's articles in a browser.

    Pages (pip install 'newsarchive[ui]'): search at / (with or without diacritics, filters,
    facets, JSON/CSV), each article as a reader view with its history, word-level diffs and the page
    as archived (made inert), per-site pages at /sites; Datasette's own tables and SQL under
    /<archive name>. Read-only; on a loopback address, requests naming another host are refused
    (421), against DNS rebinding."""
    try:  # (newsarchive.ui imports without Datasette: its server and Datasette are asked for here)
        import datasette  # noqa: F401
        import uvicorn

        from . import ui
    except ImportError as exc:
        raise Failure(f"the reading room needs the [ui] extra ({exc.name} is not installed):"
                      " pip install 'newsarchive[ui]'") from exc

    db = archive_path(db_path)
    check_archive(db, readonly=True)  # a damaged file: one line now, not errors on every page
    if not ui.is_local(host):
        click.echo(f"warning: --host {host} lets anyone who can reach this machine read the archive (no login);"
                   " the default, 127.0.0.1, serves this machine only", err=True)
    # the socket is bound here, not by uvicorn, which would log its own error and exit 3 (which
    # means robots.txt here): a port in use is one line and exit 1
    sock = listen_socket(host, port)
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"serving {db} on http://{shown}:{sock.getsockname()[1]}/ (Ctrl-C to stop)", err=True)
    with sock:
        config = uvicorn.Config(ui.make_datasette(db).app(), log_level="warning")
        try:
            uvicorn.Server(config).run(sockets=[sock])
        except KeyboardInterrupt:  # uvicorn stops serving, then raises the Ctrl-C it caught (as uvicorn.run)
            pass


def listen_socket(host: str, port: int) -> Any:
    """A bound socket for a server (address reuse as uvicorn sets it), or a one-line failure."""
    import errno
    import socket

    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise Failure(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        reason = "the port is already in use" if exc.errno == errno.EADDRINUSE else exc.strerror or exc
        raise Failure(f"cannot listen on {host}:{port}: {reason} (choose another with --port)") from exc
    return sock


@cli.command()
@click.argument("site", metavar="SITE_OR_BASE_URL")
@db_option
@click.option("--since", type=DATE, help=f"Backfill back to this date ({DATE_HELP}); without it, incremental.")
@click.option("--max-articles", type=click.IntRange(min=1), help="Fetch at most N article pages.")
@click.option("--category", help="Only this category path, e.g. xa-hoi/y-te.")
@click.option("--recheck", is_flag=True, help="Re-check every archived article in the window (conditionally).")
@click.option("--revisit", help="Re-check schedule after publication [default: 1h,6h,24h,7d].")
@click.option("--every", help="Run again and again at this interval (15m, 1h…) until SIGTERM or Ctrl-C.")
@click.option("-s", "--set", "extra", multiple=True, metavar="NAME=VALUE",
              help="A Scrapy setting, e.g. DOWNLOAD_DELAY=2.")
@click.option("-q", "--quiet", is_flag=True, help="No progress, no log lines: only errors.")
@click.option("-v", "--verbose", is_flag=True, help="Scrapy's debug log.")
@click.option("--redis", "redis_url", metavar="URL",
              help="Work as one of many workers on a frontier in Redis (redis://HOST:PORT/N); the worker given"
                   " --db plans the run from the archive, the others join it; 'newsarchive ingest' stores.")
@click.option("--no-media", is_flag=True,
              help="Archive the text only: no images, og:image, audio or posters (docs/media.md).")
def crawl(site: str, db_path: Path | None, since: str | None, max_articles: int | None, category: str | None,
          recheck: bool, revisit: str | None, every: str | None, extra: tuple[str, ...], quiet: bool,
          verbose: bool, redis_url: str | None, no_media: bool) -> None:
    """Crawl a whole OneCMS site into the archive: new articles added, due ones re-checked.

    SITE_OR_BASE_URL is a key of 'newsarchive sites' or a base URL (http://127.0.0.1:8123/).
    Without --since the crawl is incremental: each listing is walked newest first and stops at
    the first archived article; an empty archive reaches back 7 days before the newest article.

    Exit codes: 0 success, 1 failed (nothing fetched, or no OneCMS site there), 2 bad arguments
    (an unknown category too), 3 robots.txt forbids the site (or cannot be read), 4 another crawl
    of this site holds the lock, 5 partial (some articles failed, or a listing, feed or sitemap was
    lost; retried by the next run), 6 stopped by SIGTERM or Ctrl-C (the next run walks the same
    window again), 7 the archive cannot be written (disk full, -s NEWSARCHIVE_MAX_DB_MB quota,
    read-only file): the crawl stops, nothing is half-written,
    8 degraded: fields the site's pages always had came out empty (the drift alarm; see 'runs')."""
    # -- archive check (before Scrapy starts): a damaged, read-only or locked archive is one line,
    # exit 1 or 7, and nothing is fetched. A cluster worker without --db never opens the archive.
    if not redis_url or db_path or os.environ.get("NEWSARCHIVE_DB"):
        check_archive(db_path)
    # -- end of the archive check
    from .crawl import plan as planning
    from .crawl import runner as crawling
    from .sites import resolve

    try:
        ref = resolve(site)
        if since:
            planning.parse_since(since)
        if revisit:
            planning.parse_schedule(revisit)
        interval = planning.parse_duration(every) if every else None
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    if ref.path:  # a URL with a path: that category, or a clear refusal, never the whole site silently
        from .spiders.onecms import CATEGORY_PATH, is_article_url

        if is_article_url(ref.base + ref.path.lstrip("/")) or not CATEGORY_PATH.match(ref.path):
            raise click.BadParameter(f"{ref.path} is not a category of {ref.key}: give the site's base URL or a"
                                     " category path (xa-hoi/y-te); one article is 'newsarchive scrape URL'",
                                     param_hint="SITE_OR_BASE_URL")
        if category and "/" + category.strip("/") != ref.path:
            raise click.BadParameter(f"the URL names category {ref.path}, --category names /{category.strip('/')}",
                                     param_hint="--category")
        category = ref.path.strip("/")
    site_name, site = ref.describe(), ref.base
    if not quiet and not redis_url:
        click.echo(f"crawling {site_name} at {ref.base}" + (f", category /{category.strip('/')}" if category else ""),
                   err=True)
    settings: dict[str, Any] = {}
    for item in extra:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{item!r} is not NAME=VALUE", param_hint="--set")
        settings[name] = value
    if no_media:
        settings["NEWSARCHIVE_MEDIA"] = False
    db = db_path or default_db_path()
    if redis_url and interval is not None:
        raise click.BadParameter("a cluster worker runs once: schedule the planning worker instead",
                                 param_hint="--every")
    if redis_url:
        from .cluster import connect

        try:
            connect(redis_url).close()
        except Exception as exc:  # redis-py raises many kinds: a bad URL, a refused or timed-out connection
            raise Failure(f"cannot use Redis at {redis_url}: {exc}") from exc
        settings["NEWSARCHIVE_REDIS"] = redis_url
        # the worker that can read the archive plans the run; the others join it
        settings["NEWSARCHIVE_CLUSTER_PLAN"] = bool(db_path or os.environ.get("NEWSARCHIVE_DB"))
    args = dict(since=since, max_articles=max_articles, category=category, recheck=recheck, quiet=quiet,
                verbose=verbose, revisit=revisit, settings=settings)
    if interval is not None:
        sys.exit(crawling.every(site, db, interval, args))
    outcome, stats = _run_crawl(crawling, site, db, **args)
    code = crawling.EXIT_FOR_OUTCOME.get(outcome, EXIT_FAIL)
    if outcome == "lock_held":
        raise Failure(f"another crawl of {site_name} is running on {db} (lock held)", code)
    if redis_url and outcome in ("success", "interrupted"):
        line = (f"{site_name}: worker {outcome}; {stats.get('newsarchive/pushed', 0)} articles sent to the writer,"
                f" {stats.get('response_received_count', 0)} pages fetched")
        if outcome == "interrupted":
            raise Failure(line, code)
        if not quiet:
            click.echo(line, err=True)
        return
    if outcome == "failed" and stats.get("newsarchive/unreachable"):
        raise Failure(f"cannot reach {stats['newsarchive/unreachable']} (nothing fetched)", code)
    if outcome == "unknown_category":
        raise Failure(f"{site_name} has no category /{str(stats.get('newsarchive/category_missing')).strip('/')}"
                      " (HTTP 404): see the site's menu for its category paths", code)
    if outcome == "not_onecms":
        raise Failure(f"no OneCMS site at {site}: no listing, feed, sitemap or article link was found"
                      f" ({stats.get('response_received_count', 0)} pages fetched)", code)
    if outcome == "robots_denied" and stats.get("newsarchive/robots_unreadable"):
        raise Failure(f"robots.txt of {stats['newsarchive/robots_unreadable']}: it cannot be read, which is not a"
                      " permission (nothing else fetched)", code)
    if outcome == "storage_error":
        raise Failure(f"{stats.get('newsarchive/storage_error')}: the crawl stopped; every article archived so far"
                      " is intact and the next run walks the same window again", code)
    got = {k: stats.get(f"newsarchive/{k}", 0) for k in ("new", "revised", "unchanged", "failed")}
    summary_line = (f"{site_name}: {outcome}; {got['new']} new, {got['revised']} revised, {got['unchanged']} unchanged,"
                    f" {got['failed']} failed, {stats.get('response_received_count', 0)} pages fetched")
    if stats.get("newsarchive/notes"):  # surfaces dropped, streams cut: in the run record
        summary_line += f"; {stats['newsarchive/notes']} surface(s) dropped or cut short (newsarchive runs --json)"
    if stats.get("newsarchive/media_refs"):
        summary_line += (f"; media: {stats.get('newsarchive/media_stored', 0)} stored"
                         f" ({stats.get('newsarchive/media_files_new', 0)} new files,"
                         f" {stats.get('newsarchive/media_bytes_new', 0):,} bytes),"
                         f" {stats.get('newsarchive/media_held_already', 0)} held already,"
                         f" {stats.get('newsarchive/media_failed', 0)} not archived")
    if code not in (0, EXIT_FAIL) or outcome == "failed":
        raise Failure(summary_line, code)
    if not quiet:
        click.echo(summary_line, err=True)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
def sites(as_json: bool) -> None:
    """List the known OneCMS sites (any other OneCMS base URL works as well)."""
    from .sites import SITES

    if as_json:
        emit_json([{"key": s.key, "name": s.name, "base": s.base, "notes": s.notes} for s in SITES.values()])
        return
    for s in SITES.values():
        click.echo(f"{s.key:<26} {s.base:<40} {s.name}" + (f" — {s.notes}" if s.notes else ""))


@cli.command()
@db_option
@click.option("--site", type=SiteType(), help=SITE_HELP)
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
def runs(db_path: Path | None, site: str | None, limit: int, as_json: bool) -> None:
    """The most recent crawl runs: site, start, end, outcome, pages, articles, errors."""
    from .store.crawlstate import CrawlState

    with open_archive(db_path, readonly=True) as archive:
        rows = CrawlState(archive).runs(limit, site)
    from .drift import describe

    for row in rows:
        row["errors"] = json.loads(row["errors"])
        row["coverage"] = json.loads(row["coverage"]) if row.get("coverage") else None
        row["drift"] = json.loads(row["drift"]) if row.get("drift") else []
    if as_json:
        emit_json(rows)
        return
    for r in rows:
        click.echo(f"#{r['id']:<5} {r['site']:<24} {r['started_at']} → {r['finished_at'] or '…':<20} "
                   f"{r['outcome'] or 'running/killed':<14} pages {r['pages_fetched']:<5} new {r['articles_new']:<5}"
                   f" revised {r['articles_revised']:<4} unchanged {r['articles_unchanged']:<5}"
                   f" failed {r['articles_failed']}")
        if r["drift"]:  # the drift alarm: which fields dropped against the site's baseline, with examples
            click.echo(f"       dropped: {describe(r['drift'])}")


DEMO_PORT = 8123  # the demo site's one address: its identity in the archive (127.0.0.1:8123)


@cli.command()
@db_option
@click.option("--articles", type=click.IntRange(min=1), default=60, show_default=True,
              help="Size of the demo site; the crawl backfills all of it, so N articles are archived.")
@click.option("--serve", is_flag=True, help="Only serve the demo site (until Ctrl-C), for crawling it yourself.")
@click.option("--port", type=click.IntRange(min=0, max=65535), default=None,
              help=f"Port of the demo site on 127.0.0.1 [default: {DEMO_PORT}, or $NEWSARCHIVE_DEMO_PORT; a free one"
                   " if that is taken]. The port is part of the site's identity.")
def demo(db_path: Path | None, articles: int, serve: bool, port: int | None) -> None:
    """Serve the built-in demo site on 127.0.0.1, crawl it into the archive, show what was
    archived, and exit. The crawl backfills the whole site (every one of its --articles N).

    The demo is one site, 127.0.0.1:8123, every time: a second demo into the same archive finds
    its articles archived (and their URLs still answer while it runs). If that port is taken the
    demo runs on a free one and says so: there it is another site of the archive."""
    from .crawl import runner as crawling
    from .demo.site import DemoSite
    from .demo.site import serve as serve_site

    if not serve:
        check_archive(db_path)  # before the site is served and crawled
    from contextlib import ExitStack as _Stack

    from .demo.site import DemoMediaHost, serve_media

    media_stack = _Stack()
    media_base: str | None = None
    # the demo's media host, a second loopback address (not every system has 127.0.0.2), on a fixed
    # port as the site is (its files keep their URLs from one demo to the next), else a free one
    site_port = port if port is not None else int(os.environ.get("NEWSARCHIVE_DEMO_PORT") or DEMO_PORT)
    for media_port in ((site_port + 1, 0) if site_port else (0,)):
        try:
            media_base = media_stack.enter_context(serve_media(DemoMediaHost(), port=media_port))
            break
        except OSError:
            continue
    site = DemoSite(articles, media_base=media_base)
    wanted = port if port is not None else int(os.environ.get("NEWSARCHIVE_DEMO_PORT") or DEMO_PORT)
    try:
        listen_socket("127.0.0.1", wanted).close()  # free? (the demo server binds it right after)
    except Failure:
        if port is not None:
            raise
        click.echo(f"port {wanted} is taken: the demo runs on a free port, which makes it another site of the"
                   " archive (its articles are archived again under that port)", err=True)
        wanted = 0
    with serve_site(site, port=wanted) as base:
        if serve:
            click.echo(f"demo site on {base} (Ctrl-C to stop)", err=True)
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                return
        db = archive_path(db_path)
        # a backfill of the whole site (from a day before its oldest article): a crawl without
        # --since would stop 7 days before the newest article, and --articles N would not give N
        oldest = min(a.published for a in site.articles.values())
        since = (oldest - timedelta(days=1)).isoformat()
        click.echo(f"demo site on {base}" + (f", its media on {media_base}" if media_base else "")
                   + f"; crawling all its {articles} articles into {db}", err=True)
        # the media host is on loopback too: allowed by name, as a site on your network would be
        local = {**crawling.FAST_LOCAL, "NEWSARCHIVE_ALLOW_PRIVATE": ["127.0.0.1", "127.0.0.2"]}
        outcome, stats = _run_crawl(crawling, base, db, since=since, quiet=True, settings=local)
    media_stack.close()
    with open_archive(db) as archive:
        click.echo(f"crawl {outcome}: {stats.get('newsarchive/new', 0)} new articles, "
                   f"{stats.get('response_received_count', 0)} pages fetched; the archive holds {archive.count()}.")
        if stats.get("newsarchive/media_refs"):
            click.echo(f"media: {stats.get('newsarchive/media_files_new', 0)} new files"
                       f" ({stats.get('newsarchive/media_bytes_new', 0):,} bytes) for"
                       f" {stats.get('newsarchive/media_refs', 0)} references; shared images are stored once")
        rows = archive.conn.execute(
            "SELECT id, published_at, kind, title FROM article_view ORDER BY published_at DESC LIMIT 8").fetchall()
        for aid, published, kind, title in rows:
            click.echo(f"  [{aid}] {published}  {kind:<8} {title}")
        from .store import search as fts

        # the suggested commands work as printed: with the --db given (none for the default or
        # $NEWSARCHIVE_DB, which the user's shell already has)
        ctx = click.get_current_context()
        given = ctx.get_parameter_source("db_path") is click.core.ParameterSource.COMMANDLINE
        opt = f" --db {shlex.quote(str(db_path))}" if given and db_path else ""
        click.echo(f"sample search, typed without diacritics: newsarchive search 'dien bien' --limit 3{opt}")
        for aid in fts.search(archive.conn, "dien bien", limit=3):
            click.echo(f"  [{aid}] {archive.record(aid)['title']}")  # type: ignore[index]
        first = rows[0][0] if rows else 1
    click.echo(f"try: newsarchive show {first}{opt}   newsarchive search 'da nang'{opt}   newsarchive export{opt}"
               f"   newsarchive runs{opt}")
    if outcome != "success":  # what was archived is shown; the exit code says the crawl's outcome, as crawl's
        sys.exit(crawling.EXIT_FOR_OUTCOME.get(outcome, EXIT_FAIL))


def _short(value: Any, width: int = 70) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


@cli.command()
@db_option
@click.option("--site", type=SiteType(), help=SITE_HELP)
@click.option("--since", type=DATE, help=f"Published at or after this date: {DATE_HELP}.")
@click.option("--until", type=DATE, help=f"Published before this date: {DATE_HELP}.")
@click.option("--dry-run", is_flag=True, help="Say what would change (how many articles, which fields, examples).")
@click.option("--strict", is_flag=True, help="Stop at the first parser bug, with its traceback (for developers).")
def reparse(db_path: Path | None, site: str | None, since: str | None, until: str | None, dry_run: bool,
            strict: bool) -> None:
    """Run the current extractor over the stored raw pages.

    An article whose record changes gets a new version marked as a re-extraction (not as an edit
    by the publisher). Streams over the archive in bounded memory; reports pages per second.
    Exit code 0 when the run completed."""
    from .reparse import reparse as run

    since_v, until_v = since, until
    with open_archive(db_path, readonly=dry_run) as archive:
        try:
            report = run(archive, dry_run=dry_run, site=site, since=since_v, until=until_v, strict=strict)
        except StorageError as exc:
            raise archive_failure(exc) from exc
    verb = "would change" if dry_run else "re-extracted (a new version each)"
    click.echo(f"{report.pages} stored pages read at {report.rate:,.0f} pages/s: {report.changed} articles {verb}, "
               f"{report.unchanged} unchanged,"
               f" {report.not_articles} no longer read as articles (left as they are), {report.no_page} without a"
               f" stored page" + (f", {report.refused} refused (their stored page is of another site)"
                                  if report.refused else ""))
    if report.recovered:
        click.echo(f"{report.recovered} page(s) a crawl kept after an extractor error "
                   + ("would be archived" if dry_run else "archived now"))
    if report.extractor_errors:  # parser bugs: the articles are left as they are
        click.echo(f"{len(report.extractor_errors)} extractor error(s), left as they are (--strict stops at the first"
                   " with its traceback):")
        for url, error in report.extractor_errors[:5]:
            click.echo(f"  {url}: {error}")
    for name, count in report.fields.most_common():
        click.echo(f"  {name}: {count} article(s)")
        for article, url, old, new in report.examples.get(name, []):
            click.echo(f"    #{article} {url}")
            click.echo(f"      was: {_short(old)}")
            click.echo(f"      now: {_short(new)}")


@cli.command("import-warc")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@db_option
def import_warc(file: Path, db_path: Path | None) -> None:
    """Archive the article pages found in a WARC file (from newsarchive or any other crawler),
    through the same extractor and store. A truncated or corrupt file: what was read before the
    damage is kept, the error is one line, exit code 1."""
    from .warc import import_warc as run

    try:
        stream = file.open("rb")
    except OSError as exc:
        raise Failure(f"cannot read {file}: {exc.strerror or exc}") from exc
    from .media import MediaStore, media_path

    with stream, open_archive(db_path) as archive, MediaStore(media_path(archive.path)) as media:
        try:
            report = run(archive, stream, media=media)
        except StorageError as exc:
            raise archive_failure(exc) from exc
    summary = (f"{report.pages} HTML pages read: {report.new} new, {report.revised} revised, {report.unchanged}"
               f" unchanged, {report.not_articles} not articles; media files: {report.media['stored']} stored,"
               f" {report.media['rejected']} refused (not what they were served as)")
    if report.truncated:  # cut short by the WARC's writer (WARC-Truncated): not imported
        summary += f", {len(report.truncated)} record(s) marked truncated skipped, first: {report.truncated[0]}"
    if report.extractor_errors:  # parser bugs: those pages are not imported, and the import is no success
        summary += (f", {len(report.extractor_errors)} extractor error(s) (import again after the fix), first:"
                    f" {report.extractor_errors[0]}")
    if report.error and report.pages == 0 and report.error.startswith("not a WARC"):
        raise Failure(f"{file}: {report.error}")
    if report.error:
        raise Failure(f"{file} is damaged ({report.error}); kept what was read before: {summary}")
    if report.extractor_errors:
        raise Failure(summary)
    click.echo(summary, err=True)


@cli.command("media")
@click.argument("sha256", metavar="SHA256")
@db_option
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to this file, not stdout: whole or not at all (its directory must exist).")
def media_command(sha256: str, db_path: Path | None, output: Path | None) -> None:
    """Write one stored media file (an image, an audio file) exactly as it was served, by its SHA-256
    (what 'show' and 'export' give for each image). Not held: exit 1."""
    if not re.fullmatch(r"[0-9a-fA-F]{64}", sha256):
        raise click.BadParameter("not a SHA-256 (64 hexadecimal digits)", param_hint="SHA256")
    check_output(output)
    with open_archive(db_path, readonly=True) as archive:
        held = media_of(archive)
        found = held.blob(sha256)
        held.close()
    if found is None:
        raise Failure(f"no media file {sha256.lower()} in {held.path}")
    body, mime = found
    if output is None and sys.stdout.isatty():
        raise Failure(f"a {mime} file is binary: give -o FILE (or redirect stdout)", EXIT_USAGE)
    with output_stream(output, binary=True) as out:
        out.write(body)
    if output is not None:
        click.echo(f"wrote {len(body):,} bytes ({mime}) to {output}", err=True)


@cli.command()
@click.option("--redis", "redis_url", required=True, metavar="URL", help="redis://HOST:PORT/N, as the workers use.")
@db_option
@click.option("--batch", type=click.IntRange(min=1), default=200, show_default=True, help="Items per transaction.")
@click.option("--until-idle", type=click.FloatRange(min=0), metavar="SECONDS",
              help="Exit once nothing has arrived for this long [default: run until SIGTERM or Ctrl-C].")
@click.option("-q", "--quiet", is_flag=True, help="Only errors.")
def ingest(redis_url: str, db_path: Path | None, batch: int, until_idle: float | None, quiet: bool) -> None:
    """The one archive writer of a cluster: moves what crawl workers pushed to Redis into the archive,
    a batch per transaction, acknowledged only after it committed (docs/cluster.md).

    Exit codes: 0 stopped (SIGTERM, Ctrl-C, or --until-idle), 1 Redis unusable or the archive
    unreadable, 7 the archive cannot be written (read-only, locked, full)."""
    import signal

    from .cluster import RecordQueue, connect
    from .ingest import ingest as run

    archive_path(db_path)  # a --db into a missing directory is said before Redis is asked
    try:
        client = connect(redis_url)
    except Exception as exc:  # redis-py raises many kinds: a bad URL, a refused or timed-out connection
        raise Failure(f"cannot use Redis at {redis_url}: {exc}") from exc
    stop = {"flag": False}

    def on_signal(signum: int, frame: Any) -> None:
        stop["flag"] = True  # the batch in hand is finished first

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    last = [time.monotonic()]

    def progress(r: Any) -> None:
        if not quiet and time.monotonic() - last[0] >= 30:
            last[0] = time.monotonic()
            click.echo(f"{r.items} items: {r.new} new, {r.revised} revised, {r.unchanged} unchanged, "
                       f"{r.failed} failures, {r.checked} checked; {r.rate:,.0f} items/s", err=True)

    with open_archive(db_path) as archive:
        try:
            report = run(archive, RecordQueue(client), batch=batch, idle_exit=until_idle,
                         should_stop=lambda: stop["flag"], progress=progress)
        except StorageError as exc:
            raise archive_failure(exc) from exc
    if not quiet:
        click.echo(f"ingested {report.items} items in {report.batches} batches: {report.new} new, {report.revised} "
                   f"revised, {report.unchanged} unchanged, {report.failed} failures, {report.checked} checked"
                   f"{f', {report.replayed} replayed batches acknowledged' if report.replayed else ''}; "
                   f"{report.rate:,.0f} items/s", err=True)


# -- operations: one configuration, the scheduler, status (docs/operations.md) ----------------------

def config_option(f: Any) -> Any:
    return click.option(
        "--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), default=None, metavar="PATH",
        help="The operations configuration [default: $NEWSARCHIVE_CONFIG if set, else newsarchive.toml in the"
             " current directory].")(f)


def load_config(config_path: Path | None, secrets: bool = True) -> Any:
    """The configuration, or its first mistake as one line (file, line, key) and exit 2."""
    from . import config as configuration

    try:
        return configuration.load(config_path, secrets=secrets)
    except configuration.ConfigError as exc:
        raise Failure(str(exc), EXIT_USAGE) from exc


@cli.command("config")
@click.argument("action", type=click.Choice(["check", "example"]))
@config_option
def config_command(action: str, config_path: Path | None) -> None:
    """Check the operations configuration (newsarchive.toml), or print a commented example of it.

    check: every key is read as the scheduler would (sites resolved, durations, notification
    targets, saved-search queries); the first mistake is one line naming the file, the line and
    the key, exit 2; a good file prints what will run, exit 0. example: the example on stdout
    (newsarchive config example > newsarchive.toml)."""
    from . import config as configuration

    if action == "example":
        click.echo(configuration.EXAMPLE, nl=False)
        return
    cfg = load_config(config_path)
    for warning in cfg.warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(f"{cfg.path}: ok; archive {cfg.archive}; {cfg.concurrency} crawl(s) at once")
    for s in cfg.sites:
        extra = f", categories {', '.join(s.categories)}" if s.categories else ""
        click.echo(f"  site {s.key} ({s.base}) every {s.every}, timeout {s.timeout}{extra}")
    for n in cfg.notifiers:
        where = n.url or (f"{n.host}:{n.port}" if n.kind == "email" else " ".join(n.command))
        click.echo(f"  notify {n.name}: {n.kind} {where} ({', '.join(n.events)})")
    for q in cfg.searches:
        click.echo(f"  search {q.name}: {q.query}" + (f" (site {q.site})" if q.site else ""))


@cli.command()
@config_option
@click.option("--once", is_flag=True, help="Crawl every site that is due once, then exit (for cron or a systemd"
                                           " timer).")
def schedule(config_path: Path | None, once: bool) -> None:
    """Crawl every configured site when it is due, several at once, each crawl in its own process;
    judge the alarms and saved searches after each crawl and send their notices.

    A site is due its interval after its last start (read from the archive, so a restart loses
    nothing and a missed run runs once); one site never runs twice at once; a crawl past its timeout
    is stopped and counted as failed. Exit codes: 0 done (--once), 1 the archive cannot be read,
    2 a mistake in the configuration, 6 stopped by SIGTERM or Ctrl-C (crawls get SIGTERM, then
    SIGKILL after stop_grace), 7 the archive cannot be written."""
    from .schedule import Scheduler

    cfg = load_config(config_path)
    try:  # the configuration names its archive on purpose (`config check` accepts a folder yet to make)
        cfg.archive.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise Failure(f"cannot make the archive's folder {cfg.archive.parent}: {exc.strerror}", EXIT_STORAGE) from None
    check_archive(cfg.archive)
    sys.exit(Scheduler(cfg, once=once).run())


@cli.command()
@config_option
@click.option("--json", "as_json", is_flag=True, help="JSON output: {archive, now, sites: [...], alarms: [...]}.")
def status(config_path: Path | None, as_json: bool) -> None:
    """Per configured site: the last run and its outcome, the next due time, the failure streak,
    articles published in the last 24 h against the site's usual rate, and open alarms."""
    from .health import status as compute

    cfg = load_config(config_path, secrets=False)  # status sends nothing: no password needed
    with open_archive(cfg.archive, readonly=True) as archive:
        data = compute(archive.conn, cfg)
    if as_json:
        emit_json(data)
        return
    click.echo(f"{data['archive']} at {data['now']}")
    for s in data["sites"]:
        last = s["last_run"]
        ran = f"#{last['id']} {last['started_at']} {last['outcome']}" if last else "never run"
        due = "due now" if s["due"] else f"next {s['next_due']}"
        state = "running" if s["running"] else due
        click.echo(f"  {s['site']:<28} {ran:<44} {state:<28} streak {s['failure_streak']:<3}"
                   f" 24h {s['published_24h']} (usual {s['usual_per_day']}/day)")
        for a in s["alarms"]:
            click.echo(f"      ALARM {a['kind']} since {a['opened_at']}: {a['message']}")
    for a in data["alarms"]:
        click.echo(f"  ALARM {a['kind']} since {a['opened_at']}: {a['message']}")


def main() -> None:
    try:
        cli(standalone_mode=True)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
