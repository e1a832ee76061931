#!/usr/bin/env python3
"""Token refresh through the CLI against the mock backend: rotation, auth.json rewrite,
kept fields, terminal and transient errors, custody of newer auth.json tokens, and two
processes refreshing one account at once (exactly one request)."""

import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

BIN = os.environ["CODEX_SWITCH_BIN"]


def run(home, *args, env_extra=None, timeout=60):
    return subprocess.run([BIN, *args], env=home.env(**(env_extra or {})), capture_output=True,
                          text=True, timeout=timeout)


def stored(home, name):
    for a in h.read_accounts(home.switch_home)["accounts"]:
        if a["name"] == name:
            return a
    h.fail("account %s missing from accounts.json" % name)


def auth_json(home):
    with open(os.path.join(home.codex_home, "auth.json")) as f:
        return json.load(f)


def refresh_requests(mb):
    return [r for r in mb.requests(endpoint="oauth_token") if r.get("grant_type") ==
            "refresh_token"]


def expect(cond, msg):
    if not cond:
        h.fail(msg)


def no_secrets(text, *accounts):
    for a in accounts:
        for k in ("access_token", "refresh_token", "id_token"):
            expect(a[k] not in text, "%s of %s leaked into output" % (k, a["name"]))


def fresh_setup(mb, accounts, current=None):
    home = h.TestHome(mb, prefix="cs-net-")
    h.write_accounts(home.switch_home, accounts)
    if current is not None:
        h.write_auth_json(home.codex_home, current)
    mb.clear_requests()
    return home


def test_rotation_and_auth_json(mb):
    now = int(time.time())
    a = h.make_account(mb, "alice@example.com", "acct-A", access_exp=now + 60)
    b = h.make_account(mb, "bob@example.com", "acct-B", access_exp=now + 60)
    home = fresh_setup(mb, [a, b], current=a)
    r = run(home, "usage", "alice", "--json")
    expect(r.returncode == 0, "usage alice failed: %s" % r.stderr)
    reqs = refresh_requests(mb)
    expect(len(reqs) == 1 and reqs[0]["json"]["refresh_token"] == a["refresh_token"],
           "expected one refresh with alice's token, got %r" % reqs)
    expect(reqs[0]["json"]["client_id"] == "app_EMoamEEZ73f0CkXaXp7hrann", "client id")
    expect(reqs[0]["headers"].get("originator") == "codex_cli_rs", "originator header")
    expect(reqs[0]["headers"].get("user-agent", "").startswith("codex_cli_rs/"), "user agent")
    s = stored(home, "alice")
    expect(s["auth_data"]["refresh_token"] != a["refresh_token"], "refresh token not rotated")
    expect(s["auth_data"]["access_token"] == mb.latest_access_token("acct-A"), "access token")
    expect(s.get("relogin_reason") is None, "relogin_reason set after success")
    aj = auth_json(home)
    expect(aj["tokens"]["refresh_token"] == s["auth_data"]["refresh_token"],
           "auth.json not rewritten for the current account")
    usage = [u for u in mb.requests(endpoint="usage")]
    expect(usage and usage[-1]["bearer"] == s["auth_data"]["access_token"],
           "usage used a stale bearer")
    no_secrets(r.stdout + r.stderr, a)
    # bob is not current: his refresh must leave auth.json alone
    before = auth_json(home)
    r = run(home, "usage", "bob")
    expect(r.returncode == 0, "usage bob failed: %s" % r.stderr)
    expect(auth_json(home) == before, "auth.json rewritten for a non-current account")
    expect(stored(home, "bob")["auth_data"]["refresh_token"] != b["refresh_token"], "bob")
    home.cleanup()


def test_switch_refreshes_first(mb):
    """switch hands plain codex fresh tokens: an expiring one is refreshed before auth.json
    is written, so codex never rotates the refresh token behind the store's back."""
    now = int(time.time())
    a = h.make_account(mb, "alice@example.com", "acct-A")
    b = h.make_account(mb, "bob@example.com", "acct-B", access_exp=now + 60)
    home = fresh_setup(mb, [a, b], current=a)
    r = run(home, "switch", "bob")
    expect(r.returncode == 0, "switch bob failed: %s" % r.stderr)
    reqs = refresh_requests(mb)
    expect(len(reqs) == 1 and reqs[0]["json"]["refresh_token"] == b["refresh_token"],
           "expected one refresh with bob's token, got %r" % reqs)
    s = stored(home, "bob")
    aj = auth_json(home)
    expect(aj["tokens"]["access_token"] == s["auth_data"]["access_token"] ==
           mb.latest_access_token("acct-B"), "auth.json holds bob's refreshed token")
    expect(aj["tokens"]["refresh_token"] != b["refresh_token"], "auth.json has the rotated one")
    mb.clear_requests()
    r = run(home, "switch", "alice")
    expect(r.returncode == 0 and not refresh_requests(mb),
           "a fresh token is not refreshed on switch (%r)" % r.stderr)
    home.cleanup()


