#!/usr/bin/env python3
"""Self-test of tests/mock/backend.py (in-process and standalone) and of the harness file
writers, without codex: so a broken mock shows up here, not as a confusing codex failure."""

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from backend import jwt_claims, make_jwt, pkce_challenge  # noqa: E402

failures = []
check = h.checker(failures)


class Client:
    def __init__(self, port, ctx):
        self.port, self.ctx = port, ctx

    def req(self, method, path, body=None, headers=None, timeout=10):
        c = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx,
                                        timeout=timeout)
        hdrs = dict(headers or {})
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
            hdrs.setdefault("Content-Type", "application/json")
        c.request(method, path, body=body, headers=hdrs)
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data

    def js(self, method, path, body=None, headers=None, timeout=10):
        status, hdrs, data = self.req(method, path, body, headers, timeout)
        try:
            return status, hdrs, json.loads(data)
        except ValueError:
            return status, hdrs, data


def acct(account, bearer=None):
    hdrs = {"ChatGPT-Account-Id": account}
    if bearer:
        hdrs["Authorization"] = "Bearer " + bearer
    return hdrs


def test_jwt():
    t = make_jwt("a@example.com", "acct-A", "user-A", "pro", exp=2000000000, fedramp=True)
    c = jwt_claims(t)
    auth = c["https://api.openai.com/auth"]
    check(len(t.split(".")) == 3 and c["email"] == "a@example.com" and c["exp"] == 2000000000
          and auth == {"chatgpt_account_id": "acct-A", "chatgpt_plan_type": "pro",
                       "chatgpt_user_id": "user-A", "user_id": "user-A",
                       "chatgpt_account_is_fedramp": True},
          "make_jwt carries the claims codex reads")


def test_responses(mb, c):
    s, _, body = c.js("GET", "/backend-api/wham/accounts/check", headers=acct("acct-Z"))
    check(s == 200 and body["accounts"][0]["id"] == "acct-Z"
          and body["accounts"][0]["workspace_backend_origin"] == "NO_CONSTRAINT",
          "accounts/check echoes the ChatGPT-Account-Id")
    s, _, _ = c.req("GET", "/backend-api/codex/responses",
                    headers={"Upgrade": "websocket", "Connection": "Upgrade"})
    check(s == 426, "a websocket upgrade on /responses gets 426")

    mb.set_account("default", responses=["unauthorized", "ok"])
    mb.set_account("acct-Q", responses=[{"outcome": "ok", "text": "custom"}, "server_error"])
    got = [c.req("POST", "/backend-api/codex/responses", "{}", acct(a))[0]
           for a in ("acct-1", "acct-1", "acct-1", "acct-2")]
    check(got == [401, 200, 200, 401], "default queue is per account, then ok (%r)" % got)
    s, hdrs, data = c.req("POST", "/backend-api/codex/responses", "{}", acct("acct-Q"))
    text = data.decode()
    events = [ln[7:] for ln in text.splitlines() if ln.startswith("event: ")]
    check(s == 200 and hdrs["content-type"] == "text/event-stream" and '"custom"' in text
          and events == ["response.created", "response.output_item.added",
                         "response.output_text.delta", "response.output_item.done",
                         "response.completed"], "ok outcome is the SSE sequence (%r)" % events)
    check(hdrs.get("x-codex-primary-used-percent") == "12"
          and hdrs.get("x-codex-secondary-window-minutes") == "10080"
          and hdrs.get("x-codex-credits-has-credits") == "false", "ok carries rate-limit headers")
    check(c.req("POST", "/backend-api/codex/responses", "{}", acct("acct-Q"))[0] == 500,
          "server_error outcome")

    mb.set_account("acct-L", responses=["usage_limit"], usage_limit={"resets_in_seconds": 120})
    s, hdrs, body = c.js("POST", "/backend-api/codex/responses", "{}", acct("acct-L"))
    e = body["error"]
    check(s == 429 and e["type"] == "usage_limit_reached" and e["resets_in_seconds"] == 120
          and abs(e["resets_at"] - time.time() - 120) < 5 and e["plan_type"] == "plus"
          and hdrs["x-codex-primary-used-percent"] == "100", "usage_limit outcome")

    mb.set_account("default", responses=[])
    mb.set_account("acct-B", require_bearer="good")
    bad = c.req("POST", "/backend-api/codex/responses", "{}", acct("acct-B", "bad"))[0]
    good = c.req("POST", "/backend-api/codex/responses", "{}", acct("acct-B", "good"))[0]
    check((bad, good) == (401, 200), "require_bearer refuses other bearers")
    r = mb.requests(endpoint="responses", account="acct-B")
    check([x["bearer"] for x in r] == ["bad", "good"] and r[0]["outcome"] == "unauthorized",
          "requests are recorded with bearer and outcome")


