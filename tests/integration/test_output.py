#!/usr/bin/env python3
"""Output conventions: colours, usage bars and tables fitted to the width on a terminal (a
pty), plain text when piped or with NO_COLOR / TERM=dumb, and every --json document checked
against the fields README.md documents (and for secrets)."""

import fcntl
import json
import os
import pty
import re
import struct
import subprocess
import sys
import termios

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

BIN = os.environ["CODEX_SWITCH_BIN"]
ESC = "\x1b["
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def expect(cond, msg):
    if not cond:
        h.fail(msg)


def run_pipe(home, *args, **extra):
    return subprocess.run([BIN, *args], env=home.env(**extra), capture_output=True, text=True,
                          timeout=60)


def run_pty(home, *args, cols=100, **extra):
    """Runs codex-switch with stdout on a pty of cols columns; returns (status, output)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, cols, 0, 0))
    env = {"NO_COLOR": "", "TERM": "xterm-256color", "LANG": "C.UTF-8", "LC_ALL": ""}
    env.update(extra)
    p = subprocess.Popen([BIN, *args], env=home.env(**env), stdin=slave, stdout=slave,
                         stderr=subprocess.PIPE)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the pty
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    rc = p.wait(timeout=60)
    p.stderr.close()
    return rc, b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")


def test_usage_terminal(home):
    rc, out = run_pty(home, "usage")
    expect(rc == 0, "usage on a pty failed: %r" % out)
    expect(ESC in out, "no colours on a terminal: %r" % out)
    expect("\u2588" in out or "\u2591" in out, "no block bars on a UTF-8 terminal: %r" % out)
    expect("resets " in out and "(in " in out, "no local reset time with countdown: %r" % out)
    r = run_pipe(home, "usage", NO_COLOR="")
    expect(r.returncode == 0 and ESC not in r.stdout, "escapes in piped output: %r" % r.stdout)
    expect(re.search(r"\[#+-+\]", r.stdout), "no plain bar when piped: %r" % r.stdout)
    for extra in ({"NO_COLOR": "1"}, {"TERM": "dumb"}):
        rc, out = run_pty(home, "usage", **extra)
        expect(rc == 0 and ESC not in out, "escapes with %r: %r" % (extra, out))
        expect(re.search(r"\[#+-+\]", out), "no plain bar with %r: %r" % (extra, out))


def test_list_width(home):
    rc, out = run_pty(home, "list", cols=60)
    expect(rc == 0, "list on a pty failed: %r" % out)
    expect(ESC + "32m*" in out, "current account not marked in colour: %r" % out)
    lines = [ANSI.sub("", line) for line in out.splitlines()]
    expect(all(len(line) <= 60 for line in lines), "lines wider than 60 columns: %r" % lines)
    expect(any(line.endswith("~") for line in lines), "no clipped line at 60 columns: %r" % lines)
    rc, out = run_pty(home, "list", cols=200)
    expect("USAGE (cached)" in out and not any(ANSI.sub("", x).endswith("~")
                                                for x in out.splitlines()),
           "wide terminal clipped the table: %r" % out)
    r = run_pipe(home, "list", NO_COLOR="")
    expect(ESC not in r.stdout and "USAGE (cached)" in r.stdout,
           "piped list not plain and complete: %r" % r.stdout)


def readme_json_fields():
    """From README.md's JSON table: {command: (top-level fields, item fields)}."""
    with open(os.path.join(h.SOURCE_ROOT, "README.md")) as f:
        text = f.read()
    doc = {}
    for m in re.finditer(r"^\| `codex-switch ([a-z -]+?) --json` \|([^|]*)\|([^|]*)\|", text, re.M):
        doc[m.group(1)] = (set(re.findall(r"`(\w+)`", m.group(2))),
                           set(re.findall(r"`(\w+)`", m.group(3))))
    return doc


def check_doc(name, doc, fields, secrets):
    top, item = fields
    expect(doc.get("schema_version") == 1, "%s: schema_version %r" % (name, doc))
    expect(set(doc) == top, "%s: fields %s, README documents %s" % (name, sorted(doc),
                                                                    sorted(top)))
    items = next((v for v in doc.values() if isinstance(v, list)), [])
    for it in items:
        if isinstance(it, dict):
            expect(set(it) == item, "%s: item fields %s, README documents %s"
                   % (name, sorted(it), sorted(item)))
    text = json.dumps(doc)
    for s in secrets:
        expect(s not in text, "%s --json contains a secret" % name)


def test_json(home, a):
    documented = readme_json_fields()
    for cmd in ("list", "usage", "doctor", "logs path", "logs prune"):
        expect(cmd in documented, "README documents no fields for '%s --json'" % cmd)
    secrets = [a["access_token"], a["refresh_token"], a["id_token"]]
    runs = {"list": ["list"], "usage": ["usage"], "doctor": ["doctor"],
            "logs path": ["logs", "path"], "logs prune": ["logs", "prune", "--dry-run"]}
    for name, args in runs.items():
        r = run_pipe(home, *args, "--json", CODEX_SWITCH_CODEX_BIN=h.codex_bin())
        try:
            doc = json.loads(r.stdout)
        except ValueError:
            h.fail("%s --json printed no JSON (rc %d): %r" % (name, r.returncode, r.stderr))
        expect(doc.get("command") == name, "%s: command %r" % (name, doc.get("command")))
        check_doc(name, doc, documented[name], secrets)
    rc, out = run_pty(home, "list", "--json")
    expect(ESC not in out and json.loads(out)["command"] == "list", "--json on a terminal")


def main():
    mb = h.start_mock()
    home = h.TestHome(mb, prefix="cs-output-")
    try:
        a = h.make_account(mb, "alice@example.com", "acct-A", name="alice-with-a-long-name")
        b = h.make_account(mb, "bob@example.com", "acct-B")
        h.write_accounts(home.switch_home, [a, b])
        h.write_auth_json(home.codex_home, a)
        test_usage_terminal(home)
        print("ok usage on a terminal and piped")
        test_list_width(home)
        print("ok list fitted to the terminal width")
        test_json(home, a)
        print("ok --json as documented")
    finally:
        home.cleanup()
        mb.stop()
    print("1 passed, 0 failed")


main()