def test_absent_fields_kept(mb):
    a = h.make_account(mb, "carol@example.com", "acct-C", access_exp=int(time.time()) + 30,
                       omit=["id_token", "refresh_token"])
    home = fresh_setup(mb, [a])
    r = run(home, "usage", "carol")
    expect(r.returncode == 0, "usage carol failed: %s" % r.stderr)
    s = stored(home, "carol")["auth_data"]
    expect(s["id_token"] == a["id_token"], "absent id_token was not kept")
    expect(s["refresh_token"] == a["refresh_token"], "absent refresh_token was not kept")
    expect(s["access_token"] != a["access_token"], "access token not replaced")
    home.cleanup()


def test_other_account_refused(mb):
    """A refresh answer carrying another user's tokens is refused: the stored account keeps
    its identity and tokens, and the user is told what happened."""
    now = int(time.time())
    a = h.make_account(mb, "alice@example.com", "acct-A", access_exp=now + 30)
    b = h.make_account(mb, "bob@example.com", "acct-B")
    for other in ({"account_id": "acct-A", "user_id": "user-mallory"},
                  {"account_id": "acct-M", "user_id": a["chatgpt_user_id"]}):
        mb.add_refresh_token(a["refresh_token"], email="mallory@example.com", **other)
        home = fresh_setup(mb, [a, b], current=a)
        before = h.read_accounts(home.switch_home)
        r = run(home, "usage", "alice")
        expect(r.returncode == 1, "%r: refresh with another account's tokens accepted (%d)"
               % (other, r.returncode))
        expect("tokens of another account" in r.stderr, "no clear message: %r" % r.stderr)
        expect(h.read_accounts(home.switch_home) == before, "%r: the store changed" % other)
        no_secrets(r.stdout + r.stderr, a)
        home.cleanup()


def test_terminal_errors(mb):
    for code in ("invalid_grant", "refresh_token_expired", "refresh_token_reused",
                 "refresh_token_invalidated"):
        a = h.make_account(mb, "dave@example.com", "acct-D", name="dave",
                           access_exp=int(time.time()) + 10, error=code)
        home = fresh_setup(mb, [a])
        r = run(home, "usage", "dave")
        expect(r.returncode == 1, "%s: expected failure, got %d" % (code, r.returncode))
        expect("login dave --replace" in r.stderr, "%s: no advice in %r" % (code, r.stderr))
        no_secrets(r.stdout + r.stderr, a)
        s = stored(home, "dave")
        expect(s.get("relogin_reason"), "%s: account not marked" % code)
        expect(s["auth_data"]["refresh_token"] == a["refresh_token"], "tokens changed")
        n = len(refresh_requests(mb))
        r = run(home, "usage", "dave")
        expect(r.returncode == 1 and len(refresh_requests(mb)) == n,
               "%s: a marked account was refreshed again" % code)
        home.cleanup()


def test_transient_then_success(mb):
    a = h.make_account(mb, "erin@example.com", "acct-E", access_exp=int(time.time()) + 10,
                       fail_times=2, fail_status=503)
    home = fresh_setup(mb, [a])
    r = run(home, "usage", "erin")
    expect(r.returncode == 0, "5xx twice then success failed: %s" % r.stderr)
    expect(len(refresh_requests(mb)) == 3, "expected 3 attempts")
    home.cleanup()
    b = h.make_account(mb, "frank@example.com", "acct-F", access_exp=int(time.time()) + 10,
                       fail_times=5, fail_status=502)
    home = fresh_setup(mb, [b])
    r = run(home, "usage", "frank")
    expect(r.returncode == 1 and "try again" in r.stderr, "persistent 5xx: %r" % r.stderr)
    expect(stored(home, "frank").get("relogin_reason") is None, "5xx marked terminal")
    home.cleanup()


def test_timeout(mb):
    # runs last among the refresh tests: the mock still answers the abandoned requests
    a = h.make_account(mb, "gina@example.com", "acct-G", access_exp=int(time.time()) + 10,
                       delay=2)
    home = fresh_setup(mb, [a])
    t0 = time.monotonic()
    r = run(home, "usage", "gina", env_extra={"CODEX_SWITCH_TEST_HTTP_TIMEOUT_MS": "400"})
    expect(r.returncode == 1, "timeout did not fail")
    expect("timed out" in r.stderr.lower() or "timeout" in r.stderr.lower(),
           "no timeout in message: %r" % r.stderr)
    expect(time.monotonic() - t0 < 20, "timeout took too long")
    expect(stored(home, "gina").get("relogin_reason") is None, "timeout marked terminal")
    no_secrets(r.stderr, a)
    home.cleanup()