def test_usage(mb, c):
    mb.set_account("acct-U", plan="pro", usage={"primary": {"used_percent": 77,
                                                            "window_seconds": 18000},
                                                "queue": ["unauthorized", "error", "garbage"]})
    got = [c.req("GET", "/backend-api/wham/usage", headers=acct("acct-U"))[0] for _ in range(3)]
    check(got == [401, 500, 200], "usage queue of modes (%r)" % got)
    s, _, body = c.js("GET", "/backend-api/wham/usage", headers=acct("acct-U"))
    rl = body["rate_limit"]
    check(s == 200 and body["plan_type"] == "pro" and rl["primary_window"]["used_percent"] == 77
          and rl["primary_window"]["limit_window_seconds"] == 18000
          and rl["secondary_window"]["limit_window_seconds"] == 604800
          and body["credits"]["balance"] == "0", "usage body shape")


def test_refresh(mb, c):
    mb.add_refresh_token("rt-1", email="r@example.com", account_id="acct-R", user_id="user-R",
                         plan="plus")
    body = {"client_id": "app_x", "grant_type": "refresh_token", "refresh_token": "rt-1"}
    s, _, tok = c.js("POST", "/oauth/token", body)
    ok = s == 200 and tok["refresh_token"] != "rt-1"
    check(ok and jwt_claims(tok["id_token"])["email"] == "r@example.com"
          and jwt_claims(tok["access_token"])["https://api.openai.com/auth"]
          ["chatgpt_account_id"] == "acct-R", "refresh returns rotated tokens")
    check(mb.latest_access_token("acct-R") == tok.get("access_token"),
          "latest_access_token tracks the issued token")
    s, _, err = c.js("POST", "/oauth/token", body)
    check(s == 401 and err["error"]["code"] == "refresh_token_reused",
          "the rotated-out refresh token is refused as reused")
    s, _, tok2 = c.js("POST", "/oauth/token", dict(body, refresh_token=tok["refresh_token"]))
    check(s == 200 and jwt_claims(tok2["id_token"])["email"] == "r@example.com",
          "the issued refresh token works in turn")
    s, _, err = c.js("POST", "/oauth/token", dict(body, refresh_token="nobody"))
    check(s == 400 and err["error"] == "invalid_grant", "unknown refresh token -> invalid_grant")
    mb.add_refresh_token("rt-exp", error="refresh_token_expired")
    s, _, err = c.js("POST", "/oauth/token", dict(body, refresh_token="rt-exp"))
    check(s == 401 and err["error"]["code"] == "refresh_token_expired", "configured error")
    mb.add_refresh_token("rt-flaky", account_id="acct-F", fail_times=2, fail_status=503)
    got = [c.req("POST", "/oauth/token", dict(body, refresh_token="rt-flaky"))[0]
           for _ in range(3)]
    check(got == [503, 503, 200], "fail_times then success (%r)" % got)
    mb.add_refresh_token("rt-slow", account_id="acct-S", delay=2)
    t0 = time.monotonic()
    try:
        c.req("POST", "/oauth/token", dict(body, refresh_token="rt-slow"), timeout=0.5)
        timed_out = False
    except (socket.timeout, TimeoutError):
        timed_out = True
    check(timed_out and time.monotonic() - t0 < 1.5, "delay makes a client time out")
    mb.set_account("acct-R", require_bearer="latest")
    s1 = c.req("GET", "/backend-api/wham/usage", headers=acct("acct-R", tok["access_token"]))[0]
    s2 = c.req("GET", "/backend-api/wham/usage", headers=acct("acct-R", tok2["access_token"]))[0]
    check((s1, s2) == (401, 200), "require_bearer latest accepts only the newest access token")


