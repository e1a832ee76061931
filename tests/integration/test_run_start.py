#!/usr/bin/env python3
"""How `codex-switch run` starts (issue #15), with the real codex 0.169.0 app-server, the mock
backend and the scripted TUI: a first run adopts the `codex login` it finds, an unknown login
in auth.json is stored before anything overwrites it (an API key is copied), the account in
auth.json is started on unless it cannot be used (and then the reason is said in plain words),
`--account` pins the start account, and a first prompt reaches codex in an argv the real codex
parses."""

import datetime
import glob
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import test_run as tr  # noqa: E402  (setup, run and process helpers)

failures = tr.failures
check = tr.check

READ_ACCOUNT = {"exit_code": 0, "steps": [
    {"op": "initialize"},
    {"op": "request", "method": "account/read", "params": {"refreshToken": False}},
]}
FULL_5H = {"primary": {"used_percent": 100, "window_seconds": 18000,
                       "reset_after_seconds": 3600}}
HALF_5H = {"primary": {"used_percent": 50, "window_seconds": 18000,
                       "reset_after_seconds": 3600}}


def one_turn(text):
    """A TUI that starts a thread and runs one turn to its end."""
    return {"exit_code": 0, "steps": [
        {"op": "initialize"},
        {"op": "thread_start", "params": {}},
        {"op": "turn", "text": text, "timeout": 60, "expect_status": "completed"},
    ]}


def started_email(t):
    if not t or len(t.get("steps", [])) < 2:
        return None
    return ((t["steps"][1].get("result") or {}).get("account") or {}).get("email")


def stored_names(home):
    return sorted(a["name"] for a in h.read_accounts(home.switch_home)["accounts"])


def auth_account(home):
    return h.read_json(os.path.join(home.codex_home, "auth.json"))["tokens"]["account_id"]


def test_first_run(mb):
    """No store at all, but `codex login` was done: run stores that login and starts on it."""
    home = h.TestHome(mb)
    a = h.make_account(mb, "first.user@example.com", "acct-first")
    h.write_auth_json(home.codex_home, a)
    p, t = tr.run(home, READ_ACCOUNT, "first")
    err = p.stderr.decode(errors="replace")
    check(p.returncode == 0 and started_email(t) == a["email"],
          "a first run starts on the codex login (%d, %r, %r)" % (p.returncode, err[-300:],
                                                                  t.get("error")))
    check(stored_names(home) == ["first.user"], "the login is stored as first.user (%r)"
          % stored_names(home))
    check("it is stored now as first.user (" in err, "the user is told (%r)" % err[-300:])
    check(a["refresh_token"] not in err and a["access_token"] not in err, "no token in stderr")
    home.cleanup()


def test_nothing_to_adopt(mb):
    home = h.TestHome(mb)
    p = subprocess.run([tr.BIN, "run"], env=home.env(), stderr=subprocess.PIPE, timeout=30)
    check(p.returncode == 1 and b"codex login" in p.stderr,
          "no store and no login: told to log in (%r)" % p.stderr)
    home.cleanup()


def test_users_choice_wins(mb):
    """auth.json holds B (half used); A is unused and would rank first: B still starts."""
    home, (a, b) = tr.setup(mb)
    h.write_auth_json(home.codex_home, b)
    mb.set_account("acct-1", usage=HALF_5H)
    p, t = tr.run(home, READ_ACCOUNT, "choice")
    err = p.stderr.decode(errors="replace")
    check(p.returncode == 0 and started_email(t) == b["email"],
          "run starts on the account in auth.json (%r, %r)" % (started_email(t), err[-300:]))
    check("starting on" not in err, "nothing to explain (%r)" % err[-300:])
    check(auth_account(home) == "acct-1", "auth.json still holds B")
    home.cleanup()


def cache_usage(home):
    """`codex-switch usage --all`: the usage cache then holds what the mock says now."""
    p = subprocess.run([tr.BIN, "usage", "--all"], env=home.env(), capture_output=True,
                       timeout=60)
    check(p.returncode == 0, "usage --all filled the cache (%r)" % p.stderr[-300:])


