#!/usr/bin/env python3
"""Faults of issue #7 that test_run.py and test_proxy.py do not cover, each checking what the
user sees and that nothing is lost: a codex binary that is not executable; a hostile second
client on a running session (invalid UTF-8, invalid JSON, odd JSON-RPC ids) while the TUI goes
on; the auth server failing (5xx, slow, garbage, a revoked refresh token) during a session; a
full disk or a read-only store while saving; two `run` sessions sharing one store."""

import json
import os
import resource
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

BIN = os.environ.get("CODEX_SWITCH_BIN")
failures = []
check = h.checker(failures)


def setup(mb, n=2):
    home = h.TestHome(mb, prefix="cs-faults-")
    accts = [h.make_account(mb, "user%d@example.com" % i, "acct-%d" % i, name="acc%d" % i)
             for i in range(n)]
    h.write_accounts(home.switch_home, accts)
    h.write_auth_json(home.codex_home, accts[0])
    return home, accts


def start_run(home, scenario, name, **env_extra):
    files_env, transcript = h.fake_tui_files(home, scenario, name)
    env = home.env(**files_env, **env_extra)
    p = subprocess.Popen([BIN, "run", "--codex-bin", h.FAKE_CODEX], env=env, cwd=home.work,
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    return p, transcript


def finish(p, transcript, timeout=180):
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
    t = h.read_json(transcript) if os.path.exists(transcript) else {}
    return p.returncode, err.decode(errors="replace"), t


def leftovers(home):
    runtime = os.path.join(home.switch_home, "runtime")
    return [f for f in os.listdir(runtime) if f.startswith("ws-token-")] \
        if os.path.isdir(runtime) else []


TURN = [{"op": "initialize"}, {"op": "thread_start", "params": {}}]


# ----- the codex binary -----

def test_not_executable(mb):
    home, _ = setup(mb)
    fake = os.path.join(home.root, "codex")
    with open(fake, "w") as f:
        f.write("#!/bin/sh\nexit 0\n")
    os.chmod(fake, 0o644)
    p = subprocess.run([BIN, "run", "--codex-bin", fake], env=home.env(), cwd=home.work,
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    err = p.stderr.decode(errors="replace")
    check(p.returncode == 1 and fake in err, "a codex that is not executable: exit 1 naming it "
          "(%d, %r)" % (p.returncode, err[-300:]))
    check(err.count("\n") <= 3, "and the message is short (%r)" % err)
    check(not leftovers(home), "nothing left behind")
    home.cleanup()


# ----- a hostile client on the session -----

ODD_IDS = ["str-\u00e9\\\"", 18446744073709551617, -0.5]


def test_hostile_client(mb):
    """What a broken or hostile TUI sends goes through (the proxy is not a validator, README
    "Code"), the app-server answers or ignores it, and the session goes on."""
    home, (a, b) = setup(mb)
    junk = [{"op": "send_raw", "text": '{"id": 1, "method": '},
            {"op": "send_raw", "text": "not json at all"},
            {"op": "send_raw", "text": '{"id": null, "method": "account/read", "params": {}}'},
            {"op": "send_raw", "text": json.dumps({"id": "frag", "method": "account/read",
                                                   "params": {}}), "fragments": 5}]
    junk += [{"op": "send_raw", "text": json.dumps({"id": i, "method": "account/read",
                                                    "params": {}})} for i in ODD_IDS]
    scenario = {"exit_code": 0, "steps": TURN + junk + [
        {"op": "sleep", "seconds": 3},
        {"op": "turn", "text": "after the junk", "timeout": 90, "expect_status": "completed"},
    ]}
    p, transcript = start_run(home, scenario, "hostile")
    code, err, t = finish(p, transcript)
    check(code == 0, "the session survives invalid JSON and odd ids, and the "
          "next turn completes (%d, %r, %r)" % (code, err[-300:], t.get("error")))
    answered = [m.get("id") for m in t.get("received", []) if "id" in m and "method" not in m]
    check("frag" in answered, "a fragmented request is answered")
    # codex answers string and i64 ids; others it ignores (its RequestId type), which the
    # session survives (checked above). The proxy passes every id through byte for byte
    # (tests/fuzz/fuzz_ws_relay.c, test_proxy.py).
    check(ODD_IDS[0] in answered, "a string id with escapes comes back unchanged (%r)"
          % answered)
    check(not leftovers(home), "nothing left behind")
    home.cleanup()


def test_invalid_utf8(mb):
    """Invalid UTF-8 in a text frame is forwarded (README: the proxy is not a validator); codex's
    app-server then drops that connection, and the TUI is closed with 1011. codex-switch itself
    goes on to a normal exit with the TUI's status."""
    home, (a, b) = setup(mb)
    bad = b'{"id":"bad-utf8","method":"account/read","params":{"x":"\xff\xfe\xc3("}}'
    scenario = {"exit_code": 0, "fail_exit_code": 42, "steps": TURN + [
        {"op": "send_raw", "hex": bad.hex()}, {"op": "wait_close", "timeout": 30}]}
    p, transcript = start_run(home, scenario, "utf8")
    code, err, t = finish(p, transcript)
    check(t.get("close_code") in (1007, 1011), "invalid UTF-8 closes the TUI connection with "
          "1007 or 1011 (%r)" % t.get("close_code"))
    check(code == 0 and "error" not in err.lower(), "codex-switch exits with the TUI's status and "
          "no error of its own (%d, %r)" % (code, err[-300:]))
    check(not leftovers(home), "nothing left behind")
    home.cleanup()


# ----- the auth server during a session -----

def refresh_session(mb, name, spec, expect_status="completed", env=None):
    """Account 0 gets a 401, so the app-server asks codex-switch for a refresh; spec sets how
    the auth server answers it."""
    home, (a, b) = setup(mb)
    mb.add_refresh_token(a["refresh_token"], email=a["email"], account_id="acct-0",
                         user_id="user-acct-0", plan="plus", **spec)
    mb.set_account("acct-0", responses=["unauthorized"])
    scenario = {"exit_code": 0, "steps": TURN + [
        {"op": "turn", "text": "needs refresh", "timeout": 120,
         "expect_status": expect_status},
        {"op": "sleep", "seconds": 1},
    ]}
    p, transcript = start_run(home, scenario, name, **(env or {}))
    code, err, t = finish(p, transcript)
    return home, a, code, err, t


def test_auth_5xx_then_ok(mb):
    home, a, code, err, t = refresh_session(mb, "auth5xx", {"fail_times": 2,
                                                            "fail_status": 503})
    check(code == 0, "auth server 503 twice: the refresh is retried and the turn completes "
          "(%d, %r, %r)" % (code, err[-300:], t.get("error")))
    check(mb.count(endpoint="oauth_token") == 3, "two failed attempts and one success (%d)"
          % mb.count(endpoint="oauth_token"))
    home.cleanup()


def test_auth_garbage(mb):
    home, a, code, err, t = refresh_session(
        mb, "authgarbage", {"tokens": {"access_token": "not-a-jwt", "id_token": "garbage"}},
        expect_status=None)
    check(code == 0, "auth server answering garbage tokens: no crash, the TUI ends normally "
          "(%d, %r, %r)" % (code, err[-300:], t.get("error")))
    stored = {x["id"]: x for x in h.read_accounts(home.switch_home)["accounts"]}
    check(stored[a["id"]]["auth_data"]["refresh_token"], "the stored account keeps a refresh "
          "token")
    home.cleanup()


def test_auth_slow(mb):
    home, a, code, err, t = refresh_session(
        mb, "authslow", {"delay": 4}, expect_status=None,
        env={"CODEX_SWITCH_TEST_HTTP_TIMEOUT_MS": "1000"})
    check(code == 0, "a slow auth server (timeouts): no crash, the TUI ends normally "
          "(%d, %r, %r)" % (code, err[-300:], t.get("error")))
    check(err.count("cannot refresh") <= 1, "at most one refresh message (%r)" % err[-400:])
    home.cleanup()


def test_auth_revoked(mb):
    home, a, code, err, t = refresh_session(mb, "revoked", {"error": "invalid_grant"},
                                            expect_status=None)
    check(code == 0, "a revoked refresh token: no crash, the TUI ends normally (%d, %r, %r)"
          % (code, err[-300:], t.get("error")))
    stored = {x["id"]: x for x in h.read_accounts(home.switch_home)["accounts"]}
    acc = stored[a["id"]]
    check(acc["auth_data"]["refresh_token"] == a["refresh_token"],
          "the account's tokens are kept for a later login --replace")
    p = subprocess.run([BIN, "list"], env=home.env(), capture_output=True, timeout=30)
    check(b"needs login" in p.stdout, "list shows the account as needing a login (%r)"
          % p.stdout[-300:])
    msgs = [m for m in t.get("received", []) if "codex-switch" in json.dumps(m)]
    check(len(msgs) <= 2, "the TUI gets one clear message, not a stream (%d)" % len(msgs))
    home.cleanup()


def test_revoked_tells_the_user(mb):
    """A refresh token revoked during a session: the session switches to another account, or
    the user gets one clear message naming the account and `login --replace`."""
    home, a, code, err, t = refresh_session(mb, "revoked2", {"error": "invalid_grant"},
                                            expect_status=None)
    warns = h.notice_texts(t.get("received", []))
    switched = any("Switched to" in w for w in warns)
    told = [w for w in warns if "login" in w.lower() and a["name"] in w]
    check(switched or len(told) == 1, "a revoked refresh token: the session switches or the "
          "user gets one message naming the account and `login --replace` (%r)" % warns)
    home.cleanup()


# ----- disk full, read-only store -----

def limited_fsize(limit):
    def pre():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return pre


def test_disk_full(mb):
    home, (a, b) = setup(mb)
    acc = os.path.join(home.switch_home, "accounts.json")
    with open(acc, "rb") as f:
        before = f.read()
    auth = os.path.join(home.codex_home, "auth.json")
    with open(auth, "rb") as f:
        auth_before = f.read()
    for argv, path, old in (([BIN, "rename", "acc0", "renamed"], acc, before),
                            ([BIN, "switch", "acc1"], auth, auth_before)):
        # 400 bytes: room for the lock (about 230 with host, boot id and pid namespace), none
        # for accounts.json or auth.json, which hold JWTs.
        p = subprocess.run(argv, env=home.env(), capture_output=True, timeout=60,
                           preexec_fn=limited_fsize(400))
        err = p.stderr.decode(errors="replace")
        with open(path, "rb") as f:
            now = f.read()
        check(p.returncode == 1 and now == old,
              "%s on a full disk fails and the old %s is intact (%d, %r)"
              % (argv[1], os.path.basename(path), p.returncode, err[-200:]))
        check(os.path.basename(path) in err and "left as it was" in err,
              "the error names the file and says it was left as it was (%r)" % err[-300:])
        stray = [f for f in os.listdir(os.path.dirname(path)) if f.endswith(".tmp")]
        check(not stray, "no temporary file is left (%r)" % stray)
    home.cleanup()


def test_read_only_store(mb):
    home, (a, b) = setup(mb)
    acc = os.path.join(home.switch_home, "accounts.json")
    with open(acc, "rb") as f:
        before = f.read()
    # Permissions do not bind root (CI runs as root); the immutable attribute does.
    if os.geteuid() == 0:
        lock, unlock = ["chattr", "+i", home.switch_home], ["chattr", "-i", home.switch_home]
    else:
        lock, unlock = ["chmod", "0500", home.switch_home], ["chmod", "0700", home.switch_home]
    subprocess.run(lock, check=True)
    try:
        p = subprocess.run([BIN, "rename", "acc0", "renamed"], env=home.env(),
                           capture_output=True, timeout=60)
    finally:
        subprocess.run(unlock, check=True)
    err = p.stderr.decode(errors="replace")
    with open(acc, "rb") as f:
        check(p.returncode == 1 and f.read() == before and
              os.path.join(home.switch_home, "accounts.") in err and "nothing was changed" in err,
              "a read-only store: the change fails, accounts.json is intact, the error names the "
              "store and says nothing changed (%d, %r)" % (p.returncode, err[-200:]))
    home.cleanup()


# ----- two sessions -----

def test_two_sessions(mb):
    home, (a, b) = setup(mb)
    mb.set_account("acct-0", responses=["unauthorized", "unauthorized"])
    scenario = {"exit_code": 0, "steps": TURN + [
        {"op": "turn", "text": "one", "timeout": 120, "expect_status": "completed"},
        {"op": "turn", "text": "two", "timeout": 120, "expect_status": "completed"},
    ]}
    p1, t1 = start_run(home, scenario, "s1")
    p2, t2 = start_run(home, scenario, "s2")
    r1, r2 = finish(p1, t1), finish(p2, t2)
    for i, (code, err, t) in enumerate((r1, r2), 1):
        check(code == 0, "session %d of two sharing the store works (%d, %r, %r)"
              % (i, code, err[-300:], t.get("error")))
    refreshes = mb.requests(endpoint="oauth_token")
    sent = [(r.get("json") or {}).get("refresh_token") for r in refreshes]
    check(len(sent) == len(set(sent)), "no refresh token was sent twice (%d refreshes)"
          % len(sent))
    check(all(r["status"] == 200 for r in refreshes),
          "every refresh succeeded (%r)" % [(r["status"], r.get("outcome"),
                                             (r.get("json") or {}).get("refresh_token"))
                                            for r in refreshes])
    stored = {x["id"]: x for x in h.read_accounts(home.switch_home)["accounts"]}
    latest = mb.latest_access_token("acct-0")
    check(latest is None or stored[a["id"]]["auth_data"]["access_token"] == latest,
          "the store holds the newest token")
    check(not leftovers(home), "both token files are removed")
    home.cleanup()


def main():
    tests = [
        test_not_executable, test_disk_full, test_read_only_store, test_hostile_client,
        test_invalid_utf8, test_auth_5xx_then_ok, test_auth_garbage, test_auth_revoked,
        test_revoked_tells_the_user, test_two_sessions, test_auth_slow,
    ]
    return h.run_suite(tests, check, failures)


if __name__ == "__main__":
    sys.exit(main())
