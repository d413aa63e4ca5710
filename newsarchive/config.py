"""The operations configuration: one TOML file (``newsarchive.toml``) for the scheduler, the
alarms, the notification targets and the saved searches (docs/operations.md).

Every mistake is one line naming the file, the line and the key (``newsarchive.toml:12:
sites[2].every: "15x" is not a duration such as 15m, 6h or 7d``), found before anything runs:
``load`` raises :class:`ConfigError` for the first one.
"""

from __future__ import annotations

import os
import re
import shlex
import tomllib
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

DEFAULT_NAME = "newsarchive.toml"
EVENTS = ("alarm", "search")
NOTIFIER_TYPES = ("webhook", "email", "command")


class ConfigError(ValueError):
    """One mistake in the configuration, as one line: ``FILE:LINE: KEY: what is wrong``."""

    def __init__(self, path: Path | str, line: int | None, key: str, message: str) -> None:
        self.path, self.line, self.key, self.message = str(path), line, key, " ".join(message.split())
        where = f"{self.path}:{line}" if line else self.path
        super().__init__(f"{where}: {key}: {self.message}" if key else f"{where}: {self.message}")


@dataclass(frozen=True)
class SiteConfig:
    spelling: str  # as written in the file
    key: str  # the site's one identity (sites.SiteRef.key): lock, runs, status
    base: str
    every: timedelta
    timeout: timedelta
    window: str | None = None
    categories: tuple[str, ...] = ()
    revisit: str | None = None
    recheck: bool = False
    max_articles: int | None = None
    settings: dict[str, str] = field(default_factory=dict)  # Scrapy settings (-s NAME=VALUE)
    media: bool = True  # media archived with the text (crawl's default); False: crawl --no-media
    quiet_after: timedelta | None = None  # None: judged from the site's own rhythm
    quiet: bool = True  # False: no quiet alarm for this site
    line: int | None = None

    def commands(self, db: Path, python: str) -> list[list[str]]:
        """The crawl command lines of one scheduled run: one per category (in turn), or one."""
        base = [python, "-m", "newsarchive.cli", "crawl", self.base, "--db", str(db), "-q"]
        if self.max_articles:
            base += ["--max-articles", str(self.max_articles)]
        if self.revisit:
            base += ["--revisit", self.revisit]
        if self.recheck:
            base.append("--recheck")
        if not self.media:
            base.append("--no-media")
        settings = dict(self.settings)
        if self.window:
            settings["NEWSARCHIVE_WINDOW"] = self.window
        for name, value in settings.items():
            base += ["-s", f"{name}={value}"]
        if not self.categories:
            return [base]
        return [[*base, "--category", c] for c in self.categories]


@dataclass(frozen=True)
class Notifier:
    kind: str  # webhook, email, command
    name: str
    events: tuple[str, ...]
    retries: int
    backoff: timedelta
    timeout: timedelta
    url: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    host: str | None = None
    port: int = 25
    starttls: bool = False
    user: str | None = None
    password_env: str | None = None
    sender: str | None = None
    to: tuple[str, ...] = ()
    subject_prefix: str = "[newsarchive]"
    command: tuple[str, ...] = ()

    def password(self) -> str | None:
        return os.environ.get(self.password_env) if self.password_env else None


@dataclass(frozen=True)
class SavedSearch:
    name: str
    query: str
    site: str | None = None  # a site's one identity
    section: str | None = None
    author: str | None = None
    notify: tuple[str, ...] = ()  # notifier names; empty: every notifier taking "search"
    max_listed: int = 20


@dataclass(frozen=True)
class Alarms:
    failures: int = 3  # failed runs in a row that open the "failing" alarm (0: never)
    repeat: timedelta | None = timedelta(hours=6)  # an open alarm is sent again at most this often
    quiet_factor: float = 3.0  # quiet: no new article for this many times the site's usual longest gap
    quiet_min: timedelta = timedelta(hours=6)  # ...and never less than this
    disk_free_bytes: int | None = 1 << 30  # the archive's filesystem below this is an alarm
    disk_free_percent: float | None = None


