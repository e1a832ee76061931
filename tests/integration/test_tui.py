#!/usr/bin/env python3
"""The real codex 0.169.0 TUI through `codex-switch run`, in tmux, against the mock backend:
what a user sees on screen for a normal turn and for a usage limit that makes codex-switch
switch accounts. The mock answers every turn with "<account> answers: <prompt>", so the
screen and the mock's record both say which account answered which prompt."""

import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import tui  # noqa: E402

failures = []
check = h.checker(failures)

ANSWER = "{account} answers: {prompt}"
LIMIT_CELL = tui.USAGE_LIMIT_CELL


def setup(mb):
    """Two accounts, alice (acct-A, in auth.json) and bob (acct-B)."""
    home = h.TestHome(mb)
    a = h.make_account(mb, "alice@example.com", "acct-A", name="alice")
    b = h.make_account(mb, "bob@example.com", "acct-B", name="bob")
    h.write_accounts(home.switch_home, [a, b])
    h.write_auth_json(home.codex_home, a)
    mb.set_account("default", text=ANSWER)
    return home, a, b


def auth_account(home):
    return h.read_json(os.path.join(home.codex_home, "auth.json"))["tokens"]["account_id"]


def token_files(home):
    d = os.path.join(home.switch_home, "runtime")
    return [f for f in os.listdir(d) if f.startswith("ws-token-")] if os.path.isdir(d) else []


def check_exit(t, home, what):
    status = t.quit()
    check(status == 0, "%s: run exits 0 after Ctrl-C (got %r)" % (what, status))
    left = []
    try:
        h.wait_until(lambda: not t.leftovers(), 3, "children to exit")
    except TimeoutError:
        left = t.processes()
    check(not left, "%s: no process is left behind (%r)" % (what, left))
    check(not token_files(home), "%s: the token file is removed" % what)


def test_normal_turn(mb):
    home, a, b = setup(mb)
    with tui.Tui(home) as t:
        t.start()
        t.submit("hello from the test")
        screen = t.wait_for("acct-A answers: hello from the test", 45)
        check(t.count("› hello from the test") == 1 and t.count("answers: hello") == 1,
              "the prompt and its answer show once each (with the scrollback)")
        turns = mb.turns()
        check([r["prompt"] for r in turns] == ["hello from the test"],
              "one turn reached the mock, with the typed prompt (%r)" % mb.prompts())
        check(turns and turns[0]["account"] == "acct-A"
              and turns[0]["bearer"] == a["access_token"],
              "the turn went out as alice (ChatGPT-Account-Id and bearer)")
        check(turns and turns[0]["user_texts"].count("hello from the test") == 1,
              "the prompt is once in the request's input")
        t.command("/status")
        screen = t.wait_for(re.compile(r"Account:\s+alice@example\.com \(Plus\)"), 20)
        check(re.search(r"ChatGPT workspace:\s+acct-A", screen) is not None or not shows_email(),
              "/status shows alice's email, plan and workspace")
        check_exit(t, home, "normal turn")
    home.cleanup()


# /status's account line. Seen on 0.117 and 0.143: no workspace line, and after a switch
# (account/updated) the plan alone, "Account: Plus"; 0.169 and 0.171 show both.
ACCOUNT_LINE = "Account: %s@example.com (Plus)"


def shows_email():
    return tui.tui_codex_version() >= (0, 169, 0)


NOTICE = tui.notice_mark() + " Switched to"
MARK = re.escape(tui.notice_mark())


def prompt_once_in(turn, prompt):
    return turn["user_texts"].count(prompt) == 1


def wait_auth(home, account, what):
    try:
        h.wait_until(lambda: auth_account(home) == account, 20, what)
        check(True, what)
    except TimeoutError:
        check(False, "%s (auth.json holds %s)" % (what, auth_account(home)))