def test_authorize(mb, c):
    verifier = "v" * 50
    mb.set_oauth(login={"email": "web@example.com", "account_id": "acct-W"})
    q = urllib.parse.urlencode({"response_type": "code", "client_id": "app_x",
                                "redirect_uri": "http://localhost:1455/auth/callback",
                                "code_challenge": pkce_challenge(verifier),
                                "code_challenge_method": "S256", "state": "st-123"})
    s, hdrs, _ = c.req("GET", "/oauth/authorize?" + q)
    loc = urllib.parse.urlsplit(hdrs.get("location", ""))
    qs = dict(urllib.parse.parse_qsl(loc.query))
    check(s == 302 and loc.netloc == "localhost:1455" and qs.get("state") == "st-123"
          and qs.get("code"), "authorize redirects with code and the same state")
    form = {"grant_type": "authorization_code", "code": qs.get("code", ""),
            "redirect_uri": "http://localhost:1455/auth/callback", "client_id": "app_x",
            "code_verifier": "wrong"}
    ctype = {"Content-Type": "application/x-www-form-urlencoded"}
    s, _, _ = c.js("POST", "/oauth/token", urllib.parse.urlencode(form), ctype)
    check(s == 400, "a wrong code_verifier is refused")
    s, hdrs, _ = c.req("GET", "/oauth/authorize?" + q)
    form["code"] = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(hdrs["location"]).query))[
        "code"]
    form["code_verifier"] = verifier
    s, _, tok = c.js("POST", "/oauth/token", urllib.parse.urlencode(form), ctype)
    check(s == 200 and jwt_claims(tok["id_token"])["email"] == "web@example.com"
          and tok["refresh_token"], "the code exchange returns the login's tokens")
    s, _, _ = c.js("POST", "/oauth/token", urllib.parse.urlencode(form), ctype)
    check(s == 400, "a code works once")
    mb.set_oauth(authorize_error="access_denied")
    s, hdrs, _ = c.req("GET", "/oauth/authorize?" + q)
    check("error=access_denied" in hdrs.get("location", "") and "st-123" in hdrs["location"],
          "authorize_error redirects with the error")
    mb.set_oauth(authorize_error=None)


def test_device(mb, c):
    s, _, uc = c.js("POST", "/api/accounts/deviceauth/usercode", {"client_id": "app_x"})
    check(s == 200 and isinstance(uc["interval"], str) and uc["user_code"]
          and uc["device_auth_id"], "usercode answer (interval is a string)")
    poll = {"device_auth_id": uc["device_auth_id"], "user_code": uc["user_code"]}
    s1 = c.req("POST", "/api/accounts/deviceauth/token", poll)[0]
    mb.approve_device(email="dev@example.com", account_id="acct-D")
    s, _, code = c.js("POST", "/api/accounts/deviceauth/token", poll)
    check(s1 == 403 and s == 200 and pkce_challenge(code["code_verifier"])
          == code["code_challenge"], "pending (403) until approved, then code + PKCE pair")
    form = urllib.parse.urlencode({
        "grant_type": "authorization_code", "code": code["authorization_code"],
        "redirect_uri": "https://127.0.0.1:%d/deviceauth/callback" % mb.port,
        "client_id": "app_x", "code_verifier": code["code_verifier"]})
    s, _, tok = c.js("POST", "/oauth/token", form,
                     {"Content-Type": "application/x-www-form-urlencoded"})
    claims = jwt_claims(tok.get("id_token", "")) or {}
    check(s == 200 and claims.get("email") == "dev@example.com",
          "device code exchange returns the approved identity's tokens")
    check(mb.count("device_token") == 2 and mb.requests(endpoint="oauth_token")[-1]
          ["grant_type"] == "authorization_code", "device requests are counted")


