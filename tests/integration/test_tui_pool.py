#!/usr/bin/env python3
"""The pool in the real codex 0.169.0 TUI through `codex-switch run` (tmux, mock backend):
no heads-up notice and no model-switch popup while another account has headroom, /status
lists every stored account, and the `resume` picker lists the sessions of every account."""

import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import tui  # noqa: E402

failures = []
check = h.checker(failures)

ANSWER = "{account} answers: {prompt}"
# A row of the resume picker: "› 4s ago ..." (0.169), "> 4 seconds ago ..." (0.117). Its title
# may be blank for a moment while the TUI makes it.
# A row's age: "3s ago", "2 minutes ago", or "just now" for the newest while it is fresh.
SESSION_ROW = re.compile(r"^\s*(?:[›>] )?\s*(?:\d+ ?\w* ago|just now)\b")
POPUP = re.compile(r"Approaching rate limits|lower credit usage")


def setup(mb):
    """Two accounts, alice (acct-A, in auth.json) and bob (acct-B)."""
    home = h.TestHome(mb)
    a = h.make_account(mb, "alice@example.com", "acct-A", name="alice")
    b = h.make_account(mb, "bob@example.com", "acct-B", name="bob")
    h.write_accounts(home.switch_home, [a, b])
    h.write_auth_json(home.codex_home, a)
    mb.set_account("default", text=ANSWER)
    return home, a, b


def alice_near_limit(mb, used=92):
    """alice's answers report `used` % of her 5-hour window: past the TUI's heads-up
    thresholds and its popup's 90 %, short of codex-switch's soft switch (95 %)."""
    mb.set_account("acct-A", rate_limits={
        "primary": {"used_percent": used, "window_minutes": 300, "reset_in": 3600},
        "secondary": {"used_percent": 40, "window_minutes": 10080, "reset_in": 86400},
        "credits": {"has_credits": False, "unlimited": False, "balance": "0"}})


def two_turns(t, mb):
    for p in ("first prompt", "second prompt"):
        t.submit(p)
        t.wait_for("acct-A answers: %s" % p, 45)
        time.sleep(2)  # the popup comes after the turn, once the TUI is idle
    return t.screen(history=True)


def warned(t):
    """What of codex's own limit warnings reached the screen (with the scrollback)."""
    screen = t.screen(history=True)
    seen = []
    if tui.HEADS_UP.search(screen):
        seen.append("heads-up")
    if POPUP.search(screen) or any(n == "model-switch" for n, _ in t.dismissed):
        seen.append("model popup")
    return seen


def test_no_warnings_while_pool_has_headroom(mb):
    """alice's answers report 92 % of her 5-hour window used; bob is fresh. The TUI shows no
    heads-up notice and no model-switch popup, and /status shows both accounts' windows."""
    home, a, b = setup(mb)
    alice_near_limit(mb)
    with tui.Tui(home, auto_dismiss=False) as t:
        t.start()
        two_turns(t, mb)
        check(warned(t) == [], "no heads-up notice and no model popup while bob has headroom "
              "(seen: %r)" % warned(t))
        check(mb.answered_by("second prompt") == ["acct-A"],
              "alice still answers: the test stayed below the soft switch")
        # /wham/usage agrees with the answers' headers from now on (the 0.169 TUI's /status
        # asks the app-server, which asks it; 0.117's shows what the session sent).
        mb.set_account("acct-A", usage={
            "primary": {"used_percent": 92, "window_minutes": 300, "reset_in": 3600},
            "secondary": {"used_percent": 40, "window_minutes": 10080, "reset_in": 86400}})
        t.command("/status")
        screen = tui.flat(t.wait_for("bob limit:", 20, history=True))
        m = re.search(r"alice \(active\) limit:[ │]*5h limit: \[[^]]*\] (\d+)% left", screen)
        # 0.117 shows what codex-switch sent of alice since the start (her 92 %); 0.169 the
        # numbers of the app-server's last full read before /status (seen: the start's, 12 %).
        check(m is not None and (m.group(1) == "8" or tui.tui_codex_version() >= (0, 152, 0)),
              "/status has a section for alice, the active account, with her 92 %% used (%r)"
              % (m.groups() if m else None,))
        m = re.search(r"bob limit:[ │]*5h limit: \[[^]]*\] (\d+)% left \(resets \d\d:\d\d[^)]*\)"
                      r"[ │]*Weekly limit: \[[^]]*\] (\d+)% left", screen)
        check(m is not None and m.groups() == ("88", "66"),
              "/status shows bob's 5-hour and weekly windows as /wham/usage has them (%r)"
              % ((m.groups() if m else screen[-600:]),))
        check(warned(t) == [], "still no warning after /status (%r)" % warned(t))
        check(t.quit() == 0, "run exits 0")
    home.cleanup()


