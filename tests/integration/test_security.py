#!/usr/bin/env python3
"""Security checks of issue #7 end to end: a full session (device login, `run` with a token
refresh and an account switch, with trace logging) must not show any access, refresh or id
token, API key or capability token in any output, log file or command line of codex-switch and
its children; files holding secrets are 0600 in 0700 directories; every listener of the session
is on 127.0.0.1 and refuses connections without the token; symlinks placed where codex-switch
writes secrets are never followed; the authentication comparisons are constant-time."""

import http.client
import json
import os
import re
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

BIN = os.environ.get("CODEX_SWITCH_BIN")
failures = []
check = h.checker(failures)


# ----- /proc helpers -----

def children_of(pid):
    """Every descendant of pid (walks the ppid field of /proc/*/stat)."""
    parents = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    stat = f.read()
                parents[int(d)] = int(stat[stat.rindex(")") + 2:].split()[1])
            except (OSError, ValueError):
                pass
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        kids = [c for c, pp in parents.items() if pp == p]
        out += kids
        todo += kids
    return out


def cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def socket_inodes(pid):
    inodes = set()
    try:
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            except OSError:
                continue
            m = re.match(r"socket:\[(\d+)\]", target)
            if m:
                inodes.add(m.group(1))
    except OSError:
        pass
    return inodes


def listeners(pids):
    """(table, local address hex, port) of every listening TCP socket the pids hold."""
    inodes = set()
    for p in pids:
        inodes |= socket_inodes(p)
    out = []
    for table in ("tcp", "tcp6"):
        try:
            with open("/proc/net/" + table) as f:
                rows = [line.split() for line in f.readlines()[1:]]
        except OSError:
            continue
        for r in rows:
            if r[3] == "0A" and r[9] in inodes:
                addr, port = r[1].split(":")
                out.append((table, addr, int(port, 16)))
    return out


# ----- the session -----

API_KEY = "sk-test-" + "5ec2e7" * 8


def setup(mb):
    home = h.TestHome(mb, prefix="cs-sec-")
    a = h.make_account(mb, "alice@example.com", "acct-A", name="alice")
    b = h.make_account(mb, "bob@example.com", "acct-B", name="bob")
    h.write_accounts(home.switch_home, [a, b])
    doc = h.read_accounts(home.switch_home)
    doc["accounts"].append({"id": "6f1c2a7e-0d55-4f0e-9a43-1c2b3d4e5f60", "name": "key",
                            "auth_mode": "api_key",
                            "auth_data": {"type": "api_key", "key": API_KEY},
                            "created_at": h.rfc3339(), "auto_switch_disabled": True})
    path = os.path.join(home.switch_home, "accounts.json")
    with open(path, "w") as f:
        json.dump(doc, f, indent=2)
    os.chmod(path, 0o600)
    h.write_auth_json(home.codex_home, a)
    return home, a, b


def device_login(mb, home):
    mb.set_oauth(device={"interval": "1", "approve_after_polls": 1},
                 login={"email": "dev@example.com", "account_id": "acct-dev",
                        "user_id": "user-dev", "plan": "pro"})
    env = home.env(CODEX_SWITCH_LOG="trace")
    p = subprocess.run([BIN, "login", "dev", "--device-auth"], env=env, cwd=home.work,
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=90)
    check(p.returncode == 0, "device login works (%d, %r)" % (p.returncode, p.stderr[-300:]))
    return p.stdout + p.stderr


class Sampler:
    """Samples the command lines, listeners and runtime files of a running session."""

    def __init__(self, proc, home):
        self.proc = proc
        self.home = home
        self.cmdlines = {}
        self.listen = set()
        self.token = None
        self.token_mode = None
        self.port = None
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def loop(self):
        runtime = os.path.join(self.home.switch_home, "runtime")
        while not self.stop.is_set() and self.proc.poll() is None:
            pids = [self.proc.pid] + children_of(self.proc.pid)
            for p in pids:
                c = cmdline(p)
                if c:
                    self.cmdlines[p] = c
            mine = listeners([self.proc.pid])
            self.listen |= set(listeners(pids))
            if mine and self.port is None:
                self.port = mine[0][2]
            try:
                for name in os.listdir(runtime):
                    if name.startswith("ws-token-"):
                        path = os.path.join(runtime, name)
                        self.token_mode = h.file_mode(path)
                        with open(path) as f:
                            self.token = f.read().strip() or self.token
            except OSError:
                pass
            time.sleep(0.05)

    def finish(self):
        self.stop.set()
        self.thread.join(timeout=10)


