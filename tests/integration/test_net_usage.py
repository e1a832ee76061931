#!/usr/bin/env python3
"""`codex-switch usage` end to end against the mock: --json shape and values, real-shaped
bodies (swapped windows, extra limits, reached type), --all order and concurrency, API-key
accounts, backend errors, and the usage cache."""

import json
import os
import stat
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

BIN = os.environ["CODEX_SWITCH_BIN"]


def expect(cond, msg):
    if not cond:
        h.fail(msg)


def run(home, *args, **extra):
    return subprocess.run([BIN, *args], env=home.env(**extra), capture_output=True, text=True,
                          timeout=60)


def usage_json(home, *args):
    r = run(home, "usage", "--json", *args)
    try:
        doc = json.loads(r.stdout)
    except ValueError:
        h.fail("usage --json printed no JSON (rc %d): %r %r" % (r.returncode, r.stdout,
                                                                  r.stderr))
    expect(doc.get("schema_version") == 1 and doc.get("command") == "usage", "header")
    return r, doc


def test_default_body(mb, home, a):
    h.write_auth_json(home.codex_home, a)
    r, doc = usage_json(home)
    expect(r.returncode == 0, "usage --json failed: %s" % r.stderr)
    e = doc["accounts"][0]
    expect(e["name"] == a["name"] and e["status"] == "ok", "entry %r" % e)
    expect(e["five_hour"]["used_percent"] == 12 and e["five_hour"]["window_minutes"] == 300,
           "five_hour %r" % e["five_hour"])
    expect(e["weekly"]["used_percent"] == 34 and e["weekly"]["left_percent"] == 66, "weekly")
    expect(abs(e["five_hour"]["resets_at"] - (time.time() + 3600)) < 120, "resets_at")
    expect(e["credits"] == {"has_credits": False, "unlimited": False, "balance": "0"}, "credits")
    for k in ("access_token", "refresh_token", "id_token"):
        expect(a[k] not in r.stdout, "%s in --json output" % k)
    req = mb.requests(endpoint="usage")[-1]
    expect(req["account"] == a["account_id"], "chatgpt-account-id header missing")
    expect(req["headers"].get("user-agent", "").startswith("codex_cli_rs/"), "user agent")
    expect("x-openai-fedramp" not in req["headers"], "fedramp header on a normal account")
    # text output: bars, local reset time with a countdown
    r = run(home, "usage")
    expect(r.returncode == 0 and "5-hour" in r.stdout and "weekly" in r.stdout, r.stdout)
    expect("resets " in r.stdout and "(in " in r.stdout, "no countdown: %r" % r.stdout)


def test_real_shapes(mb, home, a):
    now = int(time.time())
    body = {
        "plan_type": "pro",
        "rate_limit": {
            "allowed": False, "limit_reached": True,
            "primary_window": {"used_percent": 100, "limit_window_seconds": 604800,
                               "reset_after_seconds": 5000, "reset_at": now + 5000},
            "secondary_window": {"used_percent": 40, "limit_window_seconds": 18000,
                                 "reset_after_seconds": None, "reset_at": now + 600}},
        "credits": None,
        "rate_limit_reset_credits": {"available_count": 2},
        "additional_rate_limits": [
            {"limit_name": "GPT-5-Codex-Spark", "metered_feature": "codex_spark",
             "rate_limit": {"primary_window": {"used_percent": 7,
                                               "limit_window_seconds": 18000,
                                               "reset_at": now + 100},
                            "secondary_window": None}}],
        "rate_limit_reached_type": {"type": "workspace_member_usage_limit_reached"},
        "unknown_field": [1, 2, 3],
    }
    mb.set_account(a["account_id"], usage={"body": body})
    r, doc = usage_json(home, a["name"])
    expect(r.returncode == 0, "usage failed: %s" % r.stderr)
    e = doc["accounts"][0]
    expect(e["five_hour"]["used_percent"] == 40 and e["weekly"]["used_percent"] == 100,
           "swapped windows not classified by duration: %r" % e)
    expect(e["status"] == "unavailable" and e["unavailable_reason"], "status %r" % e)
    expect(e["rate_limit_reached_type"] == "workspace_member_usage_limit_reached", "type")
    expect(e["rate_limit_reset_credits_available"] == 2, "reset credits")
    expect(e["credits"] is None, "null credits")
    lim = e["additional_limits"]
    expect(len(lim) == 1 and lim[0]["limit_id"] == "codex_spark" and
           lim[0]["limit_name"] == "GPT-5-Codex-Spark" and
           lim[0]["primary"]["used_percent"] == 7 and lim[0]["secondary"] is None,
           "additional limits %r" % lim)
    expect(e["plan_type"] == "pro", "plan from the body")
    # the backend's plan is written back to the store
    acc = [x for x in h.read_accounts(home.switch_home)["accounts"] if x["id"] == a["id"]][0]
    expect(acc["plan_type"] == "pro", "plan_type not written back: %r" % acc["plan_type"])
    mb.set_account(a["account_id"], usage={"body": {"plan_type": None, "rate_limit": None,
                                                     "rate_limit_reached_type": {
                                                         "type": "brand_new_type"}}})
    r, doc = usage_json(home, a["name"])
    e = doc["accounts"][0]
    expect(r.returncode == 0 and e["five_hour"] is None and e["weekly"] is None and
           e["rate_limit_reached_type"] is None and e["status"] == "ok",
           "nulls and an unknown reached type: %r" % e)
    mb.set_account(a["account_id"], usage={"mode": "ok"})


