#!/usr/bin/env python3
"""Rate-limit reset credits and the pool forecast end to end against the mock: credits and
their first expiry in `usage` and `list` (text and --json), `reset-usage` (no terminal, a
terminal answering no and yes, --yes, nothing to reset, no credit, API keys), and the
forecast of `usage --all` from the history the usage cache keeps."""

import json
import os
import pty
import re
import select
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

BIN = os.environ["CODEX_SWITCH_BIN"]
DAY = 86400


def expect(cond, msg):
    if not cond:
        h.fail(msg)


def run(home, *args, stdin=subprocess.DEVNULL):
    return subprocess.run([BIN, *args], env=home.env(), capture_output=True, text=True,
                          timeout=60, stdin=stdin)


def run_tty(home, answer, *args):
    """Runs codex-switch with a pseudo-terminal as stdin, stdout and stderr; types answer
    once the question shows. Returns (exit status, everything it printed)."""
    pid, fd = pty.fork()
    if pid == 0:
        os.execve(BIN, [BIN, *args], home.env())
    out = b""
    typed = False
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        if not typed and b"[y/N]" in out:
            os.write(fd, answer.encode() + b"\n")
            typed = True
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), out.decode(errors="replace")


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def consumes(mb):
    return mb.requests(endpoint="reset_credits_consume")


def test_shown(mb, home, a, b):
    # fixed instants: each `usage` lists again, and a relative expiry would move with the clock
    now = int(time.time())
    mb.set_account(a["account_id"], reset_credits=[
        {"id": "later", "expires_at": iso(now + 20 * DAY)},
        {"id": "first", "expires_at": iso(now + 10 * DAY)},
        {"id": "gone", "status": "redeemed", "expires_at": iso(now + 5 * DAY)}])
    r = run(home, "usage", "--json", a["name"])
    expect(r.returncode == 0, "usage failed: %s" % r.stderr)
    e = json.loads(r.stdout)["accounts"][0]
    expect(e["rate_limit_reset_credits_available"] == 2, "count %r" % e)
    exp = e["rate_limit_reset_credits_expire_at"]
    expect(exp == now + 10 * DAY,
           "first expiry %r" % exp)
    req = mb.requests(endpoint="reset_credits")[-1]
    expect(req["account"] == a["account_id"] and req["bearer"] == a["access_token"],
           "credit list request %r" % req)
    r = run(home, "usage", a["name"])
    expect("limit resets available: 2; the first expires" in r.stdout and
           "spend one with 'codex-switch reset-usage %s'" % a["name"] in r.stdout, r.stdout)
    # an account without credits costs no extra request
    n = len(mb.requests(endpoint="reset_credits"))
    r = run(home, "usage", "--json", b["name"])
    e = json.loads(r.stdout)["accounts"][0]
    expect(e["rate_limit_reset_credits_expire_at"] is None, "b expiry %r" % e)
    expect(len(mb.requests(endpoint="reset_credits")) == n, "listed credits of b")
    # list: from the cache, no network
    mb.clear_requests()
    r = run(home, "list")
    row = [ln for ln in r.stdout.splitlines() if " %s " % a["name"] in ln]
    expect(row and "+2 resets" in row[0], "list row %r" % r.stdout)
    r = run(home, "list", "--json")
    accs = {x["name"]: x for x in json.loads(r.stdout)["accounts"]}
    rc = accs[a["name"]]["reset_credits"]
    expect(rc["available"] == 2 and abs(rc["first_expires_at"] - (now + 10 * DAY)) < 120,
           "list --json credits %r" % rc)
    expect(not mb.requests(), "list made requests: %r" % mb.requests())
    # a later /wham/usage fetch (no listing) keeps the known expiry
    c = h.read_json(os.path.join(home.switch_home, "usage-cache.json"))
    expect(c["accounts"][a["id"]]["rate_limit_reset_credits_expire_at"] == exp, "cached")