def run_session(mb, home, a, b):
    mb.set_account("acct-A", responses=["unauthorized", "usage_limit"])
    scenario = {"exit_code": 0, "steps": [
        {"op": "initialize"},
        {"op": "thread_start", "params": {}},
        # The limit is never shown: the turn ends quietly and goes again on B.
        {"op": "turn", "text": "first", "timeout": 90, "expect_status": "completed"},
        {"op": "expect_notification", "method": "notice", "contains": "Switched to",
         "timeout": 30},
        {"op": "turn", "text": "second", "timeout": 90, "expect_status": "completed"},
        {"op": "sleep", "seconds": 4},
    ]}
    files_env, transcript = h.fake_tui_files(home, scenario, "sec")
    env = home.env(CODEX_SWITCH_LOG="trace", **files_env)
    p = subprocess.Popen([BIN, "run", "--codex-bin", h.FAKE_CODEX], env=env, cwd=home.work,
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    s = Sampler(p, home)
    try:
        h.wait_until(lambda: s.port or p.poll() is not None, 60, "the proxy to listen")
        if s.port:
            check(h.http_status(s.port, []) == 401, "the session's proxy: no token -> 401")
            check(h.http_status(s.port, [("Authorization", "Bearer " + "0" * 64)]) == 401,
                  "the session's proxy: a wrong token -> 401")
            h.wait_until(lambda: s.token, 30, "the capability token file")
            check(h.http_status(s.port, [("Authorization", "Bearer " + s.token),
                                       ("Origin", "http://127.0.0.1")]) == 403,
                  "the session's proxy: an Origin header -> 403")
        out, err = p.communicate(timeout=240)
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()
        s.finish()
    t = h.read_json(transcript) if os.path.exists(transcript) else {}
    check(p.returncode == 0, "the session with a refresh and a switch works (%d, %r, %r)"
          % (p.returncode, err[-300:], t.get("error")))
    check(mb.count(endpoint="oauth_token") >= 1, "the session refreshed a token")
    return out + err, s


def all_secrets(mb, home, a, b, captoken):
    secrets = {a["access_token"], a["refresh_token"], a["id_token"], b["access_token"],
               b["refresh_token"], b["id_token"], API_KEY}
    if captoken:
        secrets.add(captoken)
    for acc in h.read_accounts(home.switch_home)["accounts"]:
        d = acc.get("auth_data") or {}
        secrets |= {d.get(k) for k in ("access_token", "refresh_token", "id_token", "key")}
    auth = h.read_json(os.path.join(home.codex_home, "auth.json"))
    secrets |= set((auth.get("tokens") or {}).values()) | {auth.get("OPENAI_API_KEY")}
    for acct in ("acct-A", "acct-B", "acct-dev"):
        secrets.add(mb.latest_access_token(acct))
    for r in mb.requests(endpoint="oauth_token"):
        secrets.add((r.get("json") or {}).get("refresh_token"))
    # account ids are not secrets; short values are not tokens
    return {s for s in secrets if isinstance(s, str) and len(s) >= 16}


def leaks_in(text, secrets):
    return [s[:12] + "…" for s in secrets if s in text]


def log_files(home):
    """Every file of the session that is not a credential store itself."""
    keep = {os.path.join(home.switch_home, "accounts.json"),
            os.path.join(home.codex_home, "auth.json")}
    for root, _dirs, files in os.walk(home.root):
        if os.path.join(home.root, "home") == root or "/sessions" in root:
            continue
        for f in files:
            path = os.path.join(root, f)
            if path in keep or f.endswith(("-scenario.json", "-transcript.json")):
                continue
            if root.startswith(home.codex_home) and not f.endswith(".log") and \
                    "log" not in root:
                continue
            yield path


def test_full_session(mb):
    home, a, b = setup(mb)
    login_out = device_login(mb, home)
    run_out, s = run_session(mb, home, a, b)
    secrets = all_secrets(mb, home, a, b, s.token)
    check(len(secrets) >= 10, "collected the session's secrets (%d)" % len(secrets))
    check(not leaks_in(login_out.decode(errors="replace"), secrets),
          "no secret in the output of login (trace level)")
    check(not leaks_in(run_out.decode(errors="replace"), secrets),
          "no secret in the output of run (trace level): %r"
          % leaks_in(run_out.decode(errors="replace"), secrets))
    leaked = {}
    for path in log_files(home):
        try:
            with open(path, "rb") as f:
                found = leaks_in(f.read().decode(errors="replace"), secrets)
        except OSError:
            continue
        if found:
            leaked[os.path.relpath(path, home.root)] = found
    check(not leaked, "no secret in any log or other file of the session (%r)" % leaked)
    check(len(s.cmdlines) >= 2, "sampled the command lines of codex-switch and its children "
          "(%d processes)" % len(s.cmdlines))
    bad = {pid: leaks_in(c, secrets) for pid, c in s.cmdlines.items() if leaks_in(c, secrets)}
    check(not bad, "no secret in /proc/<pid>/cmdline of codex-switch or its children (%r)" % bad)
    check(s.token_mode == 0o600, "the capability token file is 0600 (%r)"
          % (oct(s.token_mode) if s.token_mode is not None else None))
    check(s.listen and all(t == "tcp" and addr == "0100007F" for t, addr, _ in s.listen),
          "every listener of the session is on 127.0.0.1 (%r)" % sorted(s.listen))
    modes_ok(home)
    home.cleanup()


def modes_ok(home):
    for d in (home.switch_home, os.path.join(home.switch_home, "runtime")):
        if os.path.isdir(d):
            check(h.file_mode(d) == 0o700, "%s is 0700 (%o)"
                  % (os.path.relpath(d, home.root), h.file_mode(d)))
    for root, _dirs, files in os.walk(home.switch_home):
        for f in files:
            if f.endswith(".lock"):
                continue
            path = os.path.join(root, f)
            check(h.file_mode(path) == 0o600, "%s is 0600 (%o)"
                  % (os.path.relpath(path, home.root), h.file_mode(path)))
    auth = os.path.join(home.codex_home, "auth.json")
    check(h.file_mode(auth) == 0o600, "auth.json is 0600 (%o)" % h.file_mode(auth))


# ----- symlinks -----

def test_symlinks(mb):
    home, a, b = setup(mb)
    bait = os.path.join(home.root, "bait")
    os.makedirs(bait, mode=0o700)
    env = home.env()

    def planted(path):
        target = os.path.join(bait, os.path.basename(path) + ".target")
        with open(target, "w") as f:
            f.write("untouched\n")
        return target

    def intact(target):
        with open(target) as f:
            return f.read() == "untouched\n"

    # auth.json: `switch` writes it.
    auth = os.path.join(home.codex_home, "auth.json")
    target = planted(auth)
    os.unlink(auth)
    os.symlink(target, auth)
    p = subprocess.run([BIN, "switch", "bob"], env=env, capture_output=True, timeout=60)
    check(intact(target), "switch does not write through a symlinked auth.json (%d, %r)"
          % (p.returncode, p.stderr[-200:]))
    # accounts.json: every change rewrites it.
    acc = os.path.join(home.switch_home, "accounts.json")
    with open(acc) as f:
        before = f.read()
    target = planted(acc)
    os.replace(acc, os.path.join(bait, "accounts.json.real"))
    with open(target, "w") as f:
        f.write(before)
    os.symlink(target, acc)
    p = subprocess.run([BIN, "rename", "alice", "alice2"], env=env, capture_output=True,
                       timeout=60)
    with open(target) as f:
        check(f.read() == before, "rename does not write through a symlinked accounts.json "
              "(%d, %r)" % (p.returncode, p.stderr[-200:]))
    # export --file --force over a symlink.
    out = os.path.join(home.work, "exported.json")
    target = planted(out)
    os.symlink(target, out)
    p = subprocess.run([BIN, "export", "bob", "--file", out, "--force"], env=env,
                       capture_output=True, timeout=60)
    check(intact(target), "export --force does not write through a symlink (%d, %r)"
          % (p.returncode, p.stderr[-200:]))
    # A symlink at a predictable temporary name next to accounts.json is not followed either.
    os.unlink(acc)
    os.replace(os.path.join(bait, "accounts.json.real"), acc)
    baits = []
    for pattern in ("accounts.json.tmp", "accounts.json.new", ".accounts.json.tmp"):
        path = os.path.join(home.switch_home, pattern)
        baits.append(planted(path))
        os.symlink(baits[-1], path)
    p = subprocess.run([BIN, "rename", "bob", "bob2"], env=env, capture_output=True,
                       timeout=60)
    check(p.returncode == 0, "rename works with bait symlinks in the store (%r)"
          % p.stderr[-200:])
    check(all(intact(t) for t in baits), "no bait symlink was written through")
    home.cleanup()


# ----- constant-time comparisons -----

def test_constant_time():
    """The capability token and the OAuth state are compared with util_ct_equal, and no
    strcmp/memcmp in the files that authenticate touches a token, bearer or state."""
    src = os.path.join(h.SOURCE_ROOT, "src")
    with open(os.path.join(src, "base", "util.c")) as f:
        util = f.read()
    body = util[util.index("bool util_ct_equal"):]
    body = body[:body.index("\n}\n")]
    check("return" in body and "^" in body and "memcmp" not in body and "break" not in body,
          "util_ct_equal accumulates differences (xor) without an early exit")
    for name, what in (("proxy/proxy.c", "tok"), ("net/oauth_server.c", "state")):
        with open(os.path.join(src, name)) as f:
            text = f.read()
        check("util_ct_equal" in text, "%s compares the %s with util_ct_equal" % (name, what))
        bad = re.findall(r"\b(?:strn?cmp|memcmp|strcasecmp)\s*\([^;]*(?:tok|bearer|state)"
                         r"[^;]*;", text)
        check(not bad, "%s has no variable-time comparison of a secret (%r)" % (name, bad))


def main():
    test_constant_time()
    tests = [
        test_symlinks, test_full_session,
    ]
    return h.run_suite(tests, check, failures)


if __name__ == "__main__":
    sys.exit(main())
