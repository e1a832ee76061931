#!/usr/bin/env python3
"""`codex-switch run` end to end: the real codex app-server (the pinned one, or
CS_CODEX_VERSION) behind the proxy, the project's mock backend, and a scripted TUI (fake_codex.py) in the TUI's place. Checks what the
mock saw (bearer, ChatGPT-Account-Id), what the TUI received, the exit status, the token file,
and that no process is left behind."""

import glob
import json
import re
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

BIN = os.environ.get("CODEX_SWITCH_BIN")
failures = []
check = h.checker(failures)


def processes_mentioning(text):
    """Pids whose command line contains text (our children carry the temp paths)."""
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                if text.encode() in f.read():
                    pids.append(int(d))
        except OSError:
            pass
    return pids


def setup(mb, n=2):
    home = h.TestHome(mb)
    accts = [h.make_account(mb, "user%d@example.com" % i, "acct-%d" % i, name="acc%d" % i)
             for i in range(n)]
    h.write_accounts(home.switch_home, accts)
    h.write_auth_json(home.codex_home, accts[0])
    return home, accts


def run(home, scenario, name, args=(), timeout=120, codex_bin=None, env=None):
    files_env, transcript = h.fake_tui_files(home, scenario, name)
    env = home.env(**dict(files_env, **(env or {})))
    argv = [BIN, "run", "--codex-bin", codex_bin or h.FAKE_CODEX] + list(args)
    p = subprocess.run(argv, env=env, cwd=home.work, timeout=timeout, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    t = h.read_json(transcript) if os.path.exists(transcript) else {}
    return p, t


def leftovers(home):
    """Token files and sockets of runs, and processes, left behind."""
    tokens = [f for f in os.listdir(os.path.join(home.switch_home, "runtime"))
              if f.startswith("ws-token-") or f.startswith("sock-")]
    return tokens, processes_mentioning(home.switch_home)


def test_normal_turn(mb):
    home, (a, b) = setup(mb)
    scenario = {"exit_code": 7, "steps": [
        {"op": "initialize"},
        {"op": "request", "method": "account/read", "params": {"refreshToken": False}},
        {"op": "thread_start", "params": {}},
        {"op": "turn", "text": "hello", "timeout": 60, "expect_status": "completed"},
    ]}
    p, t = run(home, scenario, "normal")
    check(p.returncode == 7, "run exits with the TUI's status 7 (got %d; stderr %r; error %r)"
          % (p.returncode, p.stderr[-400:], t.get("error")))
    check(t and all(s["ok"] for s in t["steps"]), "the scripted TUI ran every step")
    acct = t["steps"][1].get("result", {}).get("account") or {} if t else {}
    check(acct.get("email") == a["email"], "the TUI sees the start account without signing in")
    last = mb.requests(endpoint="responses")[-1:]
    check(last and last[0]["bearer"] == a["access_token"] and last[0]["account"] == "acct-0",
          "the turn went out with A's bearer and ChatGPT-Account-Id")
    argv = t.get("argv", [])
    check("-C" in argv and home.work in argv and "--remote" in argv,
          "the TUI got -C <cwd> and --remote (argv %r)" % argv[-6:])
    tokens, procs = leftovers(home)
    check(not tokens, "the token file is removed at exit (%r)" % tokens)
    check(not procs, "no process is left behind (%r)" % procs)
    home.cleanup()


def test_usage_limit_switch(mb):
    home, (a, b) = setup(mb)
    mb.set_account("acct-0", responses=["usage_limit"])
    scenario = {"exit_code": 0, "steps": [
        {"op": "initialize"},
        {"op": "thread_start", "params": {}},
        # The limit is never shown: the turn ends quietly and goes again on B.
        {"op": "turn", "text": "first", "timeout": 60, "expect_status": "completed"},
        {"op": "expect_notification", "method": "notice", "contains": "Switched to",
         "timeout": 30},
        # The turn sent again on B runs now; a user reads its answer before typing again.
        {"op": "expect_notification", "method": "turn/completed", "since": "step",
         "timeout": 30},
        {"op": "turn", "text": "second", "timeout": 60, "expect_status": "completed"},
    ]}
    p, t = run(home, scenario, "limit")
    check(p.returncode == 0, "run after a switch exits 0 (got %d; stderr %r; error %r)"
          % (p.returncode, p.stderr[-400:], t.get("error")))
    reqs = mb.requests(endpoint="responses")
    check(len(reqs) >= 2 and reqs[0]["account"] == "acct-0", "the first turn used account A")
    check(reqs and reqs[-1]["bearer"] == b["access_token"] and reqs[-1]["account"] == "acct-1",
          "the next turn carries B's bearer and ChatGPT-Account-Id")
    received = t.get("received", [])
    methods = [m.get("method") for m in received]
    warn = h.notice_texts(received)
    check(warn and "Switched to acc1" in warn[0] and "acc0's" in warn[0],
          "the notice names both accounts (%r)" % (warn[0] if warn else None))
    check(not [m for m in received if m.get("method") == "error"],
          "the TUI never got the usage-limit error")
    first = [r for r in reqs if r.get("account") == "acct-1" and r.get("prompt") == "first"]
    check(first and first[0]["user_texts"].count("first") == 1,
          "the turn went again on B with the prompt once (%r)"
          % [r.get("user_texts") for r in first])
    auth = h.read_json(os.path.join(home.codex_home, "auth.json"))
    check(auth["tokens"]["account_id"] == "acct-1", "auth.json now holds account B")
    tokens, procs = leftovers(home)
    check(not tokens and not procs, "nothing left behind after a switch")
    home.cleanup()


def test_all_exhausted(mb):
    """Every account at its limit: one switch, then the session waits for the earliest reset
    with the prompt held, and no switch loop however many turns fail."""
    home, (a, b) = setup(mb)
    mb.configure({"default": {"responses_default": "usage_limit"}})
    scenario = {"exit_code": 0, "steps": [
        {"op": "initialize"},
        {"op": "thread_start", "params": {}},
        {"op": "turn", "text": "one", "timeout": 60, "expect_status": "completed"},
        {"op": "expect_notification", "method": "notice", "contains": "Switched to",
         "timeout": 30},
        {"op": "expect_notification", "method": "error", "contains": "at their limit",
         "timeout": 30},
        {"op": "turn", "text": "two", "timeout": 60, "expect_status": "completed"},
        {"op": "turn", "text": "three", "timeout": 60, "expect_status": "completed"},
        {"op": "sleep", "seconds": 1},
    ]}
    p, t = run(home, scenario, "exhausted")
    check(p.returncode == 0, "run with every account exhausted exits 0 (%d, %r, %r)"
          % (p.returncode, p.stderr[-300:], t.get("error")))
    warns = h.notice_texts(t.get("received", []))
    switches = [w for w in warns if w.startswith("Switched to")]
    # The waiting line shows as a notice, or in place of the error of the turn codex-switch
    # sent again (the TUI shows no notice during a turn it did not start).
    errors = [m["params"]["error"].get("message", "") for m in t.get("received", [])
              if m.get("method") == "error" and isinstance(m.get("params"), dict)]
    waits = [w for w in warns + errors if "at their limit" in w]
    check(all("at their limit" in e for e in errors),
          "no usage-limit error of codex reached the TUI (%r)" % errors)
    check(len(switches) == 1, "exactly one switch (%r)" % warns)
    check(waits and all("Your prompt will be sent then" in w for w in waits),
          "each waiting prompt is told it waits (%r)" % waits)
    check(waits and re.search(r"to reset at \d\d:\d\d", waits[0]),
          "the message names the earliest reset")
    logins = {r["account"] for r in mb.requests(endpoint="responses")}
    check(logins == {"acct-0", "acct-1"}, "turns went to A, then B, and nowhere else")
    home.cleanup()


def test_auto_reset_credit(mb):
    """config.json auto_reset_credits: when every account is spent, run spends a reset credit
    instead of waiting, and the waiting prompt is answered on the account it reset."""
    home, (a, b) = setup(mb)
    with open(os.path.join(home.switch_home, "config.json"), "w") as f:
        json.dump({"auto_reset_credits": True}, f)
    mb.set_account("acct-0", responses=["usage_limit"], reset_credits=1,
                   text="{account} answers: {prompt}")
    mb.set_account("acct-1", responses_default="usage_limit")
    scenario = {"exit_code": 0, "steps": [
        {"op": "initialize"},
        {"op": "thread_start", "params": {}},
        {"op": "turn", "text": "one", "timeout": 60, "expect_status": "completed"},
        {"op": "sleep", "seconds": 8},
    ]}
    p, t = run(home, scenario, "credit")
    check(p.returncode == 0, "run with a reset credit exits 0 (%d, %r, %r)"
          % (p.returncode, p.stderr[-300:], t.get("error")))
    consumed = mb.requests(endpoint="reset_credits_consume")
    check(len(consumed) == 1 and consumed[0]["account"] == "acct-0"
          and consumed[0].get("outcome") == "reset",
          "one credit of A was spent (%r)" % [(r["account"], r.get("outcome")) for r in consumed])
    check(mb.answered_by("one") == ["acct-0"],
          "the waiting prompt was answered on A after the reset (%r)" % mb.answered_by("one"))
    texts = h.notice_texts(t.get("received", [])) + [
        m["params"]["error"].get("message", "") for m in t.get("received", [])
        if m.get("method") == "error" and isinstance(m.get("params"), dict)]
    check(any("using a rate-limit reset credit of acc0" in x for x in texts),
          "the user is told a credit is used (%r)" % texts)
    home.cleanup()


def test_refresh_answered(mb):
    home, (a, b) = setup(mb)
    mb.set_account("acct-0", responses=["unauthorized"])
    scenario = {"exit_code": 0, "steps": [
        {"op": "initialize"},
        {"op": "thread_start", "params": {}},
        {"op": "turn", "text": "needs refresh", "timeout": 60, "expect_status": "completed"},
        {"op": "parent_libraries"},
    ]}
    p, t = run(home, scenario, "refresh")
    check(p.returncode == 0, "a 401 is answered and the turn completes (got %d; stderr %r; %r)"
          % (p.returncode, p.stderr[-400:], t.get("error")))
    check(mb.count(endpoint="oauth_token") == 1, "exactly one refresh request reached the mock")
    new = mb.latest_access_token("acct-0")
    reqs = mb.requests(endpoint="responses", account="acct-0")
    check(new and reqs and reqs[-1]["bearer"] == new, "the retried turn used the new token")
    methods = [m.get("method") for m in t.get("received", [])]
    check("account/chatgptAuthTokens/refresh" not in methods,
          "the refresh request never reaches the TUI")
    libs = t["steps"][3].get("result") or [] if len(t.get("steps", [])) > 3 else []
    check(libs and not [n for n in libs if "libcurl" in n or "libssl" in n],
          "the refresh ran in a child: no libcurl or libssl in the relay (%r)" % libs)
    stored = {x["id"]: x for x in h.read_accounts(home.switch_home)["accounts"]}
    check(stored[a["id"]]["auth_data"]["access_token"] == new,
          "the store holds the refreshed token")
    home.cleanup()


def test_refusals(mb):
    home, _ = setup(mb)
    env = home.env()
    p = subprocess.run([BIN, "run", "exec", "hi"], env=env, stderr=subprocess.PIPE, timeout=30)
    check(p.returncode == 2 and b"codex resume" in p.stderr, "run exec is refused with exit 2")
    p = subprocess.run([BIN, "run", "--", "--remote", "ws://x"], env=env, stderr=subprocess.PIPE,
                       timeout=30)
    check(p.returncode == 2 and b"--remote" in p.stderr, "--remote is refused")
    os.unlink(os.path.join(home.switch_home, "accounts.json"))
    os.unlink(os.path.join(home.codex_home, "auth.json"))
    p = subprocess.run([BIN, "run"], env=env, stderr=subprocess.PIPE, timeout=30)
    check(p.returncode == 1 and b"codex login" in p.stderr,
          "no stored account and no login: told to log in")
    home.cleanup()


def test_too_old_codex(mb):
    """A codex older than the oldest supported version: run refuses it before its TUI starts
    (the app-server starts while codex is asked its version, and is stopped)."""
    home, _ = setup(mb)
    old = os.path.join(home.root, "old-codex")
    with open(old, "w") as f:
        f.write("#!/bin/sh\n[ \"$1\" = --version ] && { echo 'codex-cli 0.116.0'; exit 0; }\n"
                "[ \"$1\" = app-server ] && while :; do sleep 0.2; done\n"
                "touch '%s/started'\nexit 3\n" % home.root)
    os.chmod(old, 0o755)
    p = subprocess.run([BIN, "run", "--codex-bin", old], env=home.env(), cwd=home.work,
                       stderr=subprocess.PIPE, timeout=60)
    want = ("codex 0.116.0 is older than %s, the oldest version codex-switch supports"
            % h.CODEX_OLDEST).encode()
    check(p.returncode == 1 and want in p.stderr,
          "run refuses codex 0.116.0 with what to do (%d, %r)" % (p.returncode, p.stderr[-300:]))
    check(not os.path.exists(os.path.join(home.root, "started")),
          "and never starts its TUI")
    left = subprocess.run(["pgrep", "-f", old], capture_output=True, text=True).stdout.split()
    check(not left, "and stops its app-server (%r)" % left)
    # A record that says this file was a supported codex (a wrapper since pointed at an old
    # one): its TUI starts at once, and the version still decides.
    st = os.stat(old)
    with open(os.path.join(home.switch_home, "runtime", "codex-version"), "w") as f:
        f.write("%s\n%s\n%d %d %d %d.%09d\n" % (h.CODEX_PINNED, old, st.st_dev, st.st_ino,
                                                st.st_size, st.st_mtime_ns // 10**9,
                                                st.st_mtime_ns % 10**9))
    p = subprocess.run([BIN, "run", "--codex-bin", old], env=home.env(), cwd=home.work,
                       stderr=subprocess.PIPE, timeout=60)
    check(p.returncode == 1 and want in p.stderr,
          "a stale record: still refused, with what to do (%d, %r)"
          % (p.returncode, p.stderr[-300:]))
    check("tui started" in run_log_text(home), "(its TUI was started at once)")
    home.cleanup()


def test_missing_codex(mb):
    home, _ = setup(mb)
    p = subprocess.run([BIN, "run", "--codex-bin", "/nonexistent/codex"], env=home.env(),
                       stderr=subprocess.PIPE, timeout=30)
    check(p.returncode == 1 and b"/nonexistent/codex" in p.stderr,
          "a missing codex binary is reported (%r)" % p.stderr[-200:])
    tokens, procs = leftovers(home)
    check(not tokens and not procs, "nothing left behind when codex is missing")
    home.cleanup()


# ----- faults -----

def start_run(home, scenario, name, codex_bin=None, preexec_fn=None):
    files_env, transcript = h.fake_tui_files(home, scenario, name)
    argv = [BIN, "run", "--codex-bin", codex_bin or h.FAKE_CODEX]
    p = subprocess.Popen(argv, env=home.env(**files_env), cwd=home.work, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, preexec_fn=preexec_fn)
    return p, transcript


def stop_run(p, home):
    """Ends a run from start_run with SIGTERM (SIGKILL after 30 s) and removes its home."""
    import signal
    p.send_signal(signal.SIGTERM)
    try:
        p.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
    home.cleanup()


def wait_for_tui(transcript, timeout=60):
    """Until the scripted TUI has initialized through the proxy."""
    def ready():
        try:
            t = h.read_json(transcript)
        except (OSError, ValueError):
            return False
        return any(s.get("op") == "initialize" and s.get("ok") for s in t.get("steps", []))
    h.wait_until(ready, timeout, "the TUI to initialize")


def app_server_pids(home):
    return [pid for pid in processes_mentioning(home.switch_home)
            if b"app-server" in open("/proc/%d/cmdline" % pid, "rb").read()]


def test_signals(mb):
    import signal
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        home, _ = setup(mb)
        scenario = {"steps": [{"op": "initialize"}, {"op": "sleep", "seconds": 60}]}
        p, transcript = start_run(home, scenario, "sig%d" % sig)
        wait_for_tui(transcript)
        p.send_signal(sig)
        try:
            out, err = p.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
        check(p.returncode != 0 and p.returncode != -sig,
              "%s: codex-switch ends through the TUI (status %d)" % (sig.name, p.returncode))
        if sig == signal.SIGTERM:
            check(p.returncode == 128 + sig, "a TUI killed by SIGTERM gives status 143 (%d)"
                  % p.returncode)
        tokens, procs = leftovers(home)
        check(not tokens, "%s: the token file is removed (%r)" % (sig.name, tokens))
        check(not procs, "%s: no child outlives codex-switch (%r)" % (sig.name, procs))
        home.cleanup()


def test_sigkill_and_stale_token(mb):
    import signal
    home, _ = setup(mb)
    scenario = {"steps": [{"op": "initialize"}, {"op": "sleep", "seconds": 60}]}
    p, transcript = start_run(home, scenario, "kill")
    wait_for_tui(transcript)
    p.send_signal(signal.SIGKILL)
    p.communicate(timeout=10)
    try:
        h.wait_until(lambda: not processes_mentioning(home.switch_home), 10, "children to die")
        check(True, "SIGKILL: the app-server and the TUI die with codex-switch")
    except Exception:  # noqa: BLE001
        check(False, "SIGKILL: children outlived codex-switch (%r)"
              % processes_mentioning(home.switch_home))
    tokens, _ = leftovers(home)
    check(len(tokens) == 1, "SIGKILL leaves the token file behind (%r)" % tokens)
    q, t = run(home, {"exit_code": 0, "steps": [{"op": "initialize"}]}, "after-kill")
    tokens, procs = leftovers(home)
    check(q.returncode == 0 and not tokens and not procs,
          "the next run removes the stale token file (status %d, %r)" % (q.returncode, tokens))
    home.cleanup()


def test_app_server_crash(mb):
    import signal
    home, _ = setup(mb)
    scenario = {"exit_code": 5, "steps": [{"op": "initialize"},
                                          {"op": "wait_close", "timeout": 30}]}
    p, transcript = start_run(home, scenario, "crash")
    wait_for_tui(transcript)
    for pid in app_server_pids(home):
        os.kill(pid, signal.SIGKILL)
    out, err = p.communicate(timeout=60)
    t = h.read_json(transcript)
    check(t.get("close_code") == 1011, "the TUI sees close 1011 when the app-server dies (%r)"
          % t.get("close_code"))
    check(p.returncode == 1 and b"app-server exited unexpectedly" in err,
          "run exits 1 and says the app-server died (%d, %r)" % (p.returncode, err[-300:]))
    tokens, procs = leftovers(home)
    check(not tokens and not procs, "nothing left behind after an app-server crash")
    home.cleanup()


def test_never_ready(mb):
    home, _ = setup(mb)
    slow = os.path.join(home.root, "slow-codex")
    with open(slow, "w") as f:
        # Its TUI waits for its connection, as codex does (for 10 s), and is stopped.
        f.write("#!/bin/sh\n[ \"$1\" = app-server ] && { echo 'booting very slowly' >&2; "
                "exec sleep 60; }\n[ \"$1\" = --version ] && exit 3\nexec sleep 60\n")
    os.chmod(slow, 0o755)
    start = time.monotonic()
    p = subprocess.run([BIN, "run", "--codex-bin", slow], env=home.env(), cwd=home.work,
                       stderr=subprocess.PIPE, timeout=60)
    took = time.monotonic() - start
    check(p.returncode == 1 and b"not ready" in p.stderr and b"booting very slowly" in p.stderr,
          "an app-server that never gets ready: exit 1 with its last output (%r)"
          % p.stderr[-300:])
    check(took < 20, "and it gives up after about 10 s (%.1f s)" % took)
    tokens, procs = leftovers(home)
    check(not tokens and not procs, "nothing left behind when the app-server never gets ready")
    home.cleanup()


def write_wrapper(home, name, app_part):
    """A codex that runs app_part (sh) before its app-server; the rest is FAKE_CODEX."""
    path = os.path.join(home.root, name)
    with open(path, "w") as f:
        f.write("#!/bin/sh\nif [ \"$1\" = app-server ]; then\n%s\nfi\nexec '%s' \"$@\"\n"
                % (app_part, h.FAKE_CODEX))
    os.chmod(path, 0o755)
    return path


def run_log_text(home, store=None):
    text = ""
    for path in sorted(glob.glob(os.path.join(store or home.switch_home, "logs", "*"))):
        with open(path, errors="replace") as f:
            text += f.read()
    return text


def test_tui_starts_with_app_server(mb):
    """The start account is known: the TUI starts while the app-server does. Its connection
    waits until the account is logged in, and is then served (it is not closed for want of
    an app-server)."""
    home, (a, _) = setup(mb)
    ready = os.path.join(home.root, "app-exec")
    slow = write_wrapper(home, "slow-codex", "sleep 1.5; date +%%s.%%N > '%s'" % ready)
    scenario = {"exit_code": 0, "steps": [
        {"op": "initialize"},
        {"op": "request", "method": "account/read", "params": {"refreshToken": False}}]}
    p, t = run(home, scenario, "early", codex_bin=slow)
    check(p.returncode == 0 and t and all(s["ok"] for s in t["steps"]),
          "a TUI started before its app-server is served (%d, %r, %r)"
          % (p.returncode, t.get("error"), p.stderr[-300:]))
    at = float(open(ready).read()) if os.path.exists(ready) else 0
    check(at and t.get("started_at", at) < at,
          "the TUI started while the app-server was starting (%r < %r)"
          % (t.get("started_at"), at))
    acct = t["steps"][1].get("result", {}).get("account") or {} if t.get("steps") else {}
    check(acct.get("email") == a["email"], "and it reads the start account (%r)" % acct)
    log = run_log_text(home)
    check(log.find("logged in") < log.find("client connected") and log.find("logged in") > 0,
          "its connection is taken only once the account is logged in")
    tokens, procs = leftovers(home)
    check(not tokens and not procs, "nothing left behind")
    home.cleanup()


def test_start_fails_with_tui_waiting(mb):
    """The app-server dies while the TUI waits for it: the TUI's connection is refused (503)
    and it exits by itself, not killed after the grace; run exits 1 and says why with the
    app-server's output."""
    home, _ = setup(mb)
    bad = write_wrapper(home, "bad-codex", "sleep 1; echo 'cannot open the database' >&2; "
                        "exit 4")
    p, t = run(home, {"steps": [{"op": "initialize"}]}, "startfail", codex_bin=bad)
    check(p.returncode == 1 and b"app-server exited unexpectedly" in p.stderr
          and b"cannot open the database" in p.stderr,
          "run exits 1 with the app-server's last output (%d, %r)"
          % (p.returncode, p.stderr[-300:]))
    log = run_log_text(home)
    ended = re.findall(r"tui exited with status (\d+)", log)
    check("tui started" in log and "a TUI was refused" in log and ended
          and ended[-1] not in ("137", "143") and "503" in (t.get("error") or ""),
          "the waiting TUI was refused and exited by itself (%r, %r)"
          % (ended, t.get("error")))
    tokens, procs = leftovers(home)
    check(not tokens and not procs, "nothing left behind (%r, %r)" % (tokens, procs))
    home.cleanup()


def test_seen_codex_starts_tui_at_once(mb):
    """The TUI waits for `codex --version` the first time; once that file was seen at a
    supported version, the next start does not wait (the version is still asked); a changed
    file is asked first again."""
    home, (a, _) = setup(mb)
    done = os.path.join(home.root, "version-done")
    codex = os.path.join(home.root, "slow-version-codex")
    with open(codex, "w") as f:
        f.write("#!/bin/sh\nif [ \"$1\" = --version ]; then sleep 1; '%s' --version; s=$?; "
                "date +%%s.%%N >> '%s'; exit $s; fi\nexec '%s' \"$@\"\n"
                % (h.FAKE_CODEX, done, h.FAKE_CODEX))
    os.chmod(codex, 0o755)
    scenario = {"exit_code": 0, "steps": [
        {"op": "initialize"},
        {"op": "request", "method": "account/read", "params": {"refreshToken": False}}]}
    starts = []
    for name in ("first", "seen", "changed"):
        if name == "changed":
            os.utime(codex, (time.time() - 3600, time.time() - 3600))
        p, t = run(home, scenario, name, codex_bin=codex)
        with open(done) as f:
            answered = float(f.read().split()[-1])
        acct = t["steps"][1].get("result", {}).get("account") or {} if t.get("steps") else {}
        check(p.returncode == 0 and acct.get("email") == a["email"],
              "%s: the session runs on the start account (%d, %r)"
              % (name, p.returncode, p.stderr[-200:]))
        starts.append(t.get("started_at", 0) < answered)
    check(starts == [False, True, False],
          "the TUI started before the version was known only for a codex seen before "
          "(first, seen, changed: %r)" % starts)
    home.cleanup()


def has_unix_sockets():
    """Whether the codex under test takes unix://PATH in the app-server and the TUI."""
    return tuple(int(x) for x in h.CODEX_VERSION.split(".")[:3]) >= (0, 131, 0)


def test_unix_sockets_once_seen(mb):
    """Once codex-switch has seen the codex file at 0.131 or later, the app-server and the
    TUI meet it on unix sockets in the runtime directory: the TUI gets no token (codex sends
    none there), the turn is answered as over TCP, and no socket is left behind.
    CODEX_SWITCH_TRANSPORT=tcp keeps loopback TCP, and an older codex stays on TCP."""
    home, (a, _) = setup(mb)
    runtime = os.path.join(home.switch_home, "runtime")
    scenario = {"exit_code": 0, "steps": [
        {"op": "initialize"}, {"op": "thread_start"},
        {"op": "turn", "text": "ping", "timeout": 60, "expect_status": "completed"}]}
    seen = []
    for name, env in (("first", {}), ("seen", {}), ("tcp", {"CODEX_SWITCH_TRANSPORT": "tcp"}),
                      ("unknown", {"CODEX_SWITCH_TRANSPORT": "fast"})):
        p, t = run(home, scenario, name, env=env)
        tokens, procs = leftovers(home)
        check(p.returncode == 0 and not tokens and not procs,
              "%s: the turn is answered and nothing is left (%d, %r, %r, %r)"
              % (name, p.returncode, tokens, procs, p.stderr[-300:]))
        seen.append((t.get("remote") or "", t.get("token_env"), t.get("token_present")))
        if name == "unknown":
            check(b"CODEX_SWITCH_TRANSPORT is 'fast', neither tcp nor unix: ignored" in p.stderr,
                  "an unknown CODEX_SWITCH_TRANSPORT is named on stderr (%r)" % p.stderr[-300:])
    first, unix, tcp, unknown = seen
    check(unknown[0].split(":")[0] == unix[0].split(":")[0],
          "an unknown CODEX_SWITCH_TRANSPORT is ignored (%r, %r)" % (unknown, unix))
    check(first[0].startswith("ws://127.0.0.1:") and first[2] and tcp[0].startswith("ws://")
          and tcp[2], "a first run and CODEX_SWITCH_TRANSPORT=tcp: TCP and a token (%r, %r)"
          % (first, tcp))
    if not has_unix_sockets():
        check(unix[0].startswith("ws://127.0.0.1:") and unix[2],
              "codex %s, seen: still TCP and a token (%r)" % (h.CODEX_VERSION, unix))
        home.cleanup()
        return
    check(unix[0].startswith("unix://" + runtime + "/sock-") and unix[0].endswith("-tui")
          and unix[1] is None and not unix[2],
          "a seen codex: the TUI on a unix socket, without a token (%r)" % (unix,))
    check(re.search(r"app-server started \(pid \d+\) on %s/sock-\d+-[0-9a-f]{8}-app"
                    % re.escape(runtime), run_log_text(home)) is not None,
          "the app-server listened on a unix socket in the runtime directory")
    home.cleanup()


def test_long_store_path_stays_on_tcp(mb):
    """A store whose runtime path does not fit in a unix socket's address (107 bytes): the
    proxy cannot listen there, and the session falls back to TCP (as on a file system without
    unix sockets), seen codex or not."""
    home, accts = setup(mb)
    store = os.path.join(home.root, "s" * 60, "t" * 40)
    os.makedirs(store, mode=0o700)
    h.write_accounts(store, accts)
    scenario = {"exit_code": 0, "steps": [{"op": "initialize"}]}
    remotes = []
    for name in ("first", "seen"):
        p, t = run(home, scenario, name, env={"CODEX_SWITCH_HOME": store})
        check(p.returncode == 0, "%s: the session runs (%d, %r)"
              % (name, p.returncode, p.stderr[-300:]))
        remotes.append(t.get("remote") or "")
    check(os.path.exists(os.path.join(store, "runtime", "codex-version"))
          and all(r.startswith("ws://127.0.0.1:") for r in remotes),
          "a runtime path too long for a socket: TCP both times (%r)" % remotes)
    if has_unix_sockets():
        check("the session uses 127.0.0.1" in run_log_text(home, store),
              "the fallback is logged")
    home.cleanup()


CONNECT_AS_NOBODY = """
import os, socket, sys
os.setgroups([]); os.setgid(65534); os.setuid(65534)
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(sys.argv[1])
except PermissionError:
    print("denied"); sys.exit(0)
s.settimeout(10)
try:
    s.sendall(b"GET /rpc HTTP/1.1\\r\\nHost: localhost\\r\\nUpgrade: websocket\\r\\n"
              b"Connection: Upgrade\\r\\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\\r\\n"
              b"Sec-WebSocket-Version: 13\\r\\n\\r\\n")
    print("answer " + repr(s.recv(100)))
except OSError as e:
    print("error " + str(e))
"""


def test_unix_socket_refuses_other_users(mb):
    """No token is asked on the unix socket: the runtime directory (0700) keeps other users
    out, and with it opened up, the proxy refuses them by their credentials."""
    import stat
    if os.geteuid() != 0 or not has_unix_sockets():
        check(True, "needs root and codex 0.131 or later (codex %s): skipped" % h.CODEX_VERSION)
        return
    home, _ = setup(mb)
    runtime = os.path.join(home.switch_home, "runtime")
    run(home, {"exit_code": 0, "steps": [{"op": "initialize"}]}, "record")
    p, transcript = start_run(home, {"steps": [{"op": "initialize"},
                                               {"op": "sleep", "seconds": 60}]}, "held")
    try:
        wait_for_tui(transcript)
        sock = (h.read_json(transcript).get("remote") or "")[len("unix://"):]
        mode = stat.S_IMODE(os.stat(sock).st_mode) if sock else None
        check(stat.S_IMODE(os.stat(runtime).st_mode) == 0o700 and mode == 0o600,
              "the socket is 0600 in a 0700 directory (%r, %r)" % (sock, mode))
        cmd = [sys.executable, "-c", CONNECT_AS_NOBODY, sock]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout
        check(out.strip() == "denied", "another user cannot connect (%r)" % out)
        for d in (home.root, home.switch_home, runtime):
            os.chmod(d, 0o711)
        os.chmod(sock, 0o666)
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout
        check(out.startswith("answer b''") or out.startswith("error"),
              "with the directory opened, the proxy closes another user's connection (%r)"
              % out)
        check("a connection from another user" in run_log_text(home),
              "the refusal is logged")
    finally:
        stop_run(p, home)


def test_fd_limit_raised(mb):
    """run starts with its soft open file limit at the hard one, so a connection flood cannot
    starve the store at the shell's usual 1024."""
    import resource
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard <= 256:
        check(True, "hard open file limit too low to test (%d)" % hard)
        return
    home, _ = setup(mb)
    scenario = {"steps": [{"op": "initialize"}, {"op": "sleep", "seconds": 60}]}
    p, transcript = start_run(home, scenario, "fdlimit", preexec_fn=lambda: resource.setrlimit(
        resource.RLIMIT_NOFILE, (256, hard)))
    try:
        wait_for_tui(transcript)
        with open("/proc/%d/limits" % p.pid) as f:
            row = [l.split() for l in f if l.startswith("Max open files")][0]
        check(row[3:5] == [str(hard), str(hard)],
              "run raised its soft open file limit to the hard one (%r)" % row)
    finally:
        stop_run(p, home)


def main():
    tests = [
        test_refusals, test_too_old_codex, test_missing_codex, test_normal_turn,
        test_usage_limit_switch, test_all_exhausted, test_auto_reset_credit,
        test_refresh_answered, test_signals,
        test_sigkill_and_stale_token, test_app_server_crash, test_never_ready,
        test_tui_starts_with_app_server, test_start_fails_with_tui_waiting,
        test_seen_codex_starts_tui_at_once,
        test_unix_sockets_once_seen, test_unix_socket_refuses_other_users,
        test_long_store_path_stays_on_tcp,
        test_fd_limit_raised,
    ]
    return h.run_suite(tests, check, failures)


if __name__ == "__main__":
    sys.exit(main())