def test_warnings_when_pool_is_spent(mb):
    """The control: bob is at his limit, so alice's 92 % is the pool's; codex's own heads-up
    notice reaches the TUI unchanged."""
    home, a, b = setup(mb)
    alice_near_limit(mb)
    mb.limit_until("acct-B", resets_in=3600)
    with tui.Tui(home, auto_dismiss=False) as t:
        t.start()
        t.submit("first prompt")
        t.wait_for("acct-A answers: first prompt", 45)
        try:
            t.wait_for(tui.HEADS_UP, 15, history=True)
            check(True, "the heads-up notice shows when no other account can serve")
        except tui.TuiTimeout:
            check(False, "the heads-up notice shows when no other account can serve")
        t.quit()
    home.cleanup()


def test_switch_keeps_warnings_away(mb):
    """alice reports 96 %: codex-switch moves to bob (account/updated, then a fresh snapshot
    of bob's limits); no warning shows before or after, and /status names bob as active."""
    home, a, b = setup(mb)
    alice_near_limit(mb, used=96)
    with tui.Tui(home, auto_dismiss=False) as t:
        t.start()
        t.submit("first prompt")
        t.wait_for("acct-A answers: first prompt", 45)
        h.wait_until(lambda: h.read_json(os.path.join(home.codex_home, "auth.json"))
                     ["tokens"]["account_id"] == "acct-B", 20, "the switch to bob")
        t.submit("second prompt")
        t.wait_for("acct-B answers: second prompt", 45)
        time.sleep(2)
        check(warned(t) == [], "no warning around the switch (%r)" % warned(t))
        t.command("/status")
        screen = tui.flat(t.wait_for("bob (active) limit:", 20, history=True))
        check("alice limit:" in screen, "/status lists alice as another account")
        t.quit()
    home.cleanup()