def test_refusals(mb, home, a, b):
    mb.clear_requests()
    r = run(home, "reset-usage", a["name"])
    expect(r.returncode == 1 and "without confirmation" in r.stderr and "--yes" in r.stderr,
           "no terminal: %r" % r.stderr)
    code, out = run_tty(home, "n", "reset-usage", a["name"])
    expect(code == 1 and "[y/N]" in out and "nothing was spent" in out, "answer no: %r" % out)
    expect("has 2 reset credits; the first expires" in out, "what is there: %r" % out)
    expect(not consumes(mb), "a credit was spent without a yes")
    # a revoked access token: one forced refresh, one retry
    mb.set_account(b["account_id"], require_bearer="latest")
    mb.clear_requests()
    r = run(home, "reset-usage", "--yes", b["name"])
    expect(r.returncode == 1 and "has no reset credit" in r.stderr, "b: %r" % r.stderr)
    lists = [x["status"] for x in mb.requests(endpoint="reset_credits")]
    expect(lists == [401, 200] and mb.count("oauth_token") == 1,
           "401 then refresh and retry: %r, %d refreshes" % (lists, mb.count("oauth_token")))
    expect(not consumes(mb), "consume without a credit")
    mb.set_account(b["account_id"], require_bearer=None)
    r = run(home, "reset-usage", "--yes", "key")
    expect(r.returncode == 1 and "API-key" in r.stderr, "api key: %r" % r.stderr)
    r = run(home, "reset-usage", "--bogus")
    expect(r.returncode == 2, "bad option: %d" % r.returncode)


def test_spend(mb, home, a):
    mb.clear_requests()
    code, out = run_tty(home, "y", "reset-usage", a["name"])
    expect(code == 0 and "reset 2 usage windows" in out, "answer yes: %d %r" % (code, out))
    expect("new usage of" in out and "5h 0% wk 0%" in out, "usage after: %r" % out)
    reqs = consumes(mb)
    expect(len(reqs) == 1, "consume requests %d" % len(reqs))
    rid = (reqs[0]["json"] or {}).get("redeem_request_id", "")
    expect(re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
                        rid), "redeem_request_id %r" % rid)
    expect(reqs[0]["headers"].get("content-type") == "application/json", "content type")
    # the cache has the usage after the reset: list shows it without asking the network
    mb.clear_requests()
    r = run(home, "list")
    row = [ln for ln in r.stdout.splitlines() if " %s " % a["name"] in ln]
    expect(row and "5h 0% wk 0% +1 reset" in row[0] and not mb.requests(),
           "list after the reset %r" % row)
    r = run(home, "usage", "--json", a["name"])
    e = json.loads(r.stdout)["accounts"][0]
    expect(e["rate_limit_reset_credits_available"] == 1 and e["five_hour"]["used_percent"] == 0,
           "after the reset %r" % e)
    # windows at 0 %: the backend keeps the credit
    r = run(home, "reset-usage", "--yes", a["name"])
    expect(r.returncode == 0 and "nothing to reset" in r.stdout, "nothing: %r" % r.stdout)
    r = run(home, "usage", "--json", a["name"])
    e = json.loads(r.stdout)["accounts"][0]
    expect(e["rate_limit_reset_credits_available"] == 1, "kept %r" % e)
    mb.set_account(a["account_id"], reset_credits=[])


def test_none_usable_names_credit(mb, home, accounts):
    mb.clear_requests()
    spent = {"primary": {"used_percent": 100, "window_seconds": 18000,
                         "reset_after_seconds": 3600}}
    for x in accounts:
        mb.set_account(x["account_id"], usage=spent)
    mb.set_account(accounts[2]["account_id"], reset_credits=1)
    r = run(home, "auto-switch")
    expect(r.returncode == 1 and "no usable account" in r.stderr and
           "%s (" % accounts[2]["name"] in r.stderr and "has 1 rate-limit reset credit" in
           r.stderr and "'codex-switch reset-usage %s'" % accounts[2]["name"] in r.stderr,
           "auto-switch names the account with a credit: %r" % r.stderr)
    expect(not consumes(mb), "auto-switch spent a credit")
    mb.set_account(accounts[2]["account_id"], reset_credits=0)
    r = run(home, "auto-switch")
    expect(r.returncode == 1 and "reset credit" not in r.stderr, "no credit: %r" % r.stderr)
    for x in accounts:
        mb.set_account(x["account_id"], usage={"mode": "ok"})