def test_unusable_choice_explained(mb):
    """A recent usage cache says A is spent: run waits for the fresh usage, starts on B and
    says why before the TUI starts."""
    home, (a, b) = tr.setup(mb)
    mb.set_account("acct-0", usage=FULL_5H)
    cache_usage(home)
    p, t = tr.run(home, READ_ACCOUNT, "full")
    err = p.stderr.decode(errors="replace")
    check(p.returncode == 0 and started_email(t) == b["email"],
          "A's 5-hour window is full: run starts on B (%r)" % err[-300:])
    check("starting on acc1 (" in err and "acc0 (" in err and
          "its 5-hour window is used up" in err and "% of its 5-hour window left" in err,
          "the reason is said in plain words (%r)" % err[-400:])
    for jargon in ("headroom", "bottleneck"):
        check(jargon not in err, "no '%s' in the message" % jargon)
    home.cleanup()


def log_times(home, texts):
    """Unix time of the first run log line containing each of texts (None when absent), and
    of the log's first line."""
    out = {}
    first = None
    for path in sorted(glob.glob(os.path.join(home.switch_home, "logs", "*"))):
        with open(path, errors="replace") as f:
            for line in f:
                stamp = line.split(" ", 1)[0]
                try:
                    when = datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
                        tzinfo=datetime.timezone.utc).timestamp()
                except ValueError:
                    continue
                first = when if first is None else first
                for text in texts:
                    if text in line and text not in out:
                        out[text] = when
    return first, out


def test_app_server_starts_during_usage_queries(mb):
    """The app-server starts while the usage queries are out (issue #18); the start account is
    still the one the fresh usage makes the policy choose, and the TUI starts after its
    login."""
    delay = 2.0
    home, (a, b) = tr.setup(mb)
    mb.set_account("acct-0", usage=FULL_5H)
    cache_usage(home)  # the cache says A is spent: the start waits for the fresh usage
    mb.set_account("acct-0", usage=dict(FULL_5H, delay=delay))
    mb.set_account("acct-1", usage=dict(HALF_5H, delay=delay))
    p, t = tr.run(home, READ_ACCOUNT, "early")
    err = p.stderr.decode(errors="replace")
    check(p.returncode == 0 and started_email(t) == b["email"],
          "usage answered after %.0f s: A's full window still makes run start on B (%r)"
          % (delay, err[-300:]))
    check("starting on acc1 (" in err and "its 5-hour window is used up" in err,
          "and says why (%r)" % err[-300:])
    check(auth_account(home) == "acct-1", "auth.json holds the chosen account")
    t0, at = log_times(home, ["app-server started", "logged in acc1", "tui started"])
    app, login, tui = (at.get(k) for k in ("app-server started", "logged in acc1",
                                           "tui started"))
    check(t0 is not None and app is not None and app - t0 < delay / 2,
          "the app-server started before the usage answered (%r s after the start)"
          % (app - t0 if app and t0 else None))
    check(login is not None and login - t0 >= delay - 0.1,
          "the start account was logged in once the usage came (%r s after the start)"
          % (login - t0 if login and t0 else None))
    check(tui is not None and tui >= login, "the TUI started after that login")
    mb.set_account("acct-0", usage={"mode": "ok"})
    mb.set_account("acct-1", usage={"mode": "ok"})
    home.cleanup()


def test_provisional_start_is_corrected(mb):
    """A recent usage cache says A can be used, or there is no cache at all (a first run):
    the TUI starts on A at once, before the usage queries answer (issue #18). The fresh usage
    says A is spent: the session switches to B before the TUI's first turn, which the backend
    sees on B, never on A."""
    for warm in (True, False):
        provisional_start_is_corrected(mb, warm)


