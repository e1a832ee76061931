#!/usr/bin/env python3
"""Who the ChatGPT backend thinks is calling (issue #16 point 1), read from the mock's request
log: a session through `codex-switch run` sends the originator and User-Agent of plain codex
(the app-server names its backend requests after the first client to initialize, which is
codex-switch's control connection), and codex-switch's own usage and refresh requests carry the
installed codex's version, as codex's own do. Runs with the codex under test (CS_CODEX_VERSION)."""

import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import test_run as tr  # noqa: E402  (setup and run helpers)

BIN = os.environ.get("CODEX_SWITCH_BIN")
failures = []
check = h.checker(failures)
TUI = {"name": "codex-tui", "version": h.CODEX_VERSION}
TURN = [{"op": "initialize"}, {"op": "thread_start", "params": {}},
        {"op": "turn", "text": "hello", "timeout": 60, "expect_status": "completed"}]


def identity(mb, endpoint="responses"):
    """The set of (originator, user-agent) pairs of the logged requests to endpoint."""
    return {(r["headers"].get("originator"), r["headers"].get("user-agent"))
            for r in mb.requests(endpoint=endpoint)}


def plain_codex(mb):
    """What plain codex sends: its app-server, the TUI's initialize on the first connection,
    one turn on the account of auth.json. Measured with the real TUI under tmux too: plain
    `codex`, `codex --remote` and this send the same."""
    home, _ = tr.setup(mb, 1)
    srv = h.AppServer(home).start()
    try:
        rpc = srv.connect()
        rpc.request("initialize", {"clientInfo": dict(TUI, title=None),
                                   "capabilities": {"experimentalApi": True}})
        rpc.notify("initialized")
        thread = rpc.thread_start()
        rpc.run_turn(thread, "hello")
        rpc.close()
    finally:
        srv.stop()
        home.cleanup()
    return identity(mb)


def test_session_looks_like_plain_codex(mb):
    plain = plain_codex(mb)
    check(len(plain) == 1, "plain codex sends one identity on /responses (%r)" % plain)
    (orig, ua), = plain or {(None, None)}
    # 0.169 on name requests after the first client; 0.117 always says codex_cli_rs.
    product = "codex-tui" if h.codex_at_least("0.169.0") else "codex_cli_rs"
    check(orig == product and ua and ua.startswith("%s/%s (" % (product, h.CODEX_VERSION))
          and ua.endswith("(codex-tui; %s)" % h.CODEX_VERSION),
          "plain codex %s: originator %s, User-Agent %s/<version> ... (codex-tui; <version>) "
          "(%r, %r)" % (h.CODEX_VERSION, product, product, orig, ua))
    own_requests_like(ua)

    mb.clear_requests()
    home, _ = tr.setup(mb)
    p, t = tr.run(home, {"steps": TURN}, "identity")
    check(p.returncode == 0 and all(s["ok"] for s in t.get("steps", [])),
          "a turn through codex-switch run (%r)" % (t.get("error") or p.stderr[-300:]))
    through = identity(mb)
    check(through == plain, "through codex-switch the turn carries plain codex's originator "
          "and User-Agent (%r, plain %r)" % (through, plain))
    named = [(r["path"], r["headers"].get("originator"), r["headers"].get("user-agent"))
             for r in mb.requests()
             if "codex_switch" in (r["headers"].get("originator") or "")
             + (r["headers"].get("user-agent") or "")]
    check(not named, "no backend request of the session names codex-switch (%r)" % named[:3])
    home.cleanup()


CODEX_OWN_UA = []  # what codex's own requests send, from plain codex's User-Agent


def own_requests_like(tui_ua):
    """"<product>/<v> (<os>; <arch>) <terminal> (codex-tui; <v>)": codex's own requests send
    the same without the client part, as codex_cli_rs."""
    if tui_ua and " (codex-tui;" in tui_ua:
        rest = tui_ua.split(" ", 1)[1].rsplit(" (codex-tui;", 1)[0]
        CODEX_OWN_UA.append("codex_cli_rs/%s %s" % (h.CODEX_VERSION, rest))


def test_own_requests_carry_codex_version(mb):
    home, _ = tr.setup(mb, 1)
    env = {"CODEX_SWITCH_CODEX_BIN": h.codex_bin()}
    r = subprocess.run([BIN, "usage", "--json"], env=home.env(**env), capture_output=True,
                       text=True, timeout=60)
    uas = {ua for _, ua in identity(mb, "usage")}
    check(r.returncode == 0 and len(uas) == 1, "one usage request (%r, %r)" % (uas, r.stderr))
    want = "codex_cli_rs/%s (" % h.CODEX_VERSION
    check(all(ua.startswith(want) for ua in uas),
          "usage: User-Agent %s... like codex's own (%r)" % (want, uas))
    check(CODEX_OWN_UA and uas == set(CODEX_OWN_UA[:1]),
          "usage: exactly codex's own User-Agent, OS part included (%r, codex %r)"
          % (uas, CODEX_OWN_UA))

    # A token that expires soon is refreshed first: the refresh names the codex version too.
    b = h.make_account(mb, "soon@example.com", "acct-S", access_exp=int(time.time()) + 30)
    h.write_accounts(home.switch_home, [b])
    h.write_auth_json(home.codex_home, b)
    mb.clear_requests()
    r = subprocess.run([BIN, "usage", "--json"], env=home.env(**env), capture_output=True,
                       text=True, timeout=60)
    uas = {ua for _, ua in identity(mb, "oauth_token")}
    check(len(uas) == 1 and all(ua.startswith(want) for ua in uas),
          "refresh: User-Agent %s... (%r, %r)" % (want, uas, r.stderr[-300:]))

    # No codex to ask: the pinned version, never codex-switch's own.
    mb.clear_requests()
    r = subprocess.run([BIN, "usage", "--json"], capture_output=True, text=True, timeout=60,
                       env=home.env(CODEX_SWITCH_CODEX_BIN="/nonexistent/codex",
                                    PATH="/usr/bin:/bin"))
    uas = {ua for _, ua in identity(mb, "usage")}
    want = "codex_cli_rs/%s (" % h.CODEX_PINNED
    check(len(uas) == 1 and all(ua.startswith(want) for ua in uas),
          "without codex: User-Agent %s... (%r, %r)" % (want, uas, r.stderr[-300:]))
    home.cleanup()


def main():
    return h.run_suite([test_session_looks_like_plain_codex,
                        test_own_requests_carry_codex_version], check, failures)


if __name__ == "__main__":
    sys.exit(main())