def responses_body(prompts, title=False):
    body = {"model": "gpt-test", "stream": True, "input": [
        {"type": "message", "role": "developer",
         "content": [{"type": "input_text", "text": "instructions"}]},
        {"type": "message", "role": "user",
         "content": [{"type": "input_text", "text": "<environment_context>x"}]}]}
    for p in prompts:
        body["input"].append({"type": "message", "role": "user",
                              "content": [{"type": "input_text", "text": p}]})
    if title:
        body["text"] = {"format": {"type": "json_schema", "name": "codex_output_schema",
                                   "schema": {"properties": {"title": {"type": "string"}}}}}
    return json.dumps(body).encode()


def zstd(data):
    p = subprocess.run(["zstd", "-q", "-c"], input=data, stdout=subprocess.PIPE, timeout=30)
    return p.stdout


def test_tui_controls(mb, c):
    """What the real-TUI tests rely on: decoded zstd bodies, answers naming the prompt,
    thread-title requests kept out of the queue, and a time-limited account."""
    mb.configure({"default": {"text": "{account} answers: {prompt} (#{n})"}})
    mb.clear_requests()
    path = "/backend-api/codex/responses"
    hdrs = dict(acct("acct-A"), **{"Content-Type": "application/json",
                                   "Content-Encoding": "zstd"})
    st, _, data = c.req("POST", path, zstd(responses_body(["one", "two"])), hdrs)
    check(st == 200 and b"acct-A answers: two (#1)" in data,
          "an ok answer names the account, the last prompt and the turn number")
    r = mb.requests(endpoint="responses")[-1]
    check(r["body"] is None and r["json"] and r["user_texts"] == ["one", "two"]
          and r["prompt"] == "two" and r["purpose"] == "turn",
          "a zstd body is decoded: user texts without wrappers (%r)" % r.get("user_texts"))
    mb.set_account("acct-A", responses=["usage_limit"])
    st, _, data = c.req("POST", path, zstd(responses_body(["one"], title=True)), hdrs)
    check(st == 200 and b"Mock title" in data and mb.requests()[-1]["purpose"] == "title",
          "a thread-title request gets a title and leaves the queue alone")
    st, _, _ = c.req("POST", path, zstd(responses_body(["three"])), hdrs)
    check(st == 429, "the next turn still gets the scripted usage limit")
    check(mb.prompts("acct-A") == ["two", "three"] and mb.answered_by("two") == ["acct-A"]
          and mb.answered_by("three") == [], "turns(), prompts() and answered_by()")

    until = mb.limit_until("acct-B", resets_in=2)
    hb = dict(acct("acct-B"), **{"Content-Type": "application/json"})
    st, rh, body = c.js("POST", path, responses_body(["b1"]), hb)
    err = body.get("error", {}) if isinstance(body, dict) else {}
    check(st == 429 and err.get("type") == "usage_limit_reached"
          and err.get("resets_at") == int(until)
          and rh.get("x-codex-primary-used-percent") == "100"
          and rh.get("x-codex-primary-reset-at") == str(int(until)),
          "a limited account gets usage_limit_reached with its reset time (%r)" % err)
    st, _, u = c.js("GET", "/backend-api/wham/usage", headers=acct("acct-B"))
    w = u["rate_limit"]["primary_window"]
    check(w["used_percent"] == 100 and w["reset_at"] == int(until)
          and 0 <= w["reset_after_seconds"] <= 3 and u["rate_limit"]["limit_reached"],
          "its usage shows the 5-hour window at 100 %% resetting then (%r)" % w)
    time.sleep(max(0, until - time.time()) + 0.1)
    st, _, data = c.req("POST", path, responses_body(["b2"]), hb)
    check(st == 200 and b"acct-B answers: b2" in data, "after the reset it answers again")
    st, _, u = c.js("GET", "/backend-api/wham/usage", headers=acct("acct-B"))
    check(u["rate_limit"]["primary_window"]["used_percent"] == 12
          and not u["rate_limit"]["limit_reached"], "and its usage is back to its settings")
    mb.set_account("acct-C", usage={"primary": {"used_percent": 50, "reset_at": until + 100}})
    st, _, u = c.js("GET", "/backend-api/wham/usage", headers=acct("acct-C"))
    w = u["rate_limit"]["primary_window"]
    check(w["reset_at"] == int(until) + 100 and 90 <= w["reset_after_seconds"] <= 100,
          "a usage window's absolute reset_at sets reset_after_seconds (%r)" % w)
    mb.configure({})