def provisional_start_is_corrected(mb, warm):
    delay = 1.5
    home, (a, b) = tr.setup(mb)
    if warm:
        p, t = tr.run(home, READ_ACCOUNT, "warm")  # fills the usage cache: both usable
        check(p.returncode == 0 and started_email(t) == a["email"], "a first run on A (%r)"
              % p.stderr[-300:])
    check(os.path.exists(os.path.join(home.switch_home, "usage-cache.json")) == warm,
          "a usage cache only after the warm-up run")
    for path in glob.glob(os.path.join(home.switch_home, "logs", "*")):
        os.unlink(path)
    mb.set_account("acct-0", usage=dict(FULL_5H, delay=delay))
    mb.set_account("acct-1", usage=dict(HALF_5H, delay=delay))
    before = len(mb.requests(endpoint="responses"))
    scenario = one_turn("hi")
    p, t = tr.run(home, scenario, "provisional")
    reqs = mb.requests(endpoint="responses")[before:]
    what = "a warm cache" if warm else "a first run"
    check(p.returncode == 0 and reqs and all(r["account"] == "acct-1" for r in reqs),
          "%s: the first turn went to B only (%d, %r, %r)"
          % (what, p.returncode, [r["account"] for r in reqs], p.stderr[-300:]))
    t0, at = log_times(home, ["tui started", "the fresh usage chose acc1", "logged in acc0"])
    tui, chose = at.get("tui started"), at.get("the fresh usage chose acc1")
    check(at.get("logged in acc0") is not None and tui is not None and tui - t0 < delay / 2,
          "%s: the TUI started on A before the usage answered (%r s after the start)"
          % (what, tui - t0 if tui and t0 else None))
    check(chose is not None and chose - t0 >= delay - 0.1,
          "%s: the switch to B came with the usage (%r s after the start)"
          % (what, chose - t0 if chose and t0 else None))
    check(auth_account(home) == "acct-1", "%s: auth.json follows B" % what)
    mb.set_account("acct-0", usage={"mode": "ok"})
    mb.set_account("acct-1", usage={"mode": "ok"})
    home.cleanup()


def age_usage_cache(home, seconds):
    """Moves every fetch time in the usage cache that many seconds into the past."""
    path = os.path.join(home.switch_home, "usage-cache.json")

    def walk(o):
        if isinstance(o, dict):
            for k, v in o.items():
                if k == "fetched_at" and isinstance(v, (int, float)):
                    o[k] = v - seconds
                else:
                    walk(v)
        elif isinstance(o, list):
            for v in o:
                walk(v)
    doc = h.read_json(path)
    walk(doc)
    with open(path, "w") as f:
        json.dump(doc, f)


def test_provisional_start_from_an_older_cache(mb):
    """The cache of a session hours ago still lets the TUI start at once (issue #18: start-up
    without waiting for the usage queries), and so does one older than a week, the longest
    window, even where it said A was spent: it says nothing of any window now."""
    delay = 1.5
    home, (a, b) = tr.setup(mb)
    p, t = tr.run(home, READ_ACCOUNT, "warm")
    check(p.returncode == 0 and started_email(t) == a["email"], "a first run on A (%r)"
          % p.stderr[-300:])
    mb.set_account("acct-0", usage=FULL_5H)
    cache_usage(home)  # A spent, says the cache; a week later that is past
    for age, at_once in ((8 * 86400, True), (0, False), (3 * 3600, True)):
        if age == 0:  # a recent cache that says A is spent: the start waits for fresh usage
            mb.set_account("acct-0", usage=FULL_5H)
            cache_usage(home)
        age_usage_cache(home, age)
        for path in glob.glob(os.path.join(home.switch_home, "logs", "*")):
            os.unlink(path)
        mb.set_account("acct-0", usage={"mode": "ok", "delay": delay})
        mb.set_account("acct-1", usage={"mode": "ok", "delay": delay})
        p, t = tr.run(home, READ_ACCOUNT, "aged-%d" % age)
        t0, at = log_times(home, ["tui started"])
        tui = at.get("tui started")
        check(p.returncode == 0 and started_email(t) == a["email"] and tui is not None,
              "a cache %d s old: the session starts on A (%r)" % (age, p.stderr[-300:]))
        if tui is not None:
            waited = tui - t0 >= delay - 0.1
            check(waited != at_once, "a cache %d s old: the TUI %s the usage (%.2f s after the "
                  "start)" % (age, "starts before" if at_once else "waits for", tui - t0))
    mb.set_account("acct-0", usage={"mode": "ok"})
    mb.set_account("acct-1", usage={"mode": "ok"})
    home.cleanup()


