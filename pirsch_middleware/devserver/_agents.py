"""Browser, operating system and platform from a user agent, for the receiver's statistics.

Small on purpose: it knows the browsers and systems most visits come from (Chrome, Firefox,
Safari, Edge, Opera; Windows, macOS, Linux, ChromeOS, Android, iOS) and answers ``""`` for
the rest, as Pirsch shows an unknown browser. Versions are ``major.minor``::

    parse_agent("Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0")
    # Agent(browser='Firefox', browser_version='120.0', os='Linux', os_version='',
    #       platform='desktop')
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

__all__ = ["Agent", "parse_agent"]

Platform = Literal["desktop", "mobile", "unknown"]

# First match wins: Edge and Opera also say Chrome, Chrome also says Safari.
_BROWSERS = (
    ("Edge", re.compile(r"\b(?:Edg|EdgA|EdgiOS|Edge)/(\d+(?:\.\d+)?)")),
    ("Opera", re.compile(r"\b(?:OPR|OPiOS)/(\d+(?:\.\d+)?)")),
    ("Firefox", re.compile(r"\b(?:Firefox|FxiOS)/(\d+(?:\.\d+)?)")),
    ("Chrome", re.compile(r"\b(?:Chrome|CriOS|Chromium)/(\d+(?:\.\d+)?)")),
    ("Safari", re.compile(r"\bVersion/(\d+(?:\.\d+)?)(?:\.\d+)*(?: Mobile/\w+)? Safari/")),
)
# iOS before macOS (an iPhone says "like Mac OS X"), Android before Linux.
_SYSTEMS = (
    ("Windows", re.compile(r"\bWindows NT (\d+(?:\.\d+)?)")),
    ("iOS", re.compile(r"\b(?:iPhone|iPad|iPod)\b.*?\bOS (\d+(?:_\d+)?)")),
    ("macOS", re.compile(r"\bMac OS X (\d+(?:[_.]\d+)*)")),
    ("Android", re.compile(r"\bAndroid(?: (\d+(?:\.\d+)?))?")),
    ("ChromeOS", re.compile(r"\bCrOS\b()")),
    ("Linux", re.compile(r"\bLinux\b()")),
)
_MOBILE = re.compile(r"\b(?:Mobile|iPhone|iPad|iPod|Android)\b")
_DESKTOP_SYSTEMS = frozenset({"Windows", "macOS", "Linux", "ChromeOS"})


@dataclass(frozen=True)
class Agent:
    browser: str
    browser_version: str
    os: str
    os_version: str
    platform: Platform


def parse_agent(user_agent: str, mobile_hint: str = "") -> Agent:
    """What ``user_agent`` says; ``mobile_hint`` is the Sec-CH-UA-Mobile client hint."""
    browser, browser_version = _first(_BROWSERS, user_agent)
    system, system_version = _first(_SYSTEMS, user_agent)
    if system == "Windows":
        # NT 10.0 is Windows 10 and 11 alike; 6.x are 7, 8 and 8.1.
        system_version = {"10.0": "10", "6.3": "8.1", "6.2": "8", "6.1": "7"}.get(
            system_version, system_version)
    platform: Platform = "unknown"
    if mobile_hint.strip() == "?1" or (_MOBILE.search(user_agent) and system != "Windows"):
        platform = "mobile"
    elif system in _DESKTOP_SYSTEMS or mobile_hint.strip() == "?0":
        platform = "desktop"
    return Agent(browser, browser_version, system, system_version.replace("_", "."), platform)


def _first(table: tuple[tuple[str, re.Pattern[str]], ...], text: str) -> tuple[str, str]:
    for name, pattern in table:
        match = pattern.search(text)
        if match:
            return name, match.group(1) or ""
    return "", ""