def test_hard_switch(mb):
    """alice's first turn gets a usage-limit 429: the user typed the prompt once and bob
    answers it; codex's red usage-limit cell never shows, one plain line says why, and the
    request bob got holds the prompt once."""
    home, a, b = setup(mb)
    mb.set_account("acct-A", responses=["usage_limit"])
    with tui.Tui(home) as t:
        t.start()
        t.submit("first prompt")
        t.wait_for("acct-B answers: first prompt", 45)
        screen = t.wait_for(re.compile(MARK + r" Switched to bob \(bob@example\.com\): alice's "
                                       r"5-hour limit is at 100% \(resets \d\d:\d\d\)"), 10,
                            history=True, flat=True)
        check(LIMIT_CELL.search(t.screen(history=True)) is None,
              "codex's usage-limit cell is nowhere on screen")
        check(t.count("› first prompt") == 1, "the prompt shows once")
        check(t.count(NOTICE) == 1, "one switch notice")
        check(screen.index("Switched to bob") < screen.index("acct-B answers: first prompt"),
              "the notice comes before bob's answer")
        check(mb.answered_by("first prompt") == ["acct-B"],
              "the mock says bob answered the prompt (%r)" % mb.answered_by("first prompt"))
        b_turn = mb.turns("acct-B")[-1]
        check(prompt_once_in(b_turn, "first prompt"),
              "the re-sent request holds the prompt once (%r)" % b_turn["user_texts"])
        check(b_turn["bearer"] == b["access_token"], "bob's request carries bob's bearer")
        wait_auth(home, "acct-B", "auth.json holds bob after the switch")
        t.submit("second prompt")
        t.wait_for("acct-B answers: second prompt", 45)
        last = mb.turns("acct-B")[-1]
        check(prompt_once_in(last, "first prompt") and prompt_once_in(last, "second prompt"),
              "the next turn's context holds each prompt once (%r)" % last["user_texts"])
        t.command("/status")
        screen = tui.flat(t.wait_for("bob (active) limit:", 20, history=True))
        check(ACCOUNT_LINE % "bob" in screen or not shows_email(),
              "/status names bob's email (%s)" % re.findall(r"Account:[^│]*", screen))
        check(re.search(r"alice limit:[ │]*5h limit: \S+ 0% left", screen) is not None,
              "/status lists alice with her 5-hour window used up (%s)"
              % re.findall(r"alice limit:.{0,60}", screen))
        check_exit(t, home, "hard switch")
    home.cleanup()


def test_soft_switch_notice(mb):
    """alice answers but reports 96 % of her 5-hour window used: codex-switch moves on to bob
    before the next prompt, and the next prompt shows the notice above bob's answer."""
    home, a, b = setup(mb)
    mb.set_account("acct-A", rate_limits={
        "primary": {"used_percent": 96, "window_minutes": 300, "reset_in": 3600},
        "secondary": {"used_percent": 34, "window_minutes": 10080, "reset_in": 86400}})
    with tui.Tui(home) as t:
        t.start()
        t.submit("one")
        t.wait_for("acct-A answers: one", 45)
        wait_auth(home, "acct-B", "the soft switch moved the session to bob")
        t.submit("two")
        screen = t.wait_for("acct-B answers: two", 45, history=True)
        flat = tui.flat(screen)
        check(re.search(MARK + r" Switched to bob \(bob@example\.com\): alice's 5-hour limit is at "
                        r"96%", flat) is not None, "the notice says why in plain words")
        check(flat.index("Switched to bob") < flat.index("acct-B answers: two"),
              "the notice comes before bob's answer")
        check(t.count(NOTICE) == 1, "one notice")
        check_exit(t, home, "soft switch")
    home.cleanup()