def test_custody(mb):
    now = int(time.time())
    old = h.make_account(mb, "hank@example.com", "acct-H", access_exp=now + 30)
    # plain codex rotated the tokens: auth.json holds newer ones, the store the old ones
    newer = dict(old)
    newer.update({k: v for k, v in h.make_account(mb, "hank@example.com", "acct-H",
                                                  access_exp=now + 30).items()
                  if k in ("id_token", "access_token", "refresh_token")})
    newer["token_last_refresh_at"] = h.rfc3339(now + 5)
    home = fresh_setup(mb, [old], current=newer)
    # the old refresh token is spent: using it again would be refresh_token_reused
    mb.add_refresh_token(old["refresh_token"], error="refresh_token_reused")
    r = run(home, "usage", "hank")
    expect(r.returncode == 0, "custody refresh failed: %s" % r.stderr)
    # (late requests of the timeout test may still be logged: look at hank's only)
    sent = [q["json"]["refresh_token"] for q in refresh_requests(mb)
            if q["json"]["refresh_token"].startswith("rt-acct-H")]
    expect(old["refresh_token"] not in sent, "the old refresh token was sent")
    expect(sent == [newer["refresh_token"]], "expected auth.json's token, got %r" % sent)
    s = stored(home, "hank")["auth_data"]
    expect(s["refresh_token"] not in (old["refresh_token"], newer["refresh_token"]), "store")
    expect(auth_json(home)["tokens"]["refresh_token"] == s["refresh_token"], "auth.json")
    home.cleanup()
    # newer and still fresh: taken without any request
    fresh = dict(newer)
    fresh.update({k: v for k, v in h.make_account(mb, "hank@example.com", "acct-H",
                                                  access_exp=now + 3600).items()
                  if k in ("id_token", "access_token", "refresh_token")})
    home = fresh_setup(mb, [old], current=fresh)
    r = run(home, "usage", "hank")
    expect(r.returncode == 0, "custody (fresh) failed: %s" % r.stderr)
    expect(not [q for q in refresh_requests(mb)
                if q["json"]["refresh_token"].startswith("rt-acct-H")],
           "a fresh auth.json copy still triggered a refresh")
    expect(stored(home, "hank")["auth_data"]["refresh_token"] == fresh["refresh_token"],
           "newer auth.json tokens not taken into the store")
    home.cleanup()


def test_two_processes(mb):
    a = h.make_account(mb, "ivy@example.com", "acct-I", access_exp=int(time.time()) + 10,
                       delay=1)
    home = fresh_setup(mb, [a], current=a)
    procs = [subprocess.Popen([BIN, "usage", "ivy", "--json"], env=home.env(),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=60) for p in procs]
    for p, (out, err) in zip(procs, outs):
        expect(p.returncode == 0, "concurrent usage failed: %s" % err)
    expect(len(refresh_requests(mb)) == 1,
           "expected exactly one refresh, got %d" % len(refresh_requests(mb)))
    latest = mb.latest_access_token("acct-I")
    bearers = [u["bearer"] for u in mb.requests(endpoint="usage")]
    expect(bearers == [latest, latest], "both processes must use the new token: %r" % bearers)
    expect(stored(home, "ivy")["auth_data"]["access_token"] == latest, "store")
    home.cleanup()


def test_usage_401_forces_refresh(mb):
    a = h.make_account(mb, "jack@example.com", "acct-J")  # valid for an hour
    home = fresh_setup(mb, [a])
    mb.set_account("acct-J", require_bearer="latest")
    r = run(home, "usage", "jack", "--json")
    expect(r.returncode == 0, "401 then refresh failed: %s" % r.stderr)
    expect(len(refresh_requests(mb)) == 1, "expected one forced refresh")
    expect(len(mb.requests(endpoint="usage")) == 2, "expected one retry")
    home.cleanup()


def main():
    mb = h.start_mock()
    try:
        for t in (test_rotation_and_auth_json, test_switch_refreshes_first,
                  test_absent_fields_kept, test_other_account_refused, test_terminal_errors,
                  test_transient_then_success, test_custody, test_two_processes,
                  test_usage_401_forces_refresh, test_timeout):
            t(mb)
            print("ok", t.__name__)
    finally:
        mb.stop()
    print("1 passed, 0 failed")


main()