def write_history(home, ids, points):
    """Puts points (list of [t, five, five_reset, weekly, weekly_reset]) into the cache."""
    path = os.path.join(home.switch_home, "usage-cache.json")
    c = h.read_json(path)
    for i in ids:
        c["accounts"][i]["history"] = points
    with open(path, "w") as f:
        json.dump(c, f)


def test_forecast(mb, home, accounts):
    path = os.path.join(home.switch_home, "usage-cache.json")
    os.unlink(path)
    r = run(home, "usage", "--all", "--json")
    doc = json.loads(r.stdout)
    fc = doc.get("forecast")
    expect(fc and fc["status"] == "not_enough_history" and fc["dry_at"] is None,
           "first run: %r" % fc)
    expect(fc["accounts"] == len(accounts), "accounts counted %r" % fc)
    r = run(home, "usage", "--all")
    expect("pool forecast: not enough history yet" in r.stdout, r.stdout)
    c = h.read_json(path)
    hist = c["accounts"][accounts[0]["id"]]["history"]
    expect(len(hist) == 1 and hist[0][1] == 12 and hist[0][3] == 34, "history %r" % hist)
    # one account used 10 five-hour points and 20 weekly points in the last hour: the weekly
    # windows (66 points left on each of 3 accounts) run dry in about 10 hours
    now = int(time.time())
    ids = [x["id"] for x in accounts]
    write_history(home, ids[1:], [[now - 3600, 12, now + 3600, 34, now + DAY]])
    write_history(home, ids[:1], [[now - 3600, 2, now + 3600, 14, now + DAY]])
    r = run(home, "usage", "--all", "--json")
    fc = json.loads(r.stdout)["forecast"]
    expect(fc["status"] == "ok" and abs(fc["pace_span_seconds"] - 3600) < 120, "fc %r" % fc)
    expect(abs(fc["five_hour_points_per_hour"] - 10) < 0.5 and
           abs(fc["weekly_points_per_hour"] - 20) < 1, "pace %r" % fc)
    expect(isinstance(fc["dry_at"], (int, float)) and
           abs(fc["lasts_seconds"] - 198 / 20 * 3600) < 600 and
           abs(fc["capacity_back_at"] - (now + DAY)) < 120 and
           fc["first_reset_at"] and abs(fc["first_reset_at"] - (now + 3600)) < 120,
           "forecast %r" % fc)
    r = run(home, "usage", "--all")
    expect(re.search(r"at the pace of the last (59 min|1 h).*your %d accounts last about 9 h "
                     r"\d+ min \(until" % len(accounts), r.stdout) and
           "capacity comes back at" in r.stdout and "the first window resets at" in r.stdout,
           "forecast text %r" % r.stdout)
    # bounded: a long history is trimmed
    write_history(home, ids, [[now - 7200 + i, 1, now + 3600, 1, now + DAY]
                              for i in range(500)])
    run(home, "usage", "--all")
    c = h.read_json(path)
    n = len(c["accounts"][ids[0]]["history"])
    expect(n <= 96, "history not bounded: %d" % n)
    # a single account's usage is no forecast
    r = run(home, "usage", "--json", accounts[0]["name"])
    expect("forecast" not in json.loads(r.stdout), "forecast without --all")


def main():
    mb = h.start_mock()
    home = h.TestHome(mb, prefix="cs-credits-")
    try:
        accounts = [h.make_account(mb, "c%d@example.com" % i, "acct-C%d" % i)
                    for i in range(3)]
        doc = h.accounts_json(accounts)
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
        test_shown(mb, home, accounts[0], accounts[1])
        print("ok credits shown")
        test_refusals(mb, home, accounts[0], accounts[1])
        print("ok refusals")
        test_spend(mb, home, accounts[0])
        print("ok spend")
        test_none_usable_names_credit(mb, home, accounts)
        print("ok auto-switch names an account with a credit")
        test_forecast(mb, home, accounts)
        print("ok forecast")
    finally:
        home.cleanup()
        mb.stop()
    print("1 passed, 0 failed")


main()
