#!/usr/bin/env python3
"""The real codex app-server (pinned, or CS_CODEX_VERSION) against the mock backend, driven through the harness:
capability-token auth, external ChatGPT tokens, hot swap, usage limit, 401 -> refresh request,
usage read, and the fake TUI (fake_codex.py) running a scenario against the same server.
Runs in well under two minutes; every wait is bounded."""

import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

failures = []
check = h.checker(failures)


def last_responses(mb, account=None):
    reqs = [r for r in mb.requests(endpoint="responses", account=account)]
    return reqs[-1] if reqs else None


def test_ws_auth(srv):
    status, _ = srv.http_get("/readyz")
    check(status == 200, "readyz answers 200")
    for token, text in (("wrong-token", "invalid websocket bearer token"),
                        (None, "missing websocket bearer token")):
        hdrs = {"Authorization": "Bearer " + token} if token else {}
        try:
            h.WsClient.connect(srv.url, hdrs, timeout=10).close()
            check(False, "upgrade without the right bearer is refused")
        except h.WsHandshakeError as e:
            check(e.status == 401 and text in e.body,
                  "upgrade with %s -> 401 %r (got %s %r)" % (token or "no bearer", text,
                                                            e.status, e.body))


def test_ws_frames(srv):
    """The harness WebSocket client itself: ping, a fragmented message, a non-JSON frame
    (ignored by the server), and a clean close."""
    ws = h.WsClient.connect(srv.url, {"Authorization": "Bearer " + srv.token})
    ws.ping(b"hi")
    ws.send_text("not json")
    ws.send_fragmented(json.dumps({"id": "frag", "method": "initialize", "params": {
        "clientInfo": {"name": "frag_test", "version": "1"}, "capabilities": {}}}), pieces=4)
    deadline = time.monotonic() + 15
    answer = None
    while answer is None and time.monotonic() < deadline:
        op, data = ws.recv(timeout=max(0.1, deadline - time.monotonic()))
        msg = json.loads(data)
        if msg.get("id") == "frag":
            answer = msg
    check(op == h.OP_TEXT and answer and "result" in answer,
          "a fragmented initialize is answered (string id kept)")
    ws.close(1000, "bye")
    # codex 0.169 drops the TCP connection on a client close instead of echoing it (1006).
    check(ws.closed and ws.close_code in (1000, 1006),
          "the client close completes (server side: %r)" % (ws.close_code,))


