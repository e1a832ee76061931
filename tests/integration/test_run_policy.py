#!/usr/bin/env python3
"""`codex-switch run` choosing accounts by itself (issue #5), with the real codex app-server,
the mock backend and the scripted TUI: the start account by policy, a soft switch when a
rate-limit update crosses the threshold (and not again within the cooldown), an external
`codex-switch switch` followed within the session, and a token renewed before it expires."""

import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import test_run as tr  # noqa: E402  (setup, run and process helpers)

failures = tr.failures
check = tr.check

NEAR_LIMIT = {"primary": {"used_percent": 97, "window_minutes": 300, "reset_in": 3600},
              "secondary": {"used_percent": 20, "window_minutes": 10080, "reset_in": 86400}}


def switch_warnings(t):
    return [w for w in h.notice_texts(t.get("received", [])) if "Switched to" in w]


def test_start_on_policy_choice(mb):
    """A first run (no usage cache) starts on A, the account of auth.json, at once; the fresh
    usage says A's window is full, so the first turn waits for the switch to B and goes there,
    and the transcript says why."""
    home, (a, b) = tr.setup(mb)
    mb.set_account("acct-0", usage={"primary": {"used_percent": 100, "window_seconds": 18000,
                                                "reset_after_seconds": 3600}})
    scenario = {"exit_code": 0, "steps": [
        {"op": "initialize"},
        {"op": "thread_start", "params": {}},
        {"op": "turn", "text": "hi", "timeout": 60, "expect_status": "completed"},
        {"op": "request", "method": "account/read", "params": {"refreshToken": False}},
    ]}
    p, t = tr.run(home, scenario, "start")
    reqs = mb.requests(endpoint="responses")
    check(p.returncode == 0 and reqs and {r["account"] for r in reqs} == {"acct-1"},
          "the first turn goes out on B when A's 5-hour window is full (%r, %r)"
          % ([r["account"] for r in reqs], p.stderr[-300:]))
    acct = (t["steps"][3].get("result") or {}).get("account") or {} if t else {}
    check(acct.get("email") == b["email"], "the TUI then reads B (%r)" % acct)
    check(any("starting on acc1" in w for w in switch_warnings(t)),
          "the transcript says why it starts on B (%r)" % switch_warnings(t))
    check(h.read_json(os.path.join(home.codex_home, "auth.json"))["tokens"]["account_id"]
          == "acct-1", "auth.json holds the start account")
    home.cleanup()


def test_usage_server_down_or_slow(mb):
    """The usage endpoint failing (500) or hanging at start-up: run still starts, on the
    current account, within its bound (5 s per request), and the turn works."""
    for name, usage in (("usage500", {"mode": "error", "status": 500}),
                        ("usageslow", {"mode": "ok", "delay": 20})):
        home, (a, b) = tr.setup(mb)
        mb.set_account("default", usage=usage)
        scenario = {"exit_code": 0, "steps": [
            {"op": "initialize"},
            {"op": "thread_start", "params": {}},
            {"op": "turn", "text": "hi", "timeout": 60, "expect_status": "completed"},
        ]}
        started = time.monotonic()
        p, t = tr.run(home, scenario, name)
        took = time.monotonic() - started
        reqs = mb.requests(endpoint="responses")
        check(p.returncode == 0 and reqs and reqs[-1]["account"] == "acct-0",
              "%s: run starts on the current account and the turn works (%d, %r)"
              % (name, p.returncode, p.stderr[-200:]))
        check(took < 45, "%s: the start-up waited at most its bound (%.1f s)" % (name, took))
        mb.set_account("default", usage={"mode": "ok"})
        home.cleanup()


def test_soft_switch_and_cooldown(mb):
    home, (a, b) = tr.setup(mb)
    mb.set_account("acct-0", rate_limits=NEAR_LIMIT)
    mb.set_account("acct-1", rate_limits=NEAR_LIMIT)
    scenario = {"exit_code": 0, "steps": [
        {"op": "initialize"},
        {"op": "thread_start", "params": {}},
        {"op": "turn", "text": "one", "timeout": 60, "expect_status": "completed"},
        # A notice shows during the TUI's next turn (notice.h): that is where it is read.
        {"op": "turn", "text": "two", "timeout": 60, "expect_status": "completed"},
        {"op": "expect_notification", "method": "notice", "contains": "Switched to",
         "timeout": 30},
        {"op": "turn", "text": "three", "timeout": 60, "expect_status": "completed"},
        {"op": "sleep", "seconds": 1.5},
    ]}
    p, t = tr.run(home, scenario, "soft")
    check(p.returncode == 0, "soft-switch session exits 0 (%d, %r, %r)"
          % (p.returncode, p.stderr[-300:], t.get("error")))
    warns = switch_warnings(t)
    check(len(warns) == 1 and "Switched to acc1" in warns[0] and "acc0's" in warns[0],
          "one proactive switch from A to B near the limit (%r)" % warns)
    reqs = mb.requests(endpoint="responses")
    check(reqs and reqs[0]["account"] == "acct-0" and reqs[-1]["account"] == "acct-1",
          "turns moved from A to B and stayed there (cooldown)")
    home.cleanup()