def test_held_turn_waits_a_bounded_time(mb):
    """A provisional start whose fresh usage is slow: the first prompt, sent at once, waits at
    most 2 s, then goes on the account the cache vouched for; the usage still comes later."""
    delay = 4.5
    home, (a, b) = tr.setup(mb)
    p, t = tr.run(home, READ_ACCOUNT, "warm")
    check(p.returncode == 0 and started_email(t) == a["email"], "a first run on A (%r)"
          % p.stderr[-300:])
    for path in glob.glob(os.path.join(home.switch_home, "logs", "*")):
        os.unlink(path)
    mb.set_account("acct-0", usage={"mode": "ok", "delay": delay})
    mb.set_account("acct-1", usage={"mode": "ok", "delay": delay})
    before = len(mb.requests(endpoint="responses"))
    scenario = one_turn("right away")
    p, t = tr.run(home, scenario, "slow-usage")
    turns = [r for r in mb.requests(endpoint="responses")[before:]
             if r.get("prompt") == "right away"]
    t0, at = log_times(home, ["tui started", "the fresh usage is late", "usage queries"])
    late, tui = at.get("the fresh usage is late"), at.get("tui started")
    check(p.returncode == 0 and turns and turns[0]["account"] == "acct-0",
          "the first turn ran on A (%d, %r, %r)" % (p.returncode, [r["account"] for r in turns],
                                                   p.stderr[-300:]))
    check(late is not None and tui is not None and 1.5 <= late - tui < delay,
          "the held turn went after the 2 s bound, before the usage (%r s after the TUI)"
          % (late - tui if late and tui else None))
    check(turns and tui is not None and turns[0]["time"] - tui < delay,
          "the backend got the turn before the usage answered (%r s after the TUI)"
          % (turns[0]["time"] - tui if turns and tui else None))
    mb.set_account("acct-0", usage={"mode": "ok"})
    mb.set_account("acct-1", usage={"mode": "ok"})
    home.cleanup()


def version_wrapper(home, version):
    """A --codex-bin that says it is codex-cli <version> and logs each time it is asked."""
    calls = os.path.join(home.root, "version-calls")
    wrapper = os.path.join(home.root, "codex")
    with open(wrapper, "w") as f:
        f.write("#!/bin/sh\n[ \"$1\" = --version ] && { echo asked >> '%s'; "
                "echo 'codex-cli %s'; exit 0; }\nexec '%s' \"$@\"\n"
                % (calls, version, h.FAKE_CODEX))
    os.chmod(wrapper, 0o755)
    return calls, wrapper


def asked_and_agents(calls, mb):
    """How often codex was asked its version, and the agents the usage queries named."""
    with open(calls) as f:
        asked = f.read().split()
    usage = mb.requests(endpoint="usage")
    return asked, usage, {r["headers"].get("user-agent", "").split(" ")[0] for r in usage}


def test_version_asked_once(mb):
    """codex (--codex-bin) is asked its version once per run, while the app-server starts;
    the usage queries that begin after the TUI (a provisional start) name that version in
    their User-Agent without asking again (they asked `codex` on PATH before)."""
    home, (a, b) = tr.setup(mb)
    calls, wrapper = version_wrapper(home, "0.170.0")
    mb.clear_requests()
    p, t = tr.run(home, one_turn("hi"), "version", codex_bin=wrapper)
    asked, usage, agents = asked_and_agents(calls, mb)
    check(p.returncode == 0 and len(usage) >= 2,
          "a session whose usage queries ran (%d, %d queries, %r)"
          % (p.returncode, len(usage), p.stderr[-300:]))
    check(len(asked) == 1, "codex --version ran once (%d times)" % len(asked))
    check(agents == {"codex_cli_rs/0.170.0"},
          "the usage queries name the version --codex-bin gave (%r)" % agents)
    home.cleanup()