def test_turns(mb, srv, a, b):
    rpc = srv.connect()
    init = rpc.initialize()
    check("userAgent" in init, "initialize answers with a userAgent")
    check(rpc.login_tokens(a) == {"type": "chatgptAuthTokens"}, "login with A's tokens")
    rpc.wait_notification("account/updated",
                           lambda p: p.get("authMode") == "chatgptAuthTokens", 10)
    acct = rpc.request("account/read", {"refreshToken": False})
    check(acct["account"]["email"] == a["email"], "account/read shows A's email from the JWT")

    mb.set_account("acct-A", rate_limits={"primary": {"used_percent": 42, "window_minutes": 300,
                                                      "reset_in": 600}})
    thread = rpc.thread_start(cwd=srv.home.work)
    done, start = rpc.run_turn(thread, "ping", timeout=60)
    check(done["turn"]["status"] == "completed", "turn as A completes")
    r = last_responses(mb)
    check(r and r["bearer"] == a["access_token"] and r["account"] == "acct-A",
          "the mock saw A's bearer and ChatGPT-Account-Id")
    check(r and r["headers"].get("content-encoding") == "zstd" and r["body"] is None
          and r["body_len"] > 0 and r["prompt"] == "ping" and r["purpose"] == "turn",
          "the zstd /responses body is recorded decoded (prompt %r)" % (r or {}).get("prompt"))
    check(mb.count("responses_ws") >= 1, "the websocket attempt on /responses got 426")
    rl = rpc.wait_notification("account/rateLimits/updated", None, 10, start)["params"]
    check(rl["rateLimits"]["primary"]["usedPercent"] == 42,
          "account/rateLimits/updated carries the mock's x-codex-primary-used-percent")

    mb.set_account("acct-A", usage={"primary": {"used_percent": 55, "window_seconds": 18000}})
    limits = rpc.request("account/rateLimits/read", None, 30)
    check(limits["rateLimits"]["primary"]["usedPercent"] == 55
          and limits["rateLimits"]["primary"]["windowDurationMins"] == 300,
          "account/rateLimits/read maps the mock's /wham/usage body")
    u = mb.requests(endpoint="usage")
    check(u and u[-1]["bearer"] == a["access_token"], "/wham/usage was called with A's bearer")

    # Hot swap: a second login on the live session; the next turn on the same thread is B's.
    rpc.login_tokens(b)
    done, _ = rpc.run_turn(thread, "ping again", timeout=60)
    r = last_responses(mb)
    check(done["turn"]["status"] == "completed" and r["bearer"] == b["access_token"]
          and r["account"] == "acct-B", "after the hot swap the next turn carries B's bearer")

    # Usage limit on B: an error notification that must not be retried.
    mb.set_account("acct-B", responses=["usage_limit"])
    done, start = rpc.run_turn(thread, "limit", timeout=60)
    err = rpc.wait_notification("error", None, 10, start)["params"]
    check(err["error"].get("codexErrorInfo") == "usageLimitExceeded"
          and err["willRetry"] is False, "429 usage_limit_reached -> error usageLimitExceeded, "
                                         "willRetry false (%s)" % json.dumps(err)[:300])
    check(done["turn"]["status"] == "failed", "the usage-limited turn is failed")
    check("usage limit" in err["error"]["message"].lower(), "the error message names the limit")

    # 401: the server asks the client for new tokens and retries with them.
    b2 = h.make_account(mb, b["email"], "acct-B", plan="pro")
    mb.set_account("acct-B", require_bearer=b2["access_token"])
    asked = []

    def refresh(params):
        asked.append(params)
        return {"accessToken": b2["access_token"], "chatgptAccountId": "acct-B",
                "chatgptPlanType": "pro"}

    rpc.handlers["account/chatgptAuthTokens/refresh"] = refresh
    done, _ = rpc.run_turn(thread, "after refresh", timeout=60)
    check(asked and asked[0].get("reason") == "unauthorized"
          and asked[0].get("previousAccountId") == "acct-B",
          "a 401 sends account/chatgptAuthTokens/refresh (%r)" % (asked,))
    statuses = [x["status"] for x in mb.requests(endpoint="responses", account="acct-B")][-2:]
    r = last_responses(mb)
    check(done["turn"]["status"] == "completed" and statuses == [401, 200]
          and r["bearer"] == b2["access_token"],
          "the turn completes with the refreshed bearer (statuses %r)" % (statuses,))
    rpc.close()