def test_standalone():
    d = tempfile.mkdtemp(prefix="cs-mock-sa-")
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump({"accounts": {"acct-A": {"responses": ["usage_limit"]}}}, f)
    p = subprocess.Popen([sys.executable, os.path.join(h.SOURCE_ROOT, "tests", "mock",
                                                       "backend.py"), "--state-dir", d],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        port = int(p.stdout.readline() or 0)
        with open(os.path.join(d, "port")) as f:
            check(port > 0 and int(f.read()) == port, "standalone prints and writes the port")
        import ssl
        c = Client(port, ssl.create_default_context(cafile=os.path.join(d, "ca.pem")))
        s1 = c.req("POST", "/backend-api/codex/responses", "{}", acct("acct-A"))[0]
        s2 = c.req("POST", "/backend-api/codex/responses", "{}", acct("acct-A"))[0]
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump({"accounts": {"acct-A": {"responses": ["unauthorized"]}}}, f)
        s3 = c.req("POST", "/backend-api/codex/responses", "{}", acct("acct-A"))[0]
        check((s1, s2, s3) == (429, 200, 401), "config.json is re-read; a change restarts "
                                               "the queues (%r)" % ((s1, s2, s3),))
        with open(os.path.join(d, "requests.jsonl")) as f:
            lines = [json.loads(x) for x in f]
        check([x["status"] for x in lines] == [429, 200, 401]
              and lines[0]["account"] == "acct-A", "requests.jsonl has one line per request")
    finally:
        p.send_signal(signal.SIGTERM)
        try:
            rc = p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            rc = None
        check(rc == 0, "standalone exits on SIGTERM")
        shutil.rmtree(d, ignore_errors=True)


def test_files(mb):
    home = h.TestHome(mb)
    try:
        a = h.make_account(mb, "alice@example.com", "acct-A")
        path = h.write_accounts(home.switch_home, [a])
        doc = h.read_accounts(home.switch_home)
        st = doc["accounts"][0]
        check(h.file_mode(path) == 0o600 and h.file_mode(home.switch_home) == 0o700,
              "accounts.json is 0600 in a 0700 dir")
        check(doc["version"] == 1 and st["auth_mode"] == "chat_g_p_t"
              and st["auth_data"]["type"] == "chat_g_p_t"
              and st["auth_data"]["account_id"] == "acct-A" and st["last_used_at"] is None
              and st["chatgpt_account_is_fedramp"] is False
              and st["token_last_refresh_at"].endswith("Z"), "accounts.json format")
        p = h.write_auth_json(home.codex_home, a)
        with open(p) as f:
            auth = json.load(f)
        check(auth["auth_mode"] == "chatgpt" and auth["OPENAI_API_KEY"] is None
              and auth["tokens"]["refresh_token"] == a["refresh_token"]
              and h.file_mode(p) == 0o600, "auth.json format")
        env = home.env()
        check(env["HOME"] == home.home and env["CODEX_HOME"] == home.codex_home
              and env["CODEX_REFRESH_TOKEN_URL_OVERRIDE"].endswith("/oauth/token"),
              "env points at the temp homes and the mock")
        with open(os.path.join(home.codex_home, "config.toml")) as f:
            check(mb.chatgpt_base_url in f.read(), "config.toml points at the mock")
    finally:
        home.cleanup()


def main():
    signal.signal(signal.SIGALRM, lambda *_: h.fail("test took longer than 120 s"))
    signal.alarm(120)
    mb = h.start_mock()
    try:
        c = Client(mb.port, mb.ssl_context())
        for fn in (test_jwt, lambda: test_responses(mb, c), lambda: test_usage(mb, c),
                   lambda: test_refresh(mb, c), lambda: test_authorize(mb, c),
                   lambda: test_device(mb, c), lambda: test_tui_controls(mb, c),
                   test_standalone, lambda: test_files(mb)):
            try:
                fn()
            except Exception as e:  # noqa: BLE001
                check(False, "unexpected %s: %s" % (type(e).__name__, e))
    finally:
        mb.stop()
    print("%d check(s) failed" % len(failures) if failures else "all checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
