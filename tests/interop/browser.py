"""A scripted web browser for the interoperability tests: a user clicking through HTML pages.

It knows nothing about the provider's internals: it follows redirects, reads the HTML forms
and links of each page and does what a person would do with them, then stops at a page that
asks nothing more (or at an error page). Used as ``$BROWSER`` for the browser login::

    python browser.py --ca CA.pem --login alice [--deny] [--log hops.jsonl] URL

and run by the device-flow tests on the verification URL::

    python browser.py --ca CA.pem --login alice --user-code ABCD-EFGH URL

What it does on a page:

- a redirect (301/302/303/307): follows it; a redirect to a loopback ``http://`` URL is the
  login's callback (``--callback-iss`` or ``$INTEROP_CALLBACK_ISS``, and ``--drop-iss``,
  rewrite its ``iss`` first: a mix-up attacker; ``--no-callback`` stops before it);
- a login form (an ``<input name="login">`` or ``name="username"`` and a password field): fills
  in ``--login`` and ``--password`` and submits, or, with ``--deny``, follows the page's
  cancel/abort link instead;
- a consent/confirmation form: submits it (with ``--deny``: presses the abort button, or
  follows the abort link);
- a form asking for a ``user_code``: types ``--user-code``;
- an auto-submitting form (``document.forms[0].submit()``, form_post): submits it, as the
  page's script would;
- anything else: stops.

Every hop is appended to ``--log`` as JSON lines ``{"method", "url", "status", "location"}``.
Exit status 0 when the last page answered below 400, 2 otherwise, 1 on a transport error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import requests

MAX_HOPS = 40


@dataclass
class Form:
    id: str | None
    action: str
    method: str
    fields: list[tuple[str, str, str]] = field(default_factory=list)  # (name, value, type)
    buttons: list[tuple[str | None, str | None]] = field(default_factory=list)  # (name, value)

    def names(self) -> set[str]:
        return {name for name, _, _ in self.fields}

    def values(self) -> dict[str, str]:
        return {name: value for name, value, _ in self.fields}


class PageParser(HTMLParser):
    """The forms (inputs and buttons, including ``form="id"`` ones) and links of a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self.links: list[tuple[str, str]] = []  # (href, text)
        self._current: Form | None = None
        self._orphans: list[tuple[str, dict[str, str | None]]] = []
        self._link: list[str] | None = None
        self._link_href = ""
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form":
            self._current = Form(
                id=a.get("id"),
                action=a.get("action") or "",
                method=(a.get("method") or "get").lower(),
            )
            self.forms.append(self._current)
        elif tag in ("input", "button"):
            owner = a.get("form")
            if owner is not None and (self._current is None or self._current.id != owner):
                self._orphans.append((tag, a))
            elif self._current is not None:
                self._add(self._current, tag, a)
        elif tag == "a" and a.get("href"):
            self._link = []
            self._link_href = a["href"] or ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._current = None
        elif tag == "a" and self._link is not None:
            self.links.append((self._link_href, "".join(self._link).strip()))
            self._link = None

    def handle_data(self, data: str) -> None:
        if self._link is not None:
            self._link.append(data)
        self.text.append(data)

    def close(self) -> None:
        super().close()
        for tag, a in self._orphans:
            for form in self.forms:
                if form.id == a.get("form"):
                    self._add(form, tag, a)

    @staticmethod
    def _add(form: Form, tag: str, a: dict[str, str | None]) -> None:
        kind = (a.get("type") or ("submit" if tag == "button" else "text")).lower()
        if kind == "submit":
            form.buttons.append((a.get("name"), a.get("value")))
        elif a.get("name"):
            form.fields.append((a["name"] or "", a.get("value") or "", kind))


@dataclass
class Options:
    login: str
    password: str = "password"
    deny: bool = False
    user_code: str | None = None
    callback_iss: str | None = None
    drop_iss: bool = False
    no_callback: bool = False
    log: str | None = None