def test_external_switch_notice(mb):
    """`codex-switch switch bob` in another terminal: the session follows, and the next
    prompt shows the notice and is answered by bob."""
    home, a, b = setup(mb)
    with tui.Tui(home) as t:
        t.start()
        t.submit("one")
        t.wait_for("acct-A answers: one", 45)
        p = subprocess.run([os.environ["CODEX_SWITCH_BIN"], "switch", "bob"],
                           env=home.env(), capture_output=True, timeout=30)
        check(p.returncode == 0, "codex-switch switch bob works (%r)" % p.stderr[-200:])
        time.sleep(1.5)  # the session follows within a second
        t.submit("two")
        screen = t.wait_for("acct-B answers: two", 45, history=True)
        flat = tui.flat(screen)
        check(NOTICE + " bob (bob@example.com): you chose it with 'codex-switch switch'"
              in flat, "the notice names bob and the user's choice")
        check(mb.answered_by("two") == ["acct-B"], "bob answered the next prompt")
        check_exit(t, home, "external switch")
    home.cleanup()


def test_codex_login_during_a_session(mb):
    """`codex login` as another user while a session runs: that login is stored (never lost),
    the session follows it, and the next prompt says so and is answered by that account."""
    home, a, b = setup(mb)
    carol = h.make_account(mb, "carol@example.com", "acct-C", name="carol")
    with tui.Tui(home) as t:
        t.start()
        t.submit("one")
        t.wait_for("acct-A answers: one", 45)
        h.write_auth_json(home.codex_home, carol)  # what `codex login` leaves behind
        try:
            h.wait_until(lambda: any(x.get("email") == "carol@example.com" for x in h.read_json(
                os.path.join(home.switch_home, "accounts.json"))["accounts"]), 10,
                "carol to be stored")
            check(True, "the login made outside is stored")
        except TimeoutError:
            check(False, "the login made outside is stored")
        time.sleep(1)
        t.submit("two")
        screen = t.wait_for("acct-C answers: two", 45, history=True)
        check("Switched to carol (carol@example.com): you logged in to it with 'codex login'"
              in tui.flat(screen), "the notice says the session follows the new login")
        check_exit(t, home, "codex login")
    auth = h.read_json(os.path.join(home.codex_home, "auth.json"))
    check(auth["tokens"]["account_id"] == "acct-C", "auth.json still holds carol's login")
    home.cleanup()


def test_park_and_resume(mb):
    """Every account is at its limit: the session says so at start; a typed prompt waits for
    the first reset (a few seconds away) and is answered then, with no key pressed."""
    home, a, b = setup(mb)
    mb.limit_until("acct-A", resets_in=14)
    mb.limit_until("acct-B", resets_in=600)
    with tui.Tui(home) as t:
        t.start()
        t.wait_for(re.compile(r"All 2 accounts are at their limit; waiting for alice's "
                              r"[a-z0-9 -]+ to reset at \d\d:\d\d"), 20, flat=True)
        check(True, "the start says every account is spent and when the first resets")
        t.submit("wait for me")
        t.wait_for("Your prompt will be sent then; type anything to cancel.", 30, flat=True)
        check(LIMIT_CELL.search(t.screen(history=True)) is None,
              "codex's usage-limit cell is not shown while waiting")
        t.wait_for("acct-A answers: wait for me", 60)
        check(mb.answered_by("wait for me") == ["acct-A"],
              "after the reset alice answered the waiting prompt (%r)"
              % mb.answered_by("wait for me"))
        last = mb.turns("acct-A")[-1]
        check(prompt_once_in(last, "wait for me"),
              "the prompt is once in the request (%r)" % last["user_texts"])
        check(t.count("› wait for me") == 1, "the prompt shows once on screen")
        check_exit(t, home, "park and resume")
    home.cleanup()


def test_prompt_while_parked_wins(mb):
    """While a prompt waits for a reset, the user types another: the new one is what is sent
    at the reset, the waiting one never is."""
    home, a, b = setup(mb)
    mb.limit_until("acct-A", resets_in=16)
    mb.limit_until("acct-B", resets_in=600)
    with tui.Tui(home) as t:
        t.start()
        t.submit("old prompt")
        t.wait_for("Your prompt will be sent then", 30, flat=True)
        t.submit("new prompt")
        t.wait_for("acct-A answers: new prompt", 60)
        time.sleep(2)
        check(mb.answered_by("old prompt") == [], "the waiting prompt was not sent (%r)"
              % mb.answered_by("old prompt"))
        check(mb.answered_by("new prompt") == ["acct-A"], "the new prompt was answered")
        check_exit(t, home, "prompt while parked")
    home.cleanup()