def test_fake_tui(mb, srv, home, current):
    scenario = {"exit_code": 7, "steps": [
        {"op": "initialize"},
        {"op": "request", "method": "account/read", "params": {"refreshToken": False}},
        {"op": "thread_start", "params": {"cwd": home.work}},
        {"op": "turn", "text": "hello", "timeout": 60, "expect_status": "completed"},
        {"op": "expect_notification", "method": "account/rateLimits/updated", "timeout": 10},
        {"op": "expect_no_message", "method": "error", "seconds": 0.2},
    ]}
    files_env, transcript = h.fake_tui_files(home, scenario)
    env = home.env(CS_TOKEN_VAR_FOR_TEST=srv.token, **files_env)
    argv = [sys.executable, h.FAKE_CODEX, "--remote", srv.url, "--remote-auth-token-env",
            "CS_TOKEN_VAR_FOR_TEST", "-C", home.work]
    p = subprocess.run(argv, env=env, cwd=home.work, timeout=90, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT)
    t = h.read_json(transcript)
    check(p.returncode == 7, "fake TUI exits with the scenario's code (got %d, error %r)"
          % (p.returncode, t.get("error")))
    check(all(s["ok"] for s in t["steps"]) and len(t["steps"]) == 6,
          "fake TUI ran every step")
    check("-C" in t["argv"] and srv.token not in json.dumps(t["argv"]) and t["token_present"],
          "fake TUI records argv (with -C, without the token)")
    # External auth is process-wide: the TUI's connection sees the control connection's login.
    check(t["steps"][1]["result"]["account"]["email"] == current["email"],
          "fake TUI saw the account logged in on the other connection")
    check(any(m.get("method") == "turn/completed" for m in t["received"]),
          "fake TUI transcript holds the notifications")

    p = subprocess.run([sys.executable, h.FAKE_CODEX, "--version"], env=env, timeout=30,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    check(p.returncode == 0 and ("codex-cli " + h.CODEX_VERSION).encode() in p.stdout,
          "fake codex execs the real codex when there is no --remote (%r)" % p.stdout[:80])
    p = subprocess.run([sys.executable, h.FAKE_CODEX, "app-server", "--help"], env=env,
                       timeout=30, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    check(p.returncode == 0 and b"--listen" in p.stdout, "fake codex passes app-server through")


def test_codex_refreshes_auth_json(mb):
    """Protocol doc section 11: an app-server started with an auth.json whose access token
    expires soon refreshes it itself at the mock's /oauth/token (0.169 on: at start; 0.117: on
    the first 401) and rewrites auth.json."""
    home = h.TestHome(mb)
    srv = None
    try:
        c = h.make_account(mb, "carol@example.com", "acct-C",
                           access_exp=int(time.time()) + 60)
        h.write_auth_json(home.codex_home, c)
        mb.set_account("acct-C", require_bearer="latest")
        srv = h.AppServer(home).start()
        rpc = srv.connect()
        rpc.initialize()
        acct = rpc.request("account/read", {"refreshToken": False})
        check(acct["account"]["email"] == c["email"], "codex reads auth.json's account")
        if h.codex_at_least("0.169.0"):
            h.wait_until(lambda: mb.count("oauth_token") >= 1, 15, "codex's own refresh")
        # Older releases (0.117) refresh only when the first turn gets a 401; either way the
        # refresh token rotates behind a launcher that did not refresh before starting codex.
        done, _ = rpc.run_turn(rpc.thread_start(), "ping", timeout=60)
        check(done["turn"]["status"] == "completed", "a turn works with the refreshed token")
        check(mb.count("oauth_token") >= 1, "codex %s refreshed the token itself"
              % h.CODEX_VERSION)
        # At start nobody has initialized yet: codex's own name; later the first client's.
        originator = "codex_cli_rs" if h.codex_at_least("0.169.0") else "codex_switch_test"
        reqs = mb.requests(endpoint="oauth_token")
        r = reqs[0] if reqs else {"status": None, "json": {}, "headers": {}}
        check(r["status"] == 200 and r["json"]["grant_type"] == "refresh_token"
              and r["json"]["refresh_token"] == c["refresh_token"]
              and r["headers"].get("originator") == originator,
              "codex refreshed the expiring token at the mock (JSON body, originator %s: %r)"
              % (originator, r["headers"].get("originator")))

        def rewritten():
            with open(os.path.join(home.codex_home, "auth.json")) as f:
                tokens = json.load(f)["tokens"]
            return tokens["refresh_token"] != c["refresh_token"] and tokens
        tokens = h.wait_until(rewritten, 10, "auth.json rewrite")
        check(tokens["access_token"] == mb.latest_access_token("acct-C"),
              "auth.json holds the rotated tokens")
        rpc.close()
    finally:
        if srv is not None:
            srv.stop()
        home.cleanup()


def main():
    signal.signal(signal.SIGALRM, lambda *_: h.fail("test took longer than 150 s"))
    signal.alarm(150)
    h.codex_bin()
    mb = h.start_mock()
    home = h.TestHome(mb)
    srv = None
    try:
        a = h.make_account(mb, "alice@example.com", "acct-A")
        b = h.make_account(mb, "bob@example.com", "acct-B", plan="pro")
        srv = h.AppServer(home).start()
        test_ws_auth(srv)
        test_ws_frames(srv)
        test_turns(mb, srv, a, b)
        test_fake_tui(mb, srv, home, b)
        srv.stop()
        test_codex_refreshes_auth_json(mb)
    except Exception as e:  # noqa: BLE001 - report and fail, with the server log
        check(False, "unexpected %s: %s" % (type(e).__name__, e))
        if srv is not None:
            print("--- app-server log tail ---\n" + srv.log(3000))
    finally:
        if srv is not None:
            srv.stop()
        if failures:
            os.environ["CS_KEEP_TMP"] = "1"
            print("mock requests: %s" % os.path.join(mb.state_dir, "requests.jsonl"))
        mb.stop()
        if not failures:
            home.cleanup()
    if failures:
        print("%d check(s) failed; files kept in %s" % (len(failures), home.root))
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