class Browser:
    def __init__(self, options: Options, ca: str | None) -> None:
        self.options = options
        self.session = requests.Session()
        self.session.trust_env = False
        self.session.verify = ca if ca else True

    def _log(self, entry: dict[str, object]) -> None:
        if self.options.log:
            with open(self.options.log, "a", encoding="utf-8") as f:
                f.write(json.dumps(entry) + "\n")

    def request(
        self, method: str, url: str, data: dict[str, str] | None = None
    ) -> requests.Response:
        response = self.session.request(method, url, data=data, allow_redirects=False, timeout=60)
        self._log(
            {
                "method": method,
                "url": url,
                "status": response.status_code,
                "location": response.headers.get("Location"),
            }
        )
        return response

    def _callback_url(self, url: str) -> str:
        parts = urlsplit(url)
        query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
        if self.options.drop_iss or self.options.callback_iss is not None:
            query = [(k, v) for k, v in query if k != "iss"]
        if self.options.callback_iss is not None:
            query.append(("iss", self.options.callback_iss))
        return urlunsplit(parts._replace(query=urlencode(query)))

    def run(self, url: str) -> int:
        method, data = "GET", None
        response: requests.Response | None = None
        for _ in range(MAX_HOPS):
            if _is_loopback_callback(url):
                if self.options.no_callback:
                    return 0
                url = self._callback_url(url)
            response = self.request(method, url, data)
            if response.is_redirect:
                location = response.headers["Location"]
                url = urljoin(url, location)
                method, data = "GET", None
                continue
            step = self.next_step(url, response)
            if step is None:
                break
            method, url, data = step
        if response is None:
            return 1
        return 0 if response.status_code < 400 else 2

    def next_step(
        self, url: str, response: requests.Response
    ) -> tuple[str, str, dict[str, str] | None] | None:
        if "html" not in response.headers.get("Content-Type", ""):
            return None
        page = PageParser()
        page.feed(response.text)
        page.close()
        opts = self.options
        for form in page.forms:
            names = form.names()
            action = urljoin(url, form.action) if form.action else url
            data = form.values()
            if ("login" in names or "username" in names) and "password" in names:
                if opts.deny:
                    return self._abort_link(url, page)
                data["login" if "login" in names else "username"] = opts.login
                data["password"] = opts.password
                return form.method.upper(), action, data
            if "user_code" in names and not data.get("user_code"):
                if opts.user_code is None:
                    return None
                data["user_code"] = opts.user_code
                return form.method.upper(), action, data
            if "document.forms[0].submit()" in response.text and form is page.forms[0]:
                return form.method.upper(), action, data
            if form.buttons or data:
                if opts.deny:
                    for name, value in form.buttons:
                        if name and "abort" in name.lower():
                            data[name] = value or ""
                            return form.method.upper(), action, data
                    link = self._abort_link(url, page)
                    if link is not None:
                        return link
                for name, value in form.buttons:
                    if name and "abort" not in name.lower():
                        data[name] = value or ""
                        break
                return form.method.upper(), action, data
        return None

    @staticmethod
    def _abort_link(url: str, page: PageParser) -> tuple[str, str, None] | None:
        for href, text in page.links:
            if any(word in (href + text).lower() for word in ("abort", "cancel", "deny")):
                return "GET", urljoin(url, href), None
        return None


def _is_loopback_callback(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme == "http" and parts.hostname in {"127.0.0.1", "localhost", "::1"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="interop-browser")
    parser.add_argument("url")
    parser.add_argument("--ca", default=None)
    parser.add_argument("--login", default="alice@example.com")
    parser.add_argument("--password", default="password")
    parser.add_argument("--deny", action="store_true")
    parser.add_argument("--user-code", default=None)
    # $BROWSER splits its value at ":", so an URL is better given through the environment.
    parser.add_argument("--callback-iss", default=os.environ.get("INTEROP_CALLBACK_ISS"))
    parser.add_argument("--drop-iss", action="store_true")
    parser.add_argument("--no-callback", action="store_true")
    parser.add_argument("--log", default=None)
    args = parser.parse_args(argv)
    options = Options(
        login=args.login,
        password=args.password,
        deny=args.deny,
        user_code=args.user_code,
        callback_iss=args.callback_iss,
        drop_iss=args.drop_iss,
        no_callback=args.no_callback,
        log=args.log,
    )
    try:
        return Browser(options, args.ca).run(args.url)
    except requests.RequestException as exc:
        print(f"interop-browser: {type(exc).__name__}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