def test_esc_interrupts_resubmitted(mb):
    """Esc during the turn codex-switch sent again on bob interrupts it, as any turn."""
    home, a, b = setup(mb)
    mb.set_account("acct-A", responses=["usage_limit"])
    mb.set_account("acct-B", stream_delay=1.5)
    with tui.Tui(home) as t:
        t.start()
        t.submit("slow prompt")
        t.wait_for(NOTICE, 30)
        mb.wait_for(lambda: mb.turns("acct-B"), 30)  # the re-sent turn runs on bob
        t.wait_for("esc to interrupt", 30)
        t.key("Escape")
        t.wait_for(tui.INTERRUPTED_CELL, 20)
        check("acct-B answers: slow prompt" not in t.screen(history=True),
              "the interrupted answer did not finish")
        t.submit("after esc")
        t.wait_for("acct-B answers: after esc", 45)
        # Ctrl-C while the answer still streams interrupts it; 0.117's hint to press it
        # again to quit is gone before quit()'s next press
        t.wait_gone("esc to interrupt", 30)
        check_exit(t, home, "esc")
    home.cleanup()


def test_quit_from_a_shell(mb):
    """From an interactive shell, as a user starts it: /quit ends run with status 0 and the
    terminal modes are those from before."""
    home, a, b = setup(mb)
    with tui.Tui(home, shell=True) as t:
        t.start()
        t.submit("are you there")
        t.wait_for("acct-A answers: are you there", 45)
        status = t.quit(how="/quit")
        check(status == 0, "/quit: run exits 0 (got %r)" % status)
        after = t.stty()
        changed = t.stty_flags(after) ^ t.stty_flags(t.stty_before)
        check(not changed, "the terminal modes are restored (changed: %s)" % sorted(changed))
        check(not t.leftovers(), "/quit: no process is left behind (%r)" % t.processes())
        check(re.search(r"Resume this session with: codex-switch run resume [0-9a-f-]{36}",
                        t.screen(history=True)) is not None,
              "after the TUI, run says how to resume the session")
    home.cleanup()


def test_sigterm_restores_terminal(mb):
    """SIGTERM to codex-switch: the TUI is told, run waits for it, and the terminal is left as
    it was found (the TUI may not get to restore it)."""
    home, a, b = setup(mb)
    with tui.Tui(home, shell=True) as t:
        t.start()
        t.submit("before the signal")
        t.wait_for("acct-A answers: before the signal", 45)
        t.signal(signal.SIGTERM)
        t.wait_exit()
        after = t.stty()
        changed = t.stty_flags(after) ^ t.stty_flags(t.stty_before)
        check(not changed, "SIGTERM: the terminal modes are restored (changed: %s)"
              % sorted(changed))
        try:
            h.wait_until(lambda: not t.leftovers(), 5, "children to exit")
        except TimeoutError:
            pass
        check(not t.leftovers(), "SIGTERM: no process is left behind (%r)" % t.processes())
    home.cleanup()


def timed(fn):
    def run(mb):
        start = time.monotonic()
        try:
            fn(mb)
        finally:
            print("time %s: %.1f s" % (fn.__name__, time.monotonic() - start))
    run.__name__ = fn.__name__
    return run


def main():
    tui.tmux_bin()
    tui.tui_codex_bin()
    tests = [test_normal_turn, test_hard_switch, test_soft_switch_notice,
             test_external_switch_notice, test_codex_login_during_a_session,
             test_park_and_resume, test_prompt_while_parked_wins,
             test_esc_interrupts_resubmitted, test_quit_from_a_shell,
             test_sigterm_restores_terminal]
    return h.run_suite([timed(t) for t in tests], check, failures)


if __name__ == "__main__":
    sys.exit(main())