def test_errors(mb, home, a):
    for mode, want in (("error", "500"), ("garbage", "JSON")):
        mb.set_account(a["account_id"], usage={"mode": mode})
        r, doc = usage_json(home, a["name"])
        e = doc["accounts"][0]
        expect(r.returncode == 1 and e["status"] == "error" and want in (e["error"] or ""),
               "%s: %r / %r" % (mode, e, r.stderr))
    mb.set_account(a["account_id"], usage={"mode": "ok"})


def test_all_and_cache(mb, home, accounts, api):
    mb.set_account("default", usage={"mode": "ok", "delay": 0.5})
    mb.clear_requests()
    t0 = time.monotonic()
    r, doc = usage_json(home, "--all")
    took = time.monotonic() - t0
    expect(r.returncode == 0, "usage --all failed: %s" % r.stderr)
    names = [e["name"] for e in doc["accounts"]]
    expect(names == [x["name"] for x in accounts] + ["key"], "store order: %r" % names)
    expect(doc["accounts"][-1]["status"] == "unsupported" and
           doc["accounts"][-1]["supported"] is False, "api key entry")
    expect(len(mb.requests(endpoint="usage")) == len(accounts), "one request per account")
    expect(took < 0.5 * len(accounts), "not concurrent: %.2fs" % took)
    cache = os.path.join(home.switch_home, "usage-cache.json")
    expect(stat.S_IMODE(os.stat(cache).st_mode) == 0o600, "cache mode")
    with open(cache) as f:
        c = json.load(f)
    for x in accounts:
        expect(c["accounts"][x["id"]]["primary"]["used_percent"] == 12, "cache entry")
    expect(api["id"] not in c["accounts"], "api key account cached")
    # list shows the cached numbers without asking the network
    mb.clear_requests()
    r = run(home, "list")
    row = [ln for ln in r.stdout.splitlines() if " %s " % accounts[0]["name"] in ln]
    expect(r.returncode == 0 and row and "5h 12% wk 34%" in row[0],
           "list shows the cached usage: %r" % r.stdout)
    expect(not mb.requests(endpoint="usage"), "list made a usage request")
    with open(cache, "w") as f:
        f.write("{corrupt")
    r = run(home, "usage", accounts[0]["name"])
    expect(r.returncode == 0 and "corrupt" in r.stderr, "corrupt cache: %r" % r.stderr)
    with open(cache) as f:
        expect(accounts[0]["id"] in json.load(f)["accounts"], "cache not rebuilt")
    r = run(home, "usage", "key")
    expect(r.returncode == 0 and "not available for API-key" in r.stdout, r.stdout)
    mb.set_account("default", usage={"mode": "ok"})


def main():
    mb = h.start_mock()
    home = h.TestHome(mb, prefix="cs-net-usage-")
    try:
        accounts = [h.make_account(mb, "u%d@example.com" % i, "acct-U%d" % i) for i in range(6)]
        doc = h.accounts_json(accounts)
        api = {"id": "0b6c1d57-0000-4000-8000-000000000001", "name": "key",
               "auth_mode": "api_key", "auth_data": {"type": "api_key",
                                                      "key": "sk-test-0123456789abcdef"},
               "created_at": h.rfc3339(), "chatgpt_account_is_fedramp": False,
               "auto_switch_disabled": False, "last_used_at": None,
               "token_last_refresh_at": None}
        doc["accounts"].append(api)
        path = h.write_accounts(home.switch_home, [])
        with open(path, "w") as f:
            json.dump(doc, f)
        test_default_body(mb, home, accounts[0])
        print("ok default body")
        test_real_shapes(mb, home, accounts[1])
        print("ok real shapes")
        test_errors(mb, home, accounts[2])
        print("ok errors")
        test_all_and_cache(mb, home, accounts, api)
        print("ok --all and cache")
    finally:
        home.cleanup()
        mb.stop()
    print("1 passed, 0 failed")


main()
