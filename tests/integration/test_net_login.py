#!/usr/bin/env python3
"""`codex-switch login` against the mock issuer: the browser flow (the test plays the
browser: it opens the printed URL and follows the redirect to the local callback), a wrong
state, duplicates, --replace, and the device-code flow. Login never writes auth.json."""

import http.client
import json
import os
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

BIN = os.environ["CODEX_SWITCH_BIN"]


def expect(cond, msg):
    if not cond:
        h.fail(msg)


def start_login(home, *args):
    port = h.free_port()
    env = home.env(CODEX_SWITCH_TEST_LOGIN_PORT=port)
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    p = subprocess.Popen([BIN, "login", *args], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    return p


def read_until(p, prefix, timeout=20):
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        line = p.stderr.readline()
        if not line:
            break
        seen.append(line)
        if line.strip().startswith(prefix):
            return line.strip(), seen
    p.kill()
    h.fail("no line starting with %r in %r" % (prefix, seen))


def get(url, ctx=None):
    u = urllib.parse.urlsplit(url)
    if u.scheme == "https":
        c = http.client.HTTPSConnection(u.hostname, u.port, context=ctx, timeout=20)
    else:
        c = http.client.HTTPConnection("127.0.0.1", u.port, timeout=20)
    c.request("GET", u.path + ("?" + u.query if u.query else ""))
    r = c.getresponse()
    body = r.read().decode(errors="replace")
    loc = r.getheader("Location")
    c.close()
    return r.status, body, loc


def browser_login(mb, home, name, *extra, tamper=None):
    p = start_login(home, name, *extra)
    url, _ = read_until(p, mb.base_url + "/oauth/authorize?")
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    for k, v in (("client_id", "app_EMoamEEZ73f0CkXaXp7hrann"), ("response_type", "code"),
                 ("code_challenge_method", "S256"), ("id_token_add_organizations", "true"),
                 ("codex_cli_simplified_flow", "true"), ("originator", "codex_cli_rs"),
                 ("scope", "openid profile email offline_access")):
        expect(q.get(k) == [v], "authorize parameter %s: %r" % (k, q.get(k)))
    expect(q["redirect_uri"][0].startswith("http://localhost:") and
           q["redirect_uri"][0].endswith("/auth/callback"), "redirect_uri")
    expect(len(q["state"][0]) >= 43 and len(q["code_challenge"][0]) == 43, "state/challenge")
    status, _, loc = get(url, mb.ssl_context())
    expect(status == 302 and loc, "authorize did not redirect")
    if tamper:
        loc = tamper(loc)
    status, page, _ = get(loc)
    out, err = p.communicate(timeout=30)
    return p.returncode, status, page, out, err


def stored(home):
    path = os.path.join(home.switch_home, "accounts.json")
    if not os.path.exists(path):
        return []
    return h.read_accounts(home.switch_home)["accounts"]


def test_browser(mb, home):
    rc, status, page, out, err = browser_login(mb, home, "work")
    expect(rc == 0 and status == 200 and "Signed in" in page, "login: %r %r" % (page, err))
    accs = stored(home)
    expect(len(accs) == 1 and accs[0]["name"] == "work" and
           accs[0]["email"] == "new@example.com", "stored %r" % accs)
    expect(accs[0]["auth_data"]["account_id"] == "acct-new", "account id claim")
    expect(not os.path.exists(os.path.join(home.codex_home, "auth.json")), "auth.json written")
    for k in ("access_token", "refresh_token", "id_token"):
        expect(accs[0]["auth_data"][k] not in out + err, "%s printed" % k)
    return accs[0]


def test_state_mismatch(mb, home):
    """A callback with a forged state (any local process can send one) gets 400 and the login
    keeps waiting for the real one."""
    p = start_login(home, "other")
    url, _ = read_until(p, mb.base_url + "/oauth/authorize?")
    status, _, loc = get(url, mb.ssl_context())
    expect(status == 302 and loc, "authorize did not redirect")
    for forged in (loc.replace("state=", "state=x"), loc.split("?")[0] + "?code=stolen"):
        status, page, _ = get(forged)
        expect(status == 400 and "State mismatch" in page, "forged: %d %r" % (status, page))
        time.sleep(0.2)
        if p.poll() is not None:
            h.fail("login gave up on a forged callback: %r" % p.stderr.read())
    expect(len(stored(home)) == 1, "an account was stored after a forged callback")
    status, page, _ = get(loc)
    out, err = p.communicate(timeout=30)
    # The real callback went through: the account is the one already stored as work.
    expect(p.returncode == 1 and "already stored as work" in err, "real callback: %r" % err)
    expect(len(stored(home)) == 1, "a duplicate was stored")


def test_duplicate_and_replace(mb, home, first):
    rc, status, page, out, err = browser_login(mb, home, "again")
    expect(rc == 1 and "already stored as work" in err, "duplicate: %r" % err)
    expect(status == 400, "the browser was told it worked: %r" % page)
    r = subprocess.run([BIN, "login", "work"], env=home.env(), capture_output=True, text=True)
    expect(r.returncode == 1 and "--replace" in r.stderr, "name taken: %r" % r.stderr)
    rc, status, page, out, err = browser_login(mb, home, "work", "--replace")
    expect(rc == 0 and status == 200, "replace: %r" % err)
    accs = stored(home)
    expect(len(accs) == 1, "replace added an account")
    a = accs[0]
    expect(a["id"] == first["id"] and a["created_at"] == first["created_at"], "kept fields")
    expect(a["auth_data"]["refresh_token"] != first["auth_data"]["refresh_token"], "tokens")


def test_device(mb, home):
    mb.set_oauth(device={"interval": "1", "approve_after_polls": 1},
                 login={"email": "dev@example.com", "account_id": "acct-dev",
                        "user_id": "user-dev", "plan": "pro"})
    p = start_login(home, "phone", "--device-auth")
    line, seen = read_until(p, "To sign in, open")
    expect(mb.base_url + "/codex/device" in line, "device URL: %r" % line)
    code = ""
    while not code:
        code = p.stderr.readline().strip()
    out, err = p.communicate(timeout=60)
    expect(p.returncode == 0, "device login failed: %r" % err)
    polled = [r["json"].get("user_code") for r in mb.requests(endpoint="device_token")]
    expect(polled and all(c == code for c in polled), "shown %r, polled %r" % (code, polled))
    a = [x for x in stored(home) if x["name"] == "phone"]
    expect(a and a[0]["email"] == "dev@example.com" and a[0]["plan_type"] == "pro", "%r" % a)
    expect(mb.count("device_token") >= 2, "did not poll")


def main():
    mb = h.start_mock()
    home = h.TestHome(mb, prefix="cs-net-login-")
    try:
        first = test_browser(mb, home)
        print("ok browser")
        test_state_mismatch(mb, home)
        print("ok state mismatch")
        test_duplicate_and_replace(mb, home, first)
        print("ok duplicate and replace")
        test_device(mb, home)
        print("ok device")
    finally:
        home.cleanup()
        mb.stop()
    print("1 passed, 0 failed")


main()
