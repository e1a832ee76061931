#!/usr/bin/env python3
"""A plain codex running beside codex-switch: `switch` and `auto-switch` refuse while the real
codex TUI (the pinned binary, on a pseudo-terminal) runs under the test's CODEX_HOME, name it,
and go on with --force; doctor warns about it. Not counted: a codex under another CODEX_HOME, `codex app-server`, a
codex without a terminal, and a TUI of `codex-switch run` (--remote to its loopback proxy)."""

import json
import os
import pty
import select
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

BIN = os.environ["CODEX_SWITCH_BIN"]


def expect(cond, msg):
    if not cond:
        h.fail(msg)


def run(home, *args):
    return subprocess.run([BIN, *args], env=home.env(), capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL)


class PtyProc:
    """A process on its own pseudo-terminal (its controlling terminal); output is drained so
    it never blocks on a full terminal."""

    def __init__(self, argv, env, cwd, exe=None):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.chdir(cwd)
            os.execve(exe or argv[0], argv, env)
        self.out = b""
        self._stop = False
        self._t = threading.Thread(target=self._drain, daemon=True)
        self._t.start()

    def _drain(self):
        while not self._stop:
            r, _, _ = select.select([self.fd], [], [], 0.1)
            if r:
                try:
                    data = os.read(self.fd, 65536)
                except OSError:
                    return
                if not data:
                    return
                self.out += data

    def alive(self):
        return os.waitpid(self.pid, os.WNOHANG) == (0, 0)

    def stop(self):
        self._stop = True
        try:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        self._t.join(2)
        os.close(self.fd)


def start_codex(home, *args, **env):
    e = home.env(TERM="xterm", **env)
    p = PtyProc([h.codex_bin(), *args], e, home.work)
    # the TUI starts and stays at its first screen; give it a moment to be a real process
    time.sleep(1.0)
    expect(p.alive(), "codex %r exited at once: %r" % (args, p.out[-400:]))
    return p


def current_account(home):
    with open(os.path.join(home.codex_home, "auth.json")) as f:
        return json.load(f)["tokens"]["account_id"]


def test_refused(mb, home, a, b):
    r = run(home, "switch", b["name"])
    expect(r.returncode == 0, "switch with nothing beside: %s" % r.stderr)
    r = run(home, "switch", a["name"])
    expect(r.returncode == 0 and current_account(home) == a["account_id"], r.stderr)
    codex = start_codex(home)
    try:
        r = run(home, "switch", b["name"])
        expect(r.returncode == 1, "switch went on beside plain codex: %r" % r.stdout)
        expect("plain codex runs under" in r.stderr and "pid %d" % codex.pid in r.stderr and
               "--force" in r.stderr, "refusal message: %r" % r.stderr)
        expect(current_account(home) == a["account_id"], "auth.json changed after a refusal")
        # auto-switch: the current account is spent, b would be chosen
        mb.set_account(a["account_id"], usage={"primary": {"used_percent": 100,
                                                           "window_seconds": 18000,
                                                           "reset_after_seconds": 3600}})
        r = run(home, "auto-switch", "--dry-run")
        expect(r.returncode == 0 and "would switch" in r.stdout, "dry run: %r" % r.stderr)
        r = run(home, "auto-switch")
        expect(r.returncode == 1 and "pid %d" % codex.pid in r.stderr and
               "refusing to switch" in r.stderr, "auto-switch: %r" % r.stderr)
        expect(current_account(home) == a["account_id"], "auto-switch wrote auth.json")
        r = subprocess.run([BIN, "doctor", "--json"], env=home.env(),
                           capture_output=True, text=True, timeout=60)
        checks = [c for c in json.loads(r.stdout)["checks"] if c["name"] == "plain-codex"]
        expect(len(checks) == 1 and checks[0]["status"] == "warn" and
               "pid %d" % codex.pid in checks[0]["message"] and checks[0]["hint"],
               "doctor: %r" % checks)
        r = run(home, "switch", "--force", b["name"])
        expect(r.returncode == 0 and "going on (--force)" in r.stderr and
               current_account(home) == b["account_id"], "--force: %r" % r.stderr)
        r = run(home, "switch", a["name"], "--force")
        r = run(home, "auto-switch", "--force")
        expect(r.returncode == 0 and current_account(home) == b["account_id"],
               "auto-switch --force: %r" % r.stderr)
        mb.set_account(a["account_id"], usage={"mode": "ok"})
    finally:
        codex.stop()
    r = run(home, "switch", a["name"])
    expect(r.returncode == 0, "switch after codex quit: %s" % r.stderr)
    r = run(home, "doctor", "--json")
    checks = [c for c in json.loads(r.stdout)["checks"] if c["name"] == "plain-codex"]
    expect(len(checks) == 1 and checks[0]["status"] == "pass", "doctor after: %r" % checks)


def test_not_counted(mb, home, a, b, other_home):
    procs = []
    try:
        # the real codex under another CODEX_HOME, and the real app-server under ours
        procs.append(start_codex(home, CODEX_HOME=other_home))
        procs.append(start_codex(home, "app-server"))
        # a TUI of `codex-switch run` and a codex without a terminal (stand-ins named codex:
        # the argv and the terminal are what count)
        py = sys.executable
        sleeper = "import time; time.sleep(60)"
        procs.append(PtyProc(["codex", "-c", sleeper, "--remote", "ws://127.0.0.1:9",
                              "--remote-auth-token-env", "CS_TOKEN"],
                             home.env(), home.work, exe=py))
        bare = subprocess.Popen(["codex", "-c", sleeper], executable=py, env=home.env(),
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        time.sleep(0.5)
        expect(all(p.alive() for p in procs) and bare.poll() is None, "a process exited")
        r = run(home, "switch", b["name"])
        expect(r.returncode == 0 and "plain codex" not in r.stderr,
               "counted what is not a plain codex beside: %r" % r.stderr)
        # the same stand-in on a terminal and without --remote is counted: argv decides
        plain = PtyProc(["codex", "-c", sleeper], home.env(), home.work, exe=py)
        procs.append(plain)
        time.sleep(0.5)
        r = run(home, "switch", a["name"])
        expect(r.returncode == 1 and "pid %d" % plain.pid in r.stderr, "stand-in: %r" % r.stderr)
        bare.kill()
        bare.wait()
    finally:
        for p in procs:
            p.stop()


def kill_left_under(root):
    """The real codex TUI starts an app-server daemon of its own (in its own session, from
    its CODEX_HOME): it outlives the test unless killed."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            exe = os.readlink("/proc/%s/exe" % pid)
        except OSError:
            continue
        if exe.startswith(root + os.sep):
            try:
                os.kill(int(pid), signal.SIGKILL)
            except OSError:
                pass


def main():
    mb = h.start_mock()
    home = h.TestHome(mb, prefix="cs-plain-")
    other = h.TestHome(mb, prefix="cs-plain-other-")
    try:
        a = h.make_account(mb, "a@example.com", "acct-PA")
        b = h.make_account(mb, "b@example.com", "acct-PB")
        h.write_accounts(home.switch_home, [a, b])
        h.write_auth_json(home.codex_home, a)
        test_refused(mb, home, a, b)
        print("ok refused beside a real plain codex")
        test_not_counted(mb, home, a, b, other.codex_home)
        print("ok not counted")
    finally:
        for t in (home, other):
            kill_left_under(t.root)
            t.cleanup()
        mb.stop()
    print("1 passed, 0 failed")


main()
