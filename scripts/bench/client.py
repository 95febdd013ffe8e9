#!/usr/bin/env python3
"""The benchmark's browser: signs users in through the embedded emulator's pages (as the
Rust tests' harness does), and fills a SQLite session file with stored sessions.

  client.py signin BASE UPN            prints the signed-in session cookie (name=value)
  client.py signins BASE COUNT THREADS signs COUNT sessions in (Adele, Megan, Alex in turn)
                                       and views / once with each; prints the time taken
  client.py fill DB COUNT              adds COUNT stored sessions to the session table
  client.py unfill DB                  removes the sessions `fill` added
  client.py token AUTHORITY SCOPE UPN  prints an access token for SCOPE (the built-in web app,
                                       resource owner password grant at the emulator): to
                                       call an API directly, as the proxy does
"""
import concurrent.futures
import http.cookiejar
import os
import re
import sqlite3
import sys
import time
import urllib.parse
import urllib.request

PASSWORD = "Passw0rd!"
USERS = ["AdeleV@contoso.onmicrosoft.com", "MeganB@contoso.onmicrosoft.com", "AlexW@contoso.onmicrosoft.com"]


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def browser():
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)
    return opener, jar


def fetch(opener, url, form=None):
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    try:
        with opener.open(urllib.request.Request(url, data=data)) as r:
            return r.status, r.headers, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode(errors="replace")


def hidden(html, name):
    m = re.search(r'name="%s" value="([^"]*)"' % re.escape(name), html)
    if not m:
        raise SystemExit(f"no {name} on the emulator's page:\n{html[:500]}")
    return m.group(1)


def sign_in(base, upn):
    opener, jar = browser()
    status, headers, _ = fetch(opener, f"{base}/auth/login?return_to=/")
    authorize = headers["Location"]
    action = authorize.split("?")[0]
    status, headers, html = fetch(opener, authorize)
    for _ in range(6):
        if status != 200:
            break
        step = hidden(html, "_step")
        form = {"_txn": hidden(html, "_txn"), "_step": step}
        if step == "username":
            form["username"] = upn
        elif step == "password":
            form.update(username=upn, password=PASSWORD)
        elif step == "mfa":
            form["otc"] = "123456"
        elif step == "consent":
            form["consent"] = "accept"
        status, headers, html = fetch(opener, action, form)
    status, headers, _ = fetch(opener, headers["Location"])
    if status != 303 and status != 302:
        raise SystemExit(f"the callback answered {status}")
    cookie = next(c for c in jar if c.name.endswith("bff-session"))
    return opener, f"{cookie.name}={cookie.value}"


def main():
    cmd = sys.argv[1]
    if cmd == "signin":
        _, cookie = sign_in(sys.argv[2], sys.argv[3])
        print(cookie)
    elif cmd == "signins":
        base, count, threads = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])

        def one(i):
            opener, _ = sign_in(base, USERS[i % len(USERS)])
            status, _, page = fetch(opener, f"{base}/")
            if status != 200 or "profile-name" not in page:
                raise SystemExit(f"the signed-in page answered {status}")

        started = time.time()
        with concurrent.futures.ThreadPoolExecutor(threads) as pool:
            list(pool.map(one, range(count)))
        print(f"{time.time() - started:.1f}")
    elif cmd == "fill":
        db, count = sys.argv[2], int(sys.argv[3])
        con = sqlite3.connect(db)
        expiry = int(time.time()) + 8 * 3600
        blob = os.urandom(1500)  # about a sealed signed-in record
        con.executemany(
            "insert into tower_sessions (id, data, expiry_date) values (?, ?, ?)",
            (("filler-" + os.urandom(16).hex(), blob, expiry) for _ in range(count)),
        )
        con.commit()
    elif cmd == "unfill":
        con = sqlite3.connect(sys.argv[2])
        con.execute("delete from tower_sessions where id like 'filler-%'")
        con.commit()
    elif cmd == "token":
        authority, scope, upn = sys.argv[2], sys.argv[3], sys.argv[4]
        form = {
            "grant_type": "password",
            "client_id": "dd1d6603-7fe3-411d-b985-091f1cf1c698",
            "client_secret": "dev-web-app-secret",
            "username": upn,
            "password": PASSWORD,
            "scope": scope,
        }
        opener, _ = browser()
        status, _, body = fetch(opener, f"{authority}/3dac8762-d1be-44f2-861a-a7e2aafdfc78/oauth2/v2.0/token", form)
        if status != 200:
            raise SystemExit(f"token: {status} {body}")
        import json
        print(json.loads(body)["access_token"])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