def test_switch_waits_for_the_running_turn(mb):
    """`codex-switch switch` in another terminal while an answer still streams: a login of
    another account now would end the turn ("Fatal error: application network permission was
    revoked", codex 0.169 and later), so the turn ends normally on A and the switch comes
    after it, its line shown in the next turn, which runs on B."""
    home, (a, b) = tr.setup(mb)
    mb.set_account("acct-0", stream_delay=0.8)
    scenario = {"exit_code": 0, "steps": [
        {"op": "initialize"},
        {"op": "thread_start", "params": {}},
        {"op": "turn", "text": "streams slowly", "timeout": 60, "expect_status": "completed"},
        {"op": "turn", "text": "next", "timeout": 60, "expect_status": "completed"},
        {"op": "expect_notification", "method": "notice", "contains": "Switched to",
         "timeout": 30},
    ]}
    p, transcript = tr.start_run(home, scenario, "midturn")
    h.wait_until(lambda: [r for r in mb.turns() if r.get("prompt") == "streams slowly"], 60,
                 "the streaming turn at the backend")
    q = subprocess.run([tr.BIN, "switch", "acc1"], env=home.env(), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30)
    check(q.returncode == 0, "codex-switch switch in another terminal works (%r)" % q.stderr)
    out, err = p.communicate(timeout=120)
    t = h.read_json(transcript)
    errors = [m.get("params") for m in t.get("received", []) if m.get("method") == "error"]
    check(p.returncode == 0 and not errors,
          "both turns complete, no error reaches the TUI (%d, %r, %r)"
          % (p.returncode, errors[:1], t.get("error")))
    turns = mb.turns()
    first = [r["account"] for r in turns if r.get("prompt") == "streams slowly"]
    second = [r["account"] for r in turns if r.get("prompt") == "next"]
    check(first == ["acct-0"] and second == ["acct-1"],
          "the streaming turn stayed on A, the next one went to B (%r, %r)" % (first, second))
    warns = switch_warnings(t)
    check(len(warns) == 1, "one switch line (%r)" % warns)
    mb.set_account("acct-0", stream_delay=0)
    home.cleanup()


def wait_step(transcript, n, timeout=90):
    def done():
        try:
            t = h.read_json(transcript)
        except (OSError, ValueError):
            return False
        return len([s for s in t.get("steps", []) if s.get("ok")]) >= n
    h.wait_until(done, timeout, "step %d of the scripted TUI" % n)


def test_external_switch(mb):
    home, (a, b) = tr.setup(mb)
    scenario = {"exit_code": 0, "steps": [
        {"op": "initialize"},
        {"op": "thread_start", "params": {}},
        {"op": "turn", "text": "on A", "timeout": 60, "expect_status": "completed"},
        {"op": "sleep", "seconds": 4},
        {"op": "turn", "text": "on B", "timeout": 60, "expect_status": "completed"},
        {"op": "expect_notification", "method": "notice", "contains": "codex-switch switch",
         "timeout": 30},
    ]}
    p, transcript = tr.start_run(home, scenario, "external")
    wait_step(transcript, 3)
    started = time.monotonic()
    q = subprocess.run([tr.BIN, "switch", "acc1"], env=home.env(), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30)
    check(q.returncode == 0, "codex-switch switch in another terminal works (%r)" % q.stderr)
    out, err = p.communicate(timeout=120)
    t = h.read_json(transcript)
    check(p.returncode == 0, "the session followed the external switch (%d, %r, %r)"
          % (p.returncode, err[-300:], t.get("error")))
    warns = switch_warnings(t)
    check(len(warns) == 1 and "codex-switch switch" in warns[0],
          "one warning names the reason (%r)" % warns)
    reqs = mb.requests(endpoint="responses")
    check(reqs and reqs[-1]["account"] == "acct-1" and reqs[-1]["bearer"] == b["access_token"],
          "the next turn carries B's bearer")
    check(time.monotonic() - started < 60, "and it happened promptly")
    home.cleanup()


