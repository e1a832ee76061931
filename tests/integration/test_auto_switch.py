#!/usr/bin/env python3
"""`codex-switch auto-switch` and the "next" mark of `list` / `usage --all` against the mock
backend: a dry run changes nothing, a switch writes auth.json like `switch`, --json shape,
the cache fallback, no usable account, and config.json errors and effects."""

import hashlib
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

BIN = os.environ["CODEX_SWITCH_BIN"]


def expect(cond, msg):
    if not cond:
        h.fail(msg)


def run(home, *args):
    return subprocess.run([BIN, *args], env=home.env(), capture_output=True, text=True,
                          timeout=60)


def usage(five, week=0, five_reset=3600, week_reset=86400):
    return {"mode": "ok",
            "primary": {"used_percent": five, "window_seconds": 18000,
                        "reset_after_seconds": five_reset},
            "secondary": {"used_percent": week, "window_seconds": 604800,
                          "reset_after_seconds": week_reset}}


def set_usage(mb, accounts, *specs):
    for a, spec in zip(accounts, specs):
        mb.set_account(a["account_id"], usage=spec)


def sums(home):
    out = []
    for p in (os.path.join(home.switch_home, "accounts.json"),
              os.path.join(home.codex_home, "auth.json")):
        with open(p, "rb") as f:
            out.append(hashlib.sha256(f.read()).hexdigest())
    return out


def auth_account(home):
    return h.read_json(os.path.join(home.codex_home, "auth.json"))["tokens"]["account_id"]


def stored(home, a):
    return [x for x in h.read_accounts(home.switch_home)["accounts"] if x["id"] == a["id"]][0]


def as_json(r):
    try:
        return json.loads(r.stdout)
    except ValueError:
        h.fail("no JSON (rc %d): %r %r" % (r.returncode, r.stdout, r.stderr))


def no_secrets(r, accounts):
    for a in accounts:
        for k in ("access_token", "refresh_token", "id_token"):
            expect(a[k] not in r.stdout + r.stderr, "%s of %s in the output" % (k, a["name"]))


def test_dry_run(mb, home, acc):
    a, b, c = acc
    set_usage(mb, acc, usage(100), usage(30), usage(60))
    before = sums(home)
    r = run(home, "auto-switch", "--dry-run")
    expect(r.returncode == 0, "dry run failed: %r" % r.stderr)
    expect("would switch from a (" in r.stdout and " to b (" in r.stdout and
           "its 5-hour window is used up" in r.stdout, "dry run text: %r" % r.stdout)
    expect(sums(home) == before, "the dry run changed accounts.json or auth.json")
    expect(not os.path.exists(os.path.join(home.switch_home, "usage-cache.json")),
           "the dry run wrote the usage cache")
    r = run(home, "auto-switch", "--dry-run", "--json")
    d = as_json(r)
    expect(r.returncode == 0 and d["schema_version"] == 1 and d["command"] == "auto-switch",
           "json header %r" % d)
    expect(d["decision"] == "switch" and d["dry_run"] is True and d["switched"] is False,
           "json decision %r" % d)
    expect(d["from"]["name"] == "a" and d["from"]["id"] == a["id"] and
           d["to"]["name"] == "b" and d["to"]["short_id"] == b["id"][:8], "from/to %r" % d)
    expect("b (" in d["reason"] and d["retry_at"] is None, "reason %r" % d)
    no_secrets(r, acc)
    expect(sums(home) == before, "the json dry run changed files")