def test_waiting_start_names_the_version(mb):
    """A start that waits for the usage queries (the cache says A is spent) names the version
    of --codex-bin in their User-Agent, not that of `codex` on PATH: asked by the queries on
    a first run, and after that read from what the last run recorded for that same file, so
    `codex --version` runs once per run again."""
    home, (a, b) = tr.setup(mb)
    calls, wrapper = version_wrapper(home, "0.170.0")
    for run, want in (("first", 2), ("seen", 1)):
        h.write_auth_json(home.codex_home, a)
        mb.set_account("acct-0", usage=FULL_5H)
        cache_usage(home)
        open(calls, "w").close()
        mb.clear_requests()
        p, t = tr.run(home, READ_ACCOUNT, "version-" + run, codex_bin=wrapper)
        asked, usage, agents = asked_and_agents(calls, mb)
        check(p.returncode == 0 and started_email(t) == b["email"] and len(usage) >= 2,
              "%s run: the fresh usage chose B (%d, %d queries, %r)"
              % (run, p.returncode, len(usage), p.stderr[-300:]))
        check(len(asked) == want, "%s run: codex --version ran %d times (%d)"
              % (run, want, len(asked)))
        check(agents == {"codex_cli_rs/0.170.0"},
              "%s run: the usage queries name the version --codex-bin gave (%r)"
              % (run, agents))
    mb.set_account("acct-0", usage={"mode": "ok"})
    home.cleanup()


def test_disabled_choice_explained(mb):
    home, (a, b) = tr.setup(mb)
    a["auto_switch_disabled"] = True
    h.write_accounts(home.switch_home, [a, b])
    p, t = tr.run(home, READ_ACCOUNT, "disabled")
    err = p.stderr.decode(errors="replace")
    check(p.returncode == 0 and started_email(t) == b["email"],
          "a disabled account in auth.json is not started on (%r)" % err[-300:])
    check("starting on acc1 (" in err and "is excluded from automatic switching" in err and
          "codex-switch enable acc0" in err, "and the message says why and what to do (%r)"
          % err[-300:])
    p, t = tr.run(home, READ_ACCOUNT, "disabled-pin", args=("--account", "acc0"))
    check(p.returncode == 0 and started_email(t) == a["email"],
          "--account starts on a disabled account (%r)" % p.stderr[-300:])
    home.cleanup()


def test_pinned_account(mb):
    home, (a, b) = tr.setup(mb)
    p, t = tr.run(home, READ_ACCOUNT, "pin", args=("--account", "acc1"))
    check(p.returncode == 0 and started_email(t) == b["email"],
          "--account acc1 starts on B although A is current (%r)" % p.stderr[-300:])
    check(auth_account(home) == "acct-1", "auth.json follows the pinned account")
    mb.set_account("acct-1", usage=FULL_5H)
    p, t = tr.run(home, READ_ACCOUNT, "pin2", args=("--account=acc1",))
    check(p.returncode == 0 and started_email(t) == b["email"],
          "a pinned account is started on even when its window is full (%r)" % p.stderr[-300:])
    p = subprocess.run([tr.BIN, "run", "--account", "nobody"], env=home.env(),
                       stderr=subprocess.PIPE, timeout=30)
    check(p.returncode == 2 and b"no account matches 'nobody'" in p.stderr,
          "--account of nothing: exit 2 (%r)" % p.stderr)
    p = subprocess.run([tr.BIN, "run", "--account"], env=home.env(), stderr=subprocess.PIPE,
                       timeout=30)
    check(p.returncode == 2 and b"--account needs a value" in p.stderr,
          "--account without a value (%r)" % p.stderr)
    home.cleanup()