def test_two_sessions_follow_each_other(mb):
    """Two sessions share the store and auth.json: when one switches on a usage limit, the
    other follows (it sees auth.json change) and its next turn goes out on the new account."""
    home, (a, b) = tr.setup(mb)
    mb.set_account("acct-0", responses=["usage_limit"])
    watcher = {"exit_code": 0, "steps": [
        {"op": "initialize"},
        {"op": "thread_start", "params": {}},
        {"op": "sleep", "seconds": 20},  # the other session switches meanwhile
        {"op": "turn", "text": "on the followed account", "timeout": 60,
         "expect_status": "completed"},
        {"op": "expect_notification", "method": "notice", "contains": "codex-switch switch",
         "timeout": 30},
    ]}
    switcher = {"exit_code": 0, "steps": [
        {"op": "initialize"},
        {"op": "thread_start", "params": {}},
        {"op": "turn", "text": "hits the limit", "timeout": 60, "expect_status": "completed"},
        {"op": "expect_notification", "method": "notice", "contains": "Switched to",
         "timeout": 30},
        {"op": "sleep", "seconds": 3},  # the turn goes again on B meanwhile
    ]}
    p2, t2 = tr.start_run(home, watcher, "watcher")
    wait_step(t2, 2)
    p1, t1 = tr.start_run(home, switcher, "switcher")
    out1, err1 = p1.communicate(timeout=120)
    out2, err2 = p2.communicate(timeout=120)
    check(p1.returncode == 0 and p2.returncode == 0,
          "both sessions end well (%d %r, %d %r)" % (p1.returncode, err1[-200:], p2.returncode,
                                                    err2[-200:]))
    warns = switch_warnings(h.read_json(t2))
    check(len(warns) == 1 and "codex-switch switch" in warns[0] and "Switched to acc1" in warns[0],
          "the other session followed the switch (%r)" % warns)
    by_prompt = {(r.get("prompt"), r["account"]) for r in mb.requests(endpoint="responses")}
    check(mb.count(endpoint="responses", account="acct-0") == 1 and
          ("hits the limit", "acct-1") in by_prompt and
          ("on the followed account", "acct-1") in by_prompt,
          "one turn hit A's limit and went again on B; the other session's turn went to B "
          "(%r)" % sorted(by_prompt))
    home.cleanup()


def test_prewarm(mb):
    home = h.TestHome(mb)
    now = int(time.time())
    a = h.make_account(mb, "user0@example.com", "acct-0", name="acc0", access_exp=now + 306)
    b = h.make_account(mb, "user1@example.com", "acct-1", name="acc1")
    h.write_accounts(home.switch_home, [a, b])
    h.write_auth_json(home.codex_home, a)
    scenario = {"exit_code": 0, "steps": [
        {"op": "initialize"},
        {"op": "thread_start", "params": {}},
        {"op": "turn", "text": "before", "timeout": 60, "expect_status": "completed"},
        {"op": "sleep", "seconds": 40},
        {"op": "turn", "text": "after", "timeout": 60, "expect_status": "completed"},
    ]}
    p, t = tr.run(home, scenario, "prewarm", timeout=180)
    check(p.returncode == 0, "prewarm session exits 0 (%d, %r)" % (p.returncode,
                                                                 p.stderr[-300:]))
    check(mb.count(endpoint="oauth_token") == 1, "the token was renewed once before it expired")
    new = mb.latest_access_token("acct-0")
    reqs = mb.requests(endpoint="responses", account="acct-0")
    check(reqs and new and reqs[-1]["bearer"] == new,
          "the next turn already used the renewed token")
    methods = [m.get("method") for m in t.get("received", [])]
    check("account/chatgptAuthTokens/refresh" not in methods and not switch_warnings(t),
          "no refresh request and no switch warning reached the TUI")
    home.cleanup()


def main():
    tests = [
        test_start_on_policy_choice, test_usage_server_down_or_slow,
        test_soft_switch_and_cooldown, test_switch_waits_for_the_running_turn,
        test_external_switch,
        test_two_sessions_follow_each_other, test_prewarm,
    ]
    return h.run_suite(tests, check, failures)


if __name__ == "__main__":
    sys.exit(main())