@dataclass(frozen=True)
class Config:
    path: Path
    archive: Path
    concurrency: int
    stop_grace: timedelta
    sites: tuple[SiteConfig, ...]
    notifiers: tuple[Notifier, ...]
    searches: tuple[SavedSearch, ...]
    alarms: Alarms
    warnings: tuple[str, ...] = ()

    def site(self, key: str) -> SiteConfig | None:
        return next((s for s in self.sites if s.key == key), None)


# -- where each key is written -------------------------------------------------------------------

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\[\]]+?)\s*\]\]?\s*(?:#.*)?$")
_KEY = re.compile(r"""^\s*((?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*'))*)\s*=""")


def _parts(dotted: str) -> list[str]:
    return [p.strip().strip("\"'") for p in re.findall(r"""(?:"[^"]*"|'[^']*'|[^.]+)""", dotted)]


def key_lines(text: str) -> dict[tuple[Any, ...], int]:
    """The line of every table header and key: ``("sites", 1, "every") -> 14`` (array tables
    numbered from 0). Good enough for the error messages of a file tomllib has accepted."""
    lines: dict[tuple[Any, ...], int] = {}
    counts: dict[tuple[Any, ...], int] = {}
    table: tuple[Any, ...] = ()
    depth = 0  # open brackets of a multi-line array or inline table
    in_string: str | None = None
    for number, line in enumerate(text.splitlines(), 1):
        if in_string:
            if in_string in line:
                in_string = None
            continue
        if depth == 0:
            header = _HEADER.match(line)
            if header:
                path: list[Any] = []
                for part in _parts(header.group(2)):
                    path.append(part)
                    if tuple(path) in counts and len(path) < len(_parts(header.group(2))):
                        path.append(counts[tuple(path)] - 1)
                if header.group(1) == "[[":
                    index = counts.get(tuple(path), 0)
                    counts[tuple(path)] = index + 1
                    path.append(index)
                table = tuple(path)
                lines.setdefault(table, number)
                continue
            key = _KEY.match(line)
            if key:
                full = table + tuple(_parts(key.group(1)))
                lines.setdefault(full, number)
        rest = re.sub(r"""("[^"\\]*(?:\\.[^"\\]*)*"|'[^']*')""", "", line.split("#", 1)[0] if '"' not in line else line)
        for quote in ('"""', "'''"):
            if line.count(quote) % 2 == 1:
                in_string = quote
        depth = max(0, depth + rest.count("[") + rest.count("{") - rest.count("]") - rest.count("}"))
    return lines


# -- reading -------------------------------------------------------------------------------------

def parse_size(text: str) -> tuple[int | None, float | None]:
    """``2GiB``, ``500MB``, ``1T``, ``123456`` (bytes) or ``5%``: (bytes, None) or (None, percent)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(%|[kKmMgGtT]?i?[bB]?)\s*", text)
    if not m:
        raise ValueError(f"{text!r} is not a size such as 2GiB, 500MB or 5%")
    number, unit = float(m.group(1)), m.group(2)
    if unit == "%":
        if number > 100:
            raise ValueError(f"{text!r}: a share of the disk is at most 100%")
        return None, number
    letter = unit[:1].upper() if unit[:1].upper() in "KMGT" else ""
    scale = 1024 if "i" in unit or not letter else 1000
    power = " KMGT".index(letter) if letter else 0
    return int(number * scale**power), None


class _Reader:
    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.lines = key_lines(text)
        self.warnings: list[str] = []

    def line(self, path: tuple[Any, ...]) -> int | None:
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return None

    def fail(self, path: tuple[Any, ...], message: str) -> ConfigError:
        return ConfigError(self.path, self.line(path), _name(path), message)

    def table(self, data: dict[str, Any], path: tuple[Any, ...], known: dict[str, str]) -> None:
        """Unknown keys are mistakes (a misspelt ``evry`` would silently mean the default)."""
        for key in data:
            if key not in known:
                raise self.fail((*path, key), f"unknown key (known here: {', '.join(sorted(known))})")

    def get(self, data: dict[str, Any], path: tuple[Any, ...], key: str, kind: type | tuple[type, ...],
            default: Any = None, required: bool = False) -> Any:
        if key not in data:
            if required:
                raise ConfigError(self.path, self.line(path), _name(path),
                                  f"'{key}' is required here")
            return default
        value = data[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if isinstance(value, bool) and bool not in kinds:
            raise self.fail((*path, key), f"{value!r} is not {_kind(kinds)}")
        if not isinstance(value, kinds):
            raise self.fail((*path, key), f"{_show(value)} is not {_kind(kinds)}")
        return value

    def duration(self, data: dict[str, Any], path: tuple[Any, ...], key: str, default: str | None,
                 allow_zero: bool = False) -> timedelta | None:
        from .crawl import parse_duration

        value = self.get(data, path, key, (str, int, float), default)
        if value is None:
            return None
        try:
            span = parse_duration(str(value))
        except ValueError as exc:
            raise self.fail((*path, key), str(exc)) from None
        if span <= timedelta(0) and not allow_zero:
            raise self.fail((*path, key), f"{_show(value)}: a duration must be more than 0")
        return span

    def integer(self, data: dict[str, Any], path: tuple[Any, ...], key: str, default: int | None,
                minimum: int) -> int | None:
        value = self.get(data, path, key, int, default)
        if value is not None and value < minimum:
            raise self.fail((*path, key), f"{value} is less than {minimum}")
        return value

    def strings(self, data: dict[str, Any], path: tuple[Any, ...], key: str) -> tuple[str, ...]:
        value = self.get(data, path, key, (list, str), [])
        items = [value] if isinstance(value, str) else value
        for item in items:
            if not isinstance(item, str) or not item.strip():
                raise self.fail((*path, key), f"{_show(item)} in the list is not a non-empty string")
        return tuple(items)


def _name(path: tuple[Any, ...]) -> str:
    out = ""
    for part in path:
        out += f"[{part + 1}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _kind(kinds: tuple[type, ...]) -> str:
    names = {str: "a string", int: "an integer", float: "a number", bool: "true or false", list: "a list",
             dict: "a table"}
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _show(value: Any) -> str:
    text = repr(value) if not isinstance(value, str) else f'"{value}"'
    return text if len(text) <= 60 else text[:59] + "…"


def find(path: Path | str | None) -> Path:
    """``--config PATH``, else ``$NEWSARCHIVE_CONFIG``, else ``newsarchive.toml`` here."""
    if path:
        return Path(path)
    env = os.environ.get("NEWSARCHIVE_CONFIG")
    return Path(env) if env else Path(DEFAULT_NAME)


def load(path: Path | str | None = None, *, environ: dict[str, str] | None = None, secrets: bool = True) -> Config:
    """Read and check the whole file; the first mistake is a :class:`ConfigError`. ``secrets``:
    the environment variables the file names (password_env) must be set (not for ``status``)."""
    file = find(path)
    env = os.environ if environ is None else environ
    if not secrets:
        env = _Everything()
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        hint = " (newsarchive config example > newsarchive.toml writes a commented one)"
        raise ConfigError(file, None, "", f"no such file{hint}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(file, None, "", f"cannot read it: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        m = re.search(r"\(at line (\d+), column (\d+)\)", message)
        line = int(m.group(1)) if m else None
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", message)
        col = f" (column {m.group(2)})" if m else ""
        raise ConfigError(file, line, "", f"not valid TOML: {message}{col}") from None
    r = _Reader(file, text)
    return _build(r, file, data, env)


class _Everything(dict):  # type: ignore[type-arg]
    def __contains__(self, key: object) -> bool:
        return True


TOP = {"archive": "", "schedule": "", "alarms": "", "sites": "", "notify": "", "searches": ""}
SCHEDULE = {"concurrency": "", "every": "", "timeout": "", "stop_grace": ""}
ALARMS = {"failures": "", "repeat": "", "quiet_factor": "", "quiet_min": "", "disk_free": ""}
SITE = {"site": "", "every": "", "timeout": "", "window": "", "categories": "", "revisit": "", "recheck": "",
        "max_articles": "", "settings": "", "media": "", "quiet_after": ""}
NOTIFY_COMMON = {"type": "", "name": "", "events": "", "retries": "", "backoff": "", "timeout": ""}
NOTIFY = {
    "webhook": {**NOTIFY_COMMON, "url": "", "headers": ""},
    "email": {**NOTIFY_COMMON, "host": "", "port": "", "starttls": "", "user": "", "password_env": "", "from": "",
              "to": "", "subject_prefix": ""},
    "command": {**NOTIFY_COMMON, "command": ""},
}
SEARCH = {"name": "", "query": "", "site": "", "section": "", "author": "", "notify": "", "max_listed": ""}


def _creatable(folder: Path) -> bool:
    """``folder`` exists, or its nearest existing ancestor is a folder this process may write to."""
    for candidate in (folder, *folder.parents):
        if candidate.exists():
            return candidate.is_dir() and (candidate == folder or os.access(candidate, os.W_OK | os.X_OK))
    return False


def _build(r: _Reader, file: Path, data: dict[str, Any], env: Any) -> Config:
    from .sites import UnknownSite, resolve

    r.table(data, (), TOP)
    archive_value = r.get(data, (), "archive", str)
    if archive_value is not None:
        archive = Path(os.path.expanduser(archive_value))
        if not archive.is_absolute():
            archive = file.resolve().parent / archive  # relative to the file, wherever it is run from
        if not _creatable(archive.parent):  # a missing folder is made by the first crawl, as `crawl` does
            raise r.fail(("archive",), f"the directory {archive.parent} does not exist and cannot be made")
    else:
        from .store import default_db_path

        archive = default_db_path().resolve()

    sched = r.get(data, (), "schedule", dict, {})
    r.table(sched, ("schedule",), SCHEDULE)
    concurrency = r.integer(sched, ("schedule",), "concurrency", 2, 1)
    default_every = r.duration(sched, ("schedule",), "every", "1h")
    default_timeout = r.duration(sched, ("schedule",), "timeout", "2h")
    stop_grace = r.duration(sched, ("schedule",), "stop_grace", "5s")

    al = r.get(data, (), "alarms", dict, {})
    r.table(al, ("alarms",), ALARMS)
    factor = r.get(al, ("alarms",), "quiet_factor", (int, float), 3.0)
    if factor < 0:
        raise r.fail(("alarms", "quiet_factor"), f"{factor} is less than 0")
    disk = r.get(al, ("alarms",), "disk_free", (str, bool), "1GiB")
    disk_bytes: int | None = None
    disk_percent: float | None = None
    if disk is True:
        raise r.fail(("alarms", "disk_free"), "give a size (2GiB, 500MB, 5%) or false")
    if disk:
        try:
            disk_bytes, disk_percent = parse_size(disk)
        except ValueError as exc:
            raise r.fail(("alarms", "disk_free"), str(exc)) from None
    alarms = Alarms(
        failures=r.integer(al, ("alarms",), "failures", 3, 0),  # type: ignore[arg-type]
        repeat=r.duration(al, ("alarms",), "repeat", "6h", allow_zero=True) or None,
        quiet_factor=float(factor),
        quiet_min=r.duration(al, ("alarms",), "quiet_min", "6h"),  # type: ignore[arg-type]
        disk_free_bytes=disk_bytes, disk_free_percent=disk_percent,
    )

    sites_data = r.get(data, (), "sites", list, [])
    if not sites_data:
        raise ConfigError(file, None, "sites", "no site to crawl: add a [[sites]] table with site = \"KEY or URL\"")
    sites: list[SiteConfig] = []
    for i, entry in enumerate(sites_data):
        path: tuple[Any, ...] = ("sites", i)
        if not isinstance(entry, dict):
            raise r.fail(path, "each site is a [[sites]] table")
        r.table(entry, path, SITE)
        spelling = r.get(entry, path, "site", str, required=True)
        try:
            ref = resolve(spelling)
        except UnknownSite as exc:
            raise r.fail((*path, "site"), str(exc)) from None
        if ref.path:
            raise r.fail((*path, "site"), f"{spelling}: give the site's base URL; a category goes in"
                         " categories = [...]")
        twin = next((s for s in sites if s.key == ref.key), None)
        if twin is not None:
            raise r.fail((*path, "site"), f"{spelling} is the site {ref.key} again (also line {twin.line}): one site,"
                         " one entry (several categories go in one entry's categories)")
        window = r.duration(entry, path, "window", None)
        revisit = r.get(entry, path, "revisit", str)
        if revisit:
            from .crawl import parse_schedule

            try:
                parse_schedule(revisit)
            except ValueError as exc:
                raise r.fail((*path, "revisit"), str(exc)) from None
        categories = r.strings(entry, path, "categories")
        for c in categories:
            if not re.fullmatch(r"/?[a-z0-9][a-z0-9-]*(/[a-z0-9][a-z0-9-]*)*/?", c):
                raise r.fail((*path, "categories"), f'"{c}" is not a category path such as xa-hoi or xa-hoi/y-te')
        settings_data = r.get(entry, path, "settings", dict, {})
        settings: dict[str, str] = {}
        for name, value in settings_data.items():
            if not re.fullmatch(r"[A-Z][A-Z0-9_]*", name):
                raise r.fail((*path, "settings", name), "a Scrapy setting's name is upper case (DOWNLOAD_DELAY)")
            if name in ("NEWSARCHIVE_DB", "NEWSARCHIVE_REDIS"):
                raise r.fail((*path, "settings", name), "set by the scheduler, not per site")
            if isinstance(value, bool):
                settings[name] = "True" if value else "False"
            elif isinstance(value, int | float | str):
                settings[name] = str(value)
            elif isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
                settings[name] = ",".join(str(v) for v in value)
            else:
                import json

                settings[name] = json.dumps(value)
        media = r.get(entry, path, "media", bool, True)
        quiet_value = r.get(entry, path, "quiet_after", (str, bool, int))
        quiet_after = None
        if quiet_value is True:
            raise r.fail((*path, "quiet_after"), "give a duration (2d) or false")
        if quiet_value not in (None, False):
            quiet_after = r.duration(entry, path, "quiet_after", None)
        sites.append(SiteConfig(
            spelling=spelling, key=ref.key, base=ref.base,
            every=r.duration(entry, path, "every", None) or default_every,  # type: ignore[arg-type]
            timeout=r.duration(entry, path, "timeout", None) or default_timeout,  # type: ignore[arg-type]
            window=f"{int(window.total_seconds())}s" if window else None,
            categories=tuple(c.strip("/") for c in categories), revisit=revisit,
            recheck=r.get(entry, path, "recheck", bool, False),
            max_articles=r.integer(entry, path, "max_articles", None, 1), settings=settings, media=media,
            quiet_after=quiet_after, quiet=quiet_value is not False, line=r.line(path),
        ))

    notifiers: list[Notifier] = []
    for i, entry in enumerate(r.get(data, (), "notify", list, [])):
        path = ("notify", i)
        if not isinstance(entry, dict):
            raise r.fail(path, "each notification target is a [[notify]] table")
        kind = r.get(entry, path, "type", str, required=True)
        if kind not in NOTIFIER_TYPES:
            raise r.fail((*path, "type"), f'"{kind}" is not one of {", ".join(NOTIFIER_TYPES)}')
        r.table(entry, path, NOTIFY[kind])
        name = r.get(entry, path, "name", str, f"{kind}-{i + 1}")
        if any(n.name == name for n in notifiers):
            raise r.fail((*path, "name"), f'"{name}" names another target too')
        events = r.strings(entry, path, "events") or EVENTS
        for e in events:
            if e not in EVENTS:
                raise r.fail((*path, "events"), f'"{e}" is not one of {", ".join(EVENTS)}')
        common: dict[str, Any] = dict(
            kind=kind, name=name, events=tuple(events),
            retries=r.integer(entry, path, "retries", 3 if kind != "command" else 2, 0),
            backoff=r.duration(entry, path, "backoff", "2s", allow_zero=True),
            timeout=r.duration(entry, path, "timeout", "10s" if kind != "command" else "30s"),
        )
        if kind == "webhook":
            url = r.get(entry, path, "url", str, required=True)
            if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
                raise r.fail((*path, "url"), f'"{url}" is not an http:// or https:// URL')
            headers = r.get(entry, path, "headers", dict, {})
            for k, v in headers.items():
                if not isinstance(v, str):
                    raise r.fail((*path, "headers", k), f"{_show(v)} is not a string")
            notifiers.append(Notifier(url=url, headers=dict(headers), **common))
        elif kind == "email":
            starttls = r.get(entry, path, "starttls", bool, True)
            user = r.get(entry, path, "user", str)
            password_env = r.get(entry, path, "password_env", str)
            if password_env is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", password_env):
                raise r.fail((*path, "password_env"), "the name of an environment variable (the password itself"
                             " never goes in the file)")
            if password_env and password_env not in env:
                raise r.fail((*path, "password_env"), f"the environment variable {password_env} is not set")
            if password_env and not user:
                raise r.fail((*path, "user"), "password_env is given: the login name goes in user")
            to = r.strings(entry, path, "to")
            if not to:
                raise r.fail((*path, "to"), "at least one address to send to") if "to" in entry else \
                    ConfigError(file, r.line(path), _name(path), "'to' is required here")
            for addr in (*to, entry.get("from", "")):
                if addr and "@" not in addr:
                    raise r.fail((*path, "to" if addr in to else "from"), f'"{addr}" is not an e-mail address')
            notifiers.append(Notifier(
                host=r.get(entry, path, "host", str, required=True),
                port=r.integer(entry, path, "port", 587 if starttls else 25, 1),  # type: ignore[arg-type]
                starttls=starttls, user=user, password_env=password_env,
                sender=r.get(entry, path, "from", str, required=True), to=to,
                subject_prefix=r.get(entry, path, "subject_prefix", str, "[newsarchive]"), **common))
        else:
            command = r.get(entry, path, "command", (str, list), required=True)
            argv = shlex.split(command) if isinstance(command, str) else command
            if not argv or not all(isinstance(a, str) for a in argv):
                raise r.fail((*path, "command"), "a command line (a string or a list of strings)")
            notifiers.append(Notifier(command=tuple(argv), **common))

    searches: list[SavedSearch] = []
    names = {n.name for n in notifiers}
    for i, entry in enumerate(r.get(data, (), "searches", list, [])):
        path = ("searches", i)
        if not isinstance(entry, dict):
            raise r.fail(path, "each saved search is a [[searches]] table")
        r.table(entry, path, SEARCH)
        name = r.get(entry, path, "name", str, required=True)
        if any(s.name == name for s in searches):
            raise r.fail((*path, "name"), f'"{name}" names another saved search too')
        query = r.get(entry, path, "query", str, required=True)
        from .store.search import QueryError, parse_query

        try:
            parse_query(query)
        except QueryError as exc:
            raise r.fail((*path, "query"), str(exc)) from None
        site = r.get(entry, path, "site", str)
        if site is not None:
            try:
                site = resolve(site).key
            except UnknownSite as exc:
                raise r.fail((*path, "site"), str(exc)) from None
        targets = r.strings(entry, path, "notify")
        for t in targets:
            if t not in names:
                known = ", ".join(sorted(names)) or "none"
                raise r.fail((*path, "notify"), f'"{t}" is no [[notify]] name (known: {known})')
        if not any("search" in n.events and (not targets or n.name in targets) for n in notifiers):
            r.warnings.append(f"{file}:{r.line(path)}: searches[{i + 1}]: no notification target takes"
                              " \"search\" events: matches are only recorded")
        searches.append(SavedSearch(name=name, query=query, site=site, section=r.get(entry, path, "section", str),
                                    author=r.get(entry, path, "author", str), notify=targets,
                                    max_listed=r.integer(entry, path, "max_listed", 20, 1)))  # type: ignore[arg-type]

    return Config(path=file, archive=archive, concurrency=concurrency, stop_grace=stop_grace,  # type: ignore[arg-type]
                  sites=tuple(sites), notifiers=tuple(notifiers), searches=tuple(searches), alarms=alarms,
                  warnings=tuple(r.warnings))


EXAMPLE = '''\
# newsarchive.toml: the sites the scheduler crawls, the alarms, who is told, saved searches.
# Check it with `newsarchive config check`; run it with `newsarchive schedule` (docs/operations.md).
# Durations: 90s, 15m, 6h, 7d. Relative paths are relative to this file.

archive = "data/archive.db"        # the SQLite archive (its folder is made if missing)

[schedule]
concurrency = 2                    # crawls at once (each in its own process; one site never twice)
every = "1h"                       # a site's interval when it gives none
timeout = "2h"                     # a crawl still running after this is stopped and counted as failed
stop_grace = "5s"                  # SIGTERM: how long crawls get to stop before they are killed

[alarms]
failures = 3                       # failed runs in a row that open the "failing" alarm (0: never)
repeat = "6h"                      # an open alarm is sent again at most this often ("0": never)
quiet_factor = 3                   # "quiet": no new article for 3x the site's usual longest gap...
quiet_min = "6h"                   # ...and at least this long
disk_free = "2GiB"                 # free space on the archive's disk below this (or "5%"; false: off)

[[sites]]
site = "baonghean"                 # a key of `newsarchive sites`, a host or a base URL
every = "15m"
# window = "7d"                    # how far back an empty archive reaches (NEWSARCHIVE_WINDOW)
# categories = ["xa-hoi", "thoi-su"]  # only these categories (crawled in turn); default: the whole site
# revisit = "1h,6h,24h,7d"         # re-check schedule after publication
# recheck = false                  # re-check every archived article of the window on every run
# max_articles = 500               # article pages per run at most
# timeout = "30m"                  # this site's crawl timeout
# quiet_after = "2d"               # the quiet alarm after this long without a new article (false: never)
media = true                       # images, og:image, audio, posters archived too (false: crawl --no-media)
[sites.settings]                   # politeness overrides: Scrapy settings (crawl -s NAME=VALUE)
DOWNLOAD_DELAY = 1.0

[[sites]]
site = "https://hanoimoi.vn/"
every = "30m"

[[notify]]
type = "webhook"                   # an HTTP POST of the JSON payload (docs/operations.md)
name = "ops"
url = "https://hooks.example.org/newsarchive"
# headers = { Authorization = "Bearer ..." }
events = ["alarm", "search"]
retries = 3                        # attempts after the first, with doubling waits
backoff = "2s"

# An email target (uncomment it; its password is read from the environment variable named):
# [[notify]]
# type = "email"
# name = "desk"
# host = "smtp.example.org"
# port = 587
# starttls = true
# user = "newsarchive@example.org"
# password_env = "NEWSARCHIVE_SMTP_PASSWORD"   # the password comes from this environment variable
# from = "newsarchive@example.org"
# to = ["desk@example.org"]
# events = ["search"]

[[notify]]
type = "command"                   # the JSON payload on stdin
name = "pager"
command = ["/usr/local/bin/page-oncall", "--team", "archive"]
events = ["alarm"]

[[searches]]
name = "dien-bien"
query = '"dien bien" AND (lu OR mua)'   # the `newsarchive search` language
site = "baonghean"                 # filters, as search's --site, --section, --author
# section = "Xã hội"
# author = "Nguyễn Văn A"
notify = ["ops"]                   # default: every target taking "search" events
max_listed = 20                    # articles listed in one notice at most
'''