def test_switch_and_keep(mb, home, acc):
    a, b, c = acc
    r = run(home, "auto-switch")
    expect(r.returncode == 0 and "switched from a (" in r.stdout and " to b (" in r.stdout,
           "switch: %r %r" % (r.stdout, r.stderr))
    expect(auth_account(home) == b["account_id"], "auth.json does not hold b")
    expect(h.file_mode(os.path.join(home.codex_home, "auth.json")) == 0o600, "auth.json mode")
    expect(stored(home, b)["last_used_at"], "last_used_at of b not set")
    expect(stored(home, a)["last_used_at"] is None, "a's last use changed")
    r = run(home, "list")
    row = [ln for ln in r.stdout.splitlines() if " b " in ln]
    expect(row and row[0].lstrip().startswith("*"), "list does not mark b current: %r" % r.stdout)
    before = sums(home)
    r = run(home, "auto-switch", "--json")
    d = as_json(r)
    expect(r.returncode == 0 and d["decision"] == "keep" and d["switched"] is False and
           d["from"]["name"] == "b" and d["to"]["name"] == "b", "keep %r %r" % (d, r.stderr))
    r = run(home, "auto-switch")
    expect(r.returncode == 0 and r.stdout.startswith("kept b ("), "keep text %r" % r.stdout)
    expect(auth_account(home) == b["account_id"], "keeping rewrote auth.json")
    expect(sums(home)[1] == before[1], "keeping changed auth.json")


def test_cache_fallback(mb, home, acc):
    a, b, c = acc
    mb.set_account(b["account_id"], usage={"mode": "error", "status": 503})
    r = run(home, "auto-switch", "--dry-run")
    expect(r.returncode == 0 and "kept b (" in r.stdout, "fallback: %r %r" % (r.stdout, r.stderr))
    expect("cannot fetch the usage of b (" in r.stderr and "using its cached usage" in r.stderr,
           "fallback not reported: %r" % r.stderr)
    os.unlink(os.path.join(home.switch_home, "usage-cache.json"))
    r = run(home, "auto-switch", "--dry-run")
    expect(r.returncode == 0 and "none is cached; it counts as unknown" in r.stderr,
           "unknown not reported: %r" % r.stderr)
    expect("kept b (" in r.stdout and "unknown" in r.stdout, "unknown current: %r" % r.stdout)
    set_usage(mb, acc, usage(100), usage(30), usage(60))


def test_none_usable(mb, home, acc):
    set_usage(mb, acc, usage(100, five_reset=1800), usage(100, five_reset=3600),
              usage(40, week=100, week_reset=900))
    before = sums(home)
    r = run(home, "auto-switch")
    expect(r.returncode == 1 and "no usable account" in r.stderr and
           r.stderr.count("free again in ") == 1 and "resets " not in r.stderr,
           "none usable, the reset time said once: %r %r" % (r.stdout, r.stderr))
    r = run(home, "auto-switch", "--json")
    d = as_json(r)
    expect(r.returncode == 1 and d["decision"] == "none_usable" and d["to"] is None and
           d["switched"] is False, "none usable json %r" % d)
    expect(abs(d["retry_at"] - (time.time() + 900)) < 120, "retry_at %r" % d["retry_at"])
    expect(sums(home) == before, "no usable account but files changed")


def test_next_mark(mb, home, acc):
    a, b, c = acc
    # current b; a resets first, c has more headroom: DeadlineAware takes a
    set_usage(mb, acc, usage(50, five_reset=1200), usage(10), usage(20, five_reset=7200))
    r = run(home, "usage", "--all", "--json")
    d = as_json(r)
    marks = {e["name"]: e["next"] for e in d["accounts"]}
    expect(r.returncode == 0 and marks == {"a": True, "b": False, "c": False, "key": False},
           "usage --all --json next: %r" % marks)
    r = run(home, "usage", "--all")
    blocks = r.stdout.split("\n\n")
    a_block = [x for x in blocks if x.startswith("a (")]
    expect(a_block and "next: automatic switching would choose" in a_block[0] and
           r.stdout.count("next: automatic") == 1, "usage --all text: %r" % r.stdout)
    mb.clear_requests()
    r = run(home, "list")
    rows = {ln.split()[1] if ln.startswith("  *") else ln.split()[0]: ln
            for ln in r.stdout.splitlines() if ln.startswith("  ")}
    expect("next" in rows["a"] and "next" not in rows["c"] and "next" not in rows["b"],
           "list next mark: %r" % r.stdout)
    r = run(home, "list", "--json")
    nexts = [x["name"] for x in as_json(r)["accounts"] if x["next"]]
    expect(nexts == ["a"], "list --json next: %r" % nexts)
    expect(not mb.requests(endpoint="usage"), "list asked the network")
    # the thresholds come from config.json: a (50 left) is not safe at 60
    config = os.path.join(home.switch_home, "config.json")
    with open(config, "w") as f:
        json.dump({"min_safe_headroom": 60}, f)
    r = run(home, "list", "--json")
    nexts = [x["name"] for x in as_json(r)["accounts"] if x["next"]]
    expect(r.returncode == 0 and nexts == ["c"], "config did not apply: %r" % nexts)
    os.unlink(config)