def test_unknown_login_at_start(mb):
    """`codex login` as someone new while the store exists: stored, and started on."""
    home, (a, b) = tr.setup(mb)
    c = h.make_account(mb, "carol@example.com", "acct-2")
    h.write_auth_json(home.codex_home, c)
    p, t = tr.run(home, READ_ACCOUNT, "unknown")
    err = p.stderr.decode(errors="replace")
    check(p.returncode == 0 and started_email(t) == c["email"],
          "run starts on the new login (%r)" % err[-300:])
    check(stored_names(home) == ["acc0", "acc1", "carol"], "carol is stored (%r)"
          % stored_names(home))
    check("held carol@example.com, which was not stored" in err, "and the user is told")
    home.cleanup()


def test_api_key_copied(mb):
    home, (a, b) = tr.setup(mb)
    path = os.path.join(home.codex_home, "auth.json")
    original = json.dumps({"auth_mode": "apikey", "OPENAI_API_KEY": "sk-test-run-start-0123456789"})
    with open(path, "w") as f:
        f.write(original)
    p, t = tr.run(home, READ_ACCOUNT, "apikey")
    err = p.stderr.decode(errors="replace")
    copies = glob.glob(os.path.join(home.switch_home, "auth-backup-*.json"))
    check(p.returncode == 0 and started_email(t) == a["email"],
          "run starts on a stored account (%r)" % err[-300:])
    check(len(copies) == 1 and open(copies[0]).read() == original and
          h.file_mode(copies[0]) == 0o600, "the API key file was copied 0600 (%r)" % copies)
    check(copies and ("a copy is now in '%s'" % copies[0]) in err, "the message says where")
    check("sk-test-run-start" not in err, "the key is not printed")
    check("no stored account is logged in for plain codex" in err,
          "why it starts elsewhere (%r)" % err[-300:])
    home.cleanup()


def real_codex_parses(argv):
    """The real codex's own parser on this argv: a usage error exits 2 before the TUI."""
    env = dict(os.environ, X_TOKEN="x")
    p = subprocess.run([h.codex_bin()] + argv[1:], env=env, stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    return p.returncode != 2 and b"unexpected argument" not in p.stderr, p.stderr[-300:]


def test_first_prompt(mb):
    home, (a, b) = tr.setup(mb)
    cases = [("plain", ["fix the build"]),
             ("dashdash", ["--", "fix the build"]),
             ("options", ["-m", "gpt-5", "fix the build", "-c", "model_verbosity=low"])]
    for name, args in cases:
        p, t = tr.run(home, READ_ACCOUNT, name, args=args)
        argv = t.get("argv", [])
        check(p.returncode == 0 and "fix the build" in argv and "--remote" in argv,
              "%s: the prompt reaches codex (%d, %r, %r)" % (name, p.returncode, argv,
                                                             p.stderr[-200:]))
        if argv:
            # The first session is on TCP with a token variable, the next ones on a unix
            # socket without one (codex-switch has seen this codex by then).
            env_name = (argv[argv.index("--remote-auth-token-env") + 1]
                        if "--remote-auth-token-env" in argv else None)
            fixed = [x if x != env_name else "X_TOKEN" for x in argv]
            ok, err = real_codex_parses(fixed)
            check(ok, "%s: the real codex accepts the TUI argv %r (%r)" % (name, argv, err))
    p = subprocess.run([tr.BIN, "run", "exec", "hi"], env=home.env(), stderr=subprocess.PIPE,
                       timeout=30)
    check(p.returncode == 2 and b"codex [PROMPT]" in p.stderr, "run exec is still refused")
    home.cleanup()


def main():
    tests = [
        test_first_run, test_nothing_to_adopt, test_users_choice_wins,
        test_unusable_choice_explained, test_app_server_starts_during_usage_queries,
        test_provisional_start_is_corrected, test_provisional_start_from_an_older_cache,
        test_held_turn_waits_a_bounded_time, test_version_asked_once,
        test_waiting_start_names_the_version,
        test_disabled_choice_explained, test_pinned_account, test_unknown_login_at_start,
        test_api_key_copied, test_first_prompt,
    ]
    return h.run_suite(tests, check, failures)


if __name__ == "__main__":
    sys.exit(main())
