"""newsarchive.toml: every mistake is one line naming the file, the line and the key, exit 2,
before anything runs; the commented example is a valid configuration."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import run_cli

from newsarchive.config import ConfigError, key_lines, load, parse_size

GOOD = """\
archive = "archive.db"

[schedule]
concurrency = 2

[[sites]]
site = "baonghean"
every = "15m"

[[sites]]
site = "https://hanoimoi.vn/"
categories = ["xa-hoi"]
[sites.settings]
DOWNLOAD_DELAY = 2

[[notify]]
type = "webhook"
name = "ops"
url = "https://hooks.example.org/x"

[[searches]]
name = "lu"
query = "lu lut"
notify = ["ops"]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "newsarchive.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_good_file_reads_whole(tmp_path: Path) -> None:
    cfg = load(write(tmp_path, GOOD))
    assert cfg.archive == tmp_path / "archive.db" and cfg.concurrency == 2
    assert [s.key for s in cfg.sites] == ["baonghean.vn", "hanoimoi.vn"]
    assert cfg.sites[0].every.total_seconds() == 900 and cfg.sites[1].every.total_seconds() == 3600
    command = cfg.sites[1].commands(cfg.archive, "python")
    assert command == [["python", "-m", "newsarchive.cli", "crawl", "https://hanoimoi.vn/", "--db",
                        str(tmp_path / "archive.db"), "-q", "-s", "DOWNLOAD_DELAY=2", "--category", "xa-hoi"]]
    assert cfg.searches[0].notify == ("ops",)


# (what is changed in GOOD, the line the error must name, words it must hold)
MISTAKES = [
    ('every = "15m"', 'every = "15x"', 8, "sites[1].every: '15x' is not a duration"),
    ('every = "15m"', 'evry = "15m"', 8, "sites[1].evry: unknown key"),
    ('site = "baonghean"', 'site = "nosuchsite"', 7, "sites[1].site: unknown site 'nosuchsite'"),
    ('site = "https://hanoimoi.vn/"', 'site = "www.baonghean.vn"', 11, "is the site baonghean.vn again"),
    ('concurrency = 2', 'concurrency = 0', 4, "schedule.concurrency: 0 is less than 1"),
    ('concurrency = 2', 'concurrency = "2"', 4, 'schedule.concurrency: "2" is not an integer'),
    ('DOWNLOAD_DELAY = 2', 'download_delay = 2', 14, "sites[2].settings.download_delay: a Scrapy setting"),
    ('url = "https://hooks.example.org/x"', 'url = "hooks.example.org"', 19, "notify[1].url"),
    ('type = "webhook"', 'type = "pager"', 17, 'notify[1].type: "pager" is not one of webhook, email, command'),
    ('query = "lu lut"', 'query = "lu AND"', 23, "searches[1].query: the search query ends with an operator"),
    ('notify = ["ops"]', 'notify = ["opz"]', 24, 'searches[1].notify: "opz" is no [[notify]] name'),
    ('categories = ["xa-hoi"]', 'categories = ["Xã hội"]', 12, "sites[2].categories"),
    ('name = "lu"', 'name = "lu"\nsite = "ftp://x.vn"', 23, "searches[1].site"),
    ('every = "15m"', 'every = 15m', 8, "not valid TOML"),
]


@pytest.mark.parametrize(("old", "new", "line", "words"), MISTAKES)
def test_each_mistake_is_one_line_with_the_key_and_its_line(tmp_path: Path, old: str, new: str, line: int,
                                                             words: str) -> None:
    path = write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(ConfigError) as caught:
        load(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:{line}: ") and words in message and "\n" not in message, message


def test_the_cli_says_it_in_one_line_and_exits_2_before_anything_runs(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace('every = "15m"', 'every = "soon"'))
    for command in (["config", "check"], ["schedule"], ["status"]):
        out = run_cli(*command, "--config", str(path), cwd=tmp_path)
        assert out.returncode == 2, (command, out.stderr)
        assert out.stderr.strip().count("\n") == 0 and f"{path}:8: sites[1].every" in out.stderr
    assert not (tmp_path / "archive.db").exists()  # nothing ran
    missing = run_cli("config", "check", "--config", str(tmp_path / "nope.toml"))
    assert missing.returncode == 2 and "no such file" in missing.stderr


def test_the_password_comes_from_the_environment_variable_the_file_names(tmp_path: Path) -> None:
    text = GOOD + """
[[notify]]
type = "email"
host = "smtp.example.org"
user = "me@example.org"
password_env = "NA_TEST_PASSWORD"
from = "me@example.org"
to = ["desk@example.org"]
"""
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=r":30: notify\[2\]\.password_env: the environment variable NA_TEST_PASSWORD"):
        load(path, environ={})
    cfg = load(path, environ={"NA_TEST_PASSWORD": "x"})
    assert cfg.notifiers[1].starttls and cfg.notifiers[1].port == 587
    assert load(path, environ={}, secrets=False).notifiers[1].password_env == "NA_TEST_PASSWORD"  # status


def test_the_example_is_a_valid_configuration(tmp_path: Path) -> None:
    """As a newcomer uses it: `config example > newsarchive.toml` in an empty folder, no
    environment prepared, then `config check` (the archive's folder is made by the first crawl)."""
    example = run_cli("config", "example")
    assert example.returncode == 0
    path = write(tmp_path, example.stdout)
    env = {k: v for k, v in os.environ.items() if k != "NEWSARCHIVE_SMTP_PASSWORD"}
    checked = run_cli("config", "check", "--config", str(path), env=env)
    assert checked.returncode == 0, checked.stderr
    assert "site baonghean.vn" in checked.stdout and "search dien-bien" in checked.stdout
    cfg = load(path, environ=env)
    assert not (tmp_path / "data").exists()  # checking makes nothing
    assert cfg.sites[0].settings == {"DOWNLOAD_DELAY": "1.0"} and cfg.sites[0].media is True


def test_media_off_is_crawl_no_media(tmp_path: Path) -> None:
    cfg = load(write(tmp_path, GOOD.replace('every = "15m"', 'every = "15m"\nmedia = false')))
    assert cfg.sites[0].media is False and "--no-media" in cfg.sites[0].commands(cfg.archive, "python")[0]
    assert cfg.sites[1].media is True and "--no-media" not in cfg.sites[1].commands(cfg.archive, "python")[0]


def test_key_lines_and_sizes() -> None:
    lines = key_lines(GOOD)
    assert lines[("sites", 1, "categories")] == 12 and lines[("sites", 1, "settings", "DOWNLOAD_DELAY")] == 14
    assert lines[("searches", 0, "notify")] == 24
    assert parse_size("2GiB") == (2 << 30, None) and parse_size("500MB") == (500_000_000, None)
    assert parse_size("5%") == (None, 5.0)
    with pytest.raises(ValueError):
        parse_size("lots")