def test_config_errors(mb, home, acc):
    config = os.path.join(home.switch_home, "config.json")
    with open(config, "w") as f:
        f.write('{"weekly_weight": 5, "margin": 10}\n')
    before = sums(home)
    r = run(home, "auto-switch")
    expect(r.returncode == 1 and "unknown key 'margin'" in r.stderr and config in r.stderr,
           "config error: %r" % r.stderr)
    expect(sums(home) == before, "a bad config still changed files")
    r = run(home, "list")
    expect(r.returncode == 0 and "unknown key 'margin'" in r.stderr and
           "defaults are used" in r.stderr, "list with a bad config: %r" % r.stderr)
    with open(config, "w") as f:
        f.write('{"soft_cooldown_s": -5}\n')
    r = run(home, "auto-switch", "--dry-run")
    expect(r.returncode == 1 and "'soft_cooldown_s' must be" in r.stderr, r.stderr)
    os.unlink(config)


def test_usage_errors(home):
    r = run(home, "auto-switch", "extra")
    expect(r.returncode == 2 and "unexpected argument" in r.stderr, r.stderr)
    r = run(home, "auto-switch", "--help")
    expect(r.returncode == 0 and "--dry-run" in r.stdout and "example:" in r.stdout, r.stdout)


def test_empty_store(mb):
    home = h.TestHome(mb, prefix="cs-auto-empty-")
    try:
        r = run(home, "auto-switch")
        expect(r.returncode == 1 and "no accounts stored" in r.stderr, r.stderr)
    finally:
        home.cleanup()


def main():
    mb = h.start_mock()
    home = h.TestHome(mb, prefix="cs-auto-switch-")
    try:
        acc = [h.make_account(mb, "%s@example.com" % n, "acct-%s" % n.upper()) for n in "abc"]
        doc = h.accounts_json(acc)
        doc["accounts"].append({
            "id": "0b6c1d57-0000-4000-8000-000000000002", "name": "key",
            "auth_mode": "api_key", "auth_data": {"type": "api_key",
                                                   "key": "sk-test-0123456789abcdef"},
            "created_at": h.rfc3339(), "chatgpt_account_is_fedramp": False,
            "auto_switch_disabled": False, "last_used_at": None,
            "token_last_refresh_at": None})
        path = h.write_accounts(home.switch_home, [])
        with open(path, "w") as f:
            json.dump(doc, f)
        h.write_auth_json(home.codex_home, acc[0])
        test_usage_errors(home)
        test_empty_store(mb)
        print("ok usage errors and empty store")
        test_dry_run(mb, home, acc)
        print("ok dry run")
        test_switch_and_keep(mb, home, acc)
        print("ok switch and keep")
        test_cache_fallback(mb, home, acc)
        print("ok cache fallback")
        test_none_usable(mb, home, acc)
        print("ok no usable account")
        test_next_mark(mb, home, acc)
        print("ok next mark")
        test_config_errors(mb, home, acc)
        print("ok config errors")
    finally:
        home.cleanup()
        mb.stop()
    print("1 passed, 0 failed")


main()