def scripted_run(home, scenario, name):
    files_env, transcript = h.fake_tui_files(home, scenario, name)
    p = subprocess.run([os.environ["CODEX_SWITCH_BIN"], "run", "--codex-bin", h.FAKE_CODEX],
                       env=home.env(**files_env), cwd=home.work, timeout=180,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return p, (h.read_json(transcript) if os.path.exists(transcript) else {})


def codex_bucket(m):
    """A rate-limit notification of the "codex" bucket: the one the TUI warns about (each
    account's own bucket, for /status, carries another limitId)."""
    return (m.get("method") == "account/rateLimits/updated"
            and m["params"]["rateLimits"].get("limitId") in (None, "codex"))


def test_messages_after_a_switch(mb):
    """The messages themselves, with a scripted TUI: alice reports 96 % and codex-switch moves
    to bob; after `account/updated` the TUI gets a fresh snapshot with the pool's numbers,
    `account/rateLimits/read` answers carry one bucket per account, and a `thread/list` for
    the current account only reaches the app-server as one for every account."""
    home, a, b = setup(mb)
    alice_near_limit(mb, used=96)
    scenario = {"steps": [
        {"op": "initialize"},
        {"op": "thread_start", "params": {}},
        {"op": "turn", "text": "one", "timeout": 60, "expect_status": "completed"},
        {"op": "expect_notification", "method": "account/updated", "timeout": 20},
        {"op": "sleep", "seconds": 1},
        {"op": "request", "method": "account/rateLimits/read", "params": None},
        {"op": "request", "method": "thread/list",
         "params": {"limit": 10, "currentAccountOnly": True}},
    ]}
    p, t = scripted_run(home, scenario, "scripted")
    check(p.returncode == 0, "the scripted session passes every step (%r, %r)"
          % (t.get("error"), p.stderr[-300:]))
    got = t.get("received", [])
    # The last account/updated is the switch's (the first is the start account's login).
    upd = max((i for i, m in enumerate(got) if m.get("method") == "account/updated"),
              default=None)
    turn = next((i for i, m in enumerate(got) if m.get("method") == "turn/started"), 0)
    snaps = [m["params"]["rateLimits"] for m in got[(upd or 0) + 1:]
             if upd is not None and codex_bucket(m)]
    check(upd is not None and upd > turn, "the app-server's account/updated for the switch "
          "reaches the TUI after the turn")
    check(bool(snaps), "a rate-limit snapshot follows account/updated")
    # bob 12 % (his /wham/usage), alice 96 %: the pool 54 %, shown as 49 %; weekly (34+40)/2
    check(snaps and snaps[0]["primary"]["usedPercent"] == 49
          and snaps[0]["secondary"]["usedPercent"] == 37,
          "the snapshot holds the pool's numbers (%r)" % (snaps[:1],))
    before = [m["params"]["rateLimits"]["primary"]["usedPercent"] for m in got[turn:upd or 0]
              if codex_bucket(m)]
    accounts = {m["params"]["rateLimits"]["limitName"] for m in got[turn:]
                if m.get("method") == "account/rateLimits/updated" and not codex_bucket(m)}
    check({"alice", "bob (active)"} <= accounts,
          "after the switch each account's own bucket names bob as active (%r)" % accounts)
    check(before and max(before) <= 49, "alice's 96 %% reached the TUI as the pool's (%r)"
          % before)
    steps = t.get("steps", [])
    read = next((s.get("result") for s in steps if s.get("op") == "request"
                 and s.get("result", {}) and "rateLimits" in s.get("result", {})), None)
    by_id = (read or {}).get("rateLimitsByLimitId") or {}
    names = sorted(v.get("limitName") for k, v in by_id.items()
                   if k.startswith("codex_switch_"))
    check(names == ["alice", "bob (active)"],
          "/status's answer has a bucket per account (%r)" % names)
    listing = next((s.get("result") for s in steps if s.get("op") == "request"
                    and isinstance(s.get("result"), dict) and "data" in s["result"]), None)
    check(listing is not None and len(listing["data"]) >= 1,
          "thread/list answers with alice's thread while bob is active (%r)"
          % (len(listing["data"]) if listing else listing))
    home.cleanup()


def new_session(home, mb, account, prompt):
    """One `run` session whose first prompt is answered by account; returns when it ended."""
    with tui.Tui(home, name="s-" + account) as t:
        t.start()
        t.submit(prompt)
        t.wait_for("%s answers: %s" % (account, prompt), 45)
        check(t.quit() == 0, "the session of %s ends cleanly" % account)


def test_resume_lists_every_account(mb):
    """A session made as alice and one made as bob: `run resume` (as bob) lists both, and
    picking alice's resumes it."""
    home, a, b = setup(mb)
    tui.trust_workdir(home)
    new_session(home, mb, "acct-A", "alpha from alice")
    p = subprocess.run([os.environ["CODEX_SWITCH_BIN"], "switch", "bob"], env=home.env(),
                       capture_output=True, timeout=30)
    check(p.returncode == 0, "codex-switch switch bob (%r)" % p.stderr[-200:])
    new_session(home, mb, "acct-B", "beta from bob")
    with tui.Tui(home, args=["resume"], name="picker") as t:
        # Rows show the prompt or, once the title is made, the thread's title ("Mock title").
        t.start(dismiss=False)
        t.dismiss_until("Resume a previous session", 60)
        try:
            # The footer once the listing is in: "1 / 2 · ..." (0.169); 0.117 has no count.
            t.wait_any([re.compile(r"\d+ / 2 · "),
                        re.compile(r"^\s*> .*(?: ago|just now)", re.M)], 15)
            screen = t.wait_stable()
        except tui.TuiTimeout as e:
            screen = str(e)
        rows = [ln for ln in screen.splitlines() if SESSION_ROW.match(ln)]
        check(len(rows) == 2, "the picker lists both sessions, alice's too (%r)" % rows)
        if len(rows) == 2:
            t.key("Down")  # newest first: alice's is the second row
            t.enter()
            t.wait_for("acct-A answers: alpha from alice", 30, history=True)
            t.wait_ready(30)
            t.submit("gamma")
            t.wait_for("acct-B answers: gamma", 45)
            check(True, "alice's session resumed and goes on as bob")
        t.quit()
    home.cleanup()


def main():
    tui.tmux_bin()
    tui.tui_codex_bin()
    tests = [test_no_warnings_while_pool_has_headroom, test_warnings_when_pool_is_spent,
             test_switch_keeps_warnings_away, test_messages_after_a_switch,
             test_resume_lists_every_account]
    return h.run_suite(tests, check, failures)


if __name__ == "__main__":
    sys.exit(main())
