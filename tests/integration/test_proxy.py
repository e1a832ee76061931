#!/usr/bin/env python3
"""The proxy (src/proxy/) end to end on loopback: a fake app-server, the proxy with test hooks
and scripted clients, all modes of tests/helpers (cs-test-peer). No real codex is needed."""
import os
import secrets
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

PEER = os.environ.get("CS_TEST_PEER") or os.path.join(
    os.environ.get("CS_BUILD_ROOT", "build"), "tests", "cs-test-peer")
TOKEN = secrets.token_hex(32)
ENV = dict(os.environ, CS_TEST_TOKEN=TOKEN)
MIB = 1024 * 1024
# The proxy's peak RSS while relaying 128 MiB each way must stay far below the message size.
MAX_RSS_KB = 24 * 1024


class Peer:
    """A cs-test-peer process whose stdout lines are collected by a thread."""

    def __init__(self, *args, listens=True, preexec_fn=None):
        self.proc = subprocess.Popen([PEER, *args], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, env=ENV, text=True,
                                     errors="replace", preexec_fn=preexec_fn)
        self.lines = []
        self.cv = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()
        if listens:
            self.port = int(self.wait("listening").split()[1])

    def _read(self):
        for line in self.proc.stdout:
            with self.cv:
                self.lines.append(line.rstrip("\n"))
                self.cv.notify_all()
        with self.cv:
            self.lines.append("<eof>")
            self.cv.notify_all()

    def wait(self, prefix, count=1, timeout=20):
        deadline = time.monotonic() + timeout
        with self.cv:
            while True:
                hits = [l for l in self.lines if l.startswith(prefix)]
                if len(hits) >= count:
                    return hits[count - 1]
                left = deadline - time.monotonic()
                if left <= 0 or "<eof>" in self.lines:
                    raise AssertionError(f"no '{prefix}' (x{count}) from {self.proc.args[1]}: "
                                         f"{self.lines[-30:]}")
                self.cv.wait(left)

    def count(self, prefix):
        with self.cv:
            return sum(1 for l in self.lines if l.startswith(prefix))

    def command(self, cmd):
        self.proc.stdin.write(cmd + "\n")
        self.proc.stdin.flush()

    def stop(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
            except BrokenPipeError:
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def client(port, *steps, timeout=60):
    return subprocess.run([PEER, "client", "--port", str(port), "--timeout", str(timeout),
                           *steps], env=ENV, capture_output=True, text=True,
                          timeout=timeout + 15)


def client_ok(port, *steps, timeout=60):
    r = client(port, *steps, timeout=timeout)
    check(r.returncode == 0 and "PASS" in r.stdout,
          f"client script failed:\n{r.stdout[-3000:]}{r.stderr[-2000:]}")
    return r


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_bind_loopback_only(app, proxy):
    hexport = f"{proxy.port:04X}"
    with open("/proc/net/tcp") as f:
        rows = [l.split() for l in f.readlines()[1:]]
    listen = [r[1] for r in rows if r[1].endswith(":" + hexport) and r[3] == "0A"]
    check(listen == [f"0100007F:{hexport}"], f"listener entries for the port: {listen}")
    if os.path.exists("/proc/net/tcp6"):
        with open("/proc/net/tcp6") as f:
            rows6 = [l.split() for l in f.readlines()[1:]]
        check(not [r for r in rows6 if r[1].endswith(":" + hexport)], "proxy listens on tcp6")


def test_http_refusals(app, proxy):
    before = app.count("established")
    check(h.http_status(proxy.port, []) == 401, "missing token not refused with 401")
    check(h.http_status(proxy.port, [("Authorization", "Bearer wrong")]) == 401, "wrong token")
    check(h.http_status(proxy.port, [("Authorization", "Basic " + TOKEN)]) == 401, "basic scheme")
    check(h.http_status(proxy.port, [("Authorization", "Bearer " + TOKEN + "x")]) == 401,
          "token with a suffix")
    check(h.http_status(proxy.port, [("Authorization", "Bearer " + TOKEN),
                                   ("Origin", "http://evil.example")]) == 403, "origin not 403")
    check(h.http_status(proxy.port, [], upgrade=False) == 404, "plain GET not 404")
    time.sleep(0.2)
    check(app.count("established") == before and app.count("refused") == 0,
          "a refused client caused an upstream connection")
    # The scheme is case-insensitive; a good upgrade reaches the app-server.
    check(h.http_status(proxy.port, [("Authorization", "bearer  " + TOKEN)]) == 101,
          "valid token not accepted")
    app.wait("established", before + 1)


def test_echo_fragments_binary(app, proxy):
    client_ok(proxy.port,
              'send:{"id":1,"method":"echo/x","params":{"s":"\\u00e9"}}', "expect:echo/x",
              'sendfrag:{"id":"s-2","method":"fragmented"}', "expect:fragmented",
              'send:{"method":"test/frag"}', "expect:abcdefghijklmnop",
              "sendbin:100000", "expectbin:100000", "sendbin:0", "expectbin:0",
              "send:not json at all", "expect:not json at all",
              'send:{"method":"test/notify","params":300}', *["expect:test/n"] * 300)


def test_interception(app, proxy):
    client_ok(proxy.port,
              # The refresh request is answered by the proxy (the fake server echoes the
              # answer), never forwarded.
              'send:{"method":"test/refresh"}', "expect:\"accessToken\":\"test-access\"",
              # An internal response is swallowed: the next message is the one after it.
              'send:{"method":"test/internal"}', "expect:test/after-internal",
              # The warning goes out after its trigger.
              'send:{"method":"test/ratelimit"}', "expect:account/rateLimits/updated",
              "expect:\"method\":\"warning\"",
              # A client hook sees turn/start; its injected message precedes the echo.
              'send:{"id":7,"method":"turn/start","params":{}}',
              "expect:test/client-hook-saw", "expect:turn/start",
              # The response to a watched request reaches the server hook (which rewrites
              # it), once; another id's response, or a second one, passes unchanged.
              'send:{"id":9,"method":"test/watch"}', "expect:test/client-hook-saw",
              "expect:test/watch", 'send:{"method":"test/respond","params":10}',
              'expect:{"id":10,"result":{"n":10}}', 'send:{"method":"test/respond","params":9}',
              'expect:{"id":9,"result":{"rewritten":true}}',
              'send:{"method":"test/respond","params":9}', 'expect:{"id":9,"result":{"n":9}}')
    proxy.wait("server-message session account/chatgptAuthTokens/refresh 0")
    proxy.wait("send-to-server 0")
    proxy.wait('server-message session  "codex-switch/t/1"')
    proxy.wait("client-message turn/start 7")
    app.wait('recv {"id":0,"result":{"accessToken":"test-access"')


def test_large_16m(app, proxy):
    client_ok(proxy.port, f"sendbig:{16 * MIB}", f"expectbig:{16 * MIB}",
              f'send:{{"method":"test/big","params":{16 * MIB + 3}}}',
              f"expectbig:{16 * MIB + 3}", f"sendbin:{16 * MIB}", f"expectbin:{16 * MIB}")


def test_too_large(app, proxy):
    limit = 128 * MIB
    client_ok(proxy.port, f"sendbig:{limit + 1}", "expectclose:1009", timeout=120)
    app.wait("peer-close 1009")
    client_ok(proxy.port, f'send:{{"method":"test/big","params":{limit + 1}}}',
              "expectclose:1009", timeout=120)


def test_close_propagation(app, proxy):
    client_ok(proxy.port, 'send:{"method":"test/close","params":4000}', "expectclose:4000")
    n = app.count("peer-close 4001")
    client_ok(proxy.port, 'send:{"id":1,"method":"a"}', "expect:\"a\"", "close:4001")
    app.wait("peer-close 4001 tui", n + 1)
    # A client that drops the TCP connection without a close frame (1006 is never sent on).
    n = app.count("peer-close 1001 client went away")
    client_ok(proxy.port, 'send:{"id":1,"method":"b"}', "expect:\"b\"")
    app.wait("peer-close 1001 client went away", n + 1)


def test_sessions(app, proxy):
    opened = proxy.count("opened session")
    procs = [subprocess.Popen([PEER, "client", "--port", str(proxy.port), "--timeout", "60",
                               f'send:{{"method":"test/notify","params":{200 + i}}}',
                               *["expect:test/n"] * (200 + i), f"sendbig:{MIB}",
                               f"expectbig:{MIB}"],
                              env=ENV, stdout=subprocess.PIPE, text=True) for i in range(2)]
    for p in procs:
        out, _ = p.communicate(timeout=90)
        check(p.returncode == 0, f"parallel client failed:\n{out[-2000:]}")
    for _ in range(3):  # reconnects
        client_ok(proxy.port, 'send:{"id":2,"method":"again"}', "expect:again")
    proxy.wait("opened session", opened + 5)
    proxy.wait("closed session", opened + 5)


def test_close_clients_broadcast_wake(app, proxy):
    p = subprocess.Popen([PEER, "client", "--port", str(proxy.port), "--timeout", "30",
                          "expect:\"method\":\"broadcast\"", "expectclose:1011"],
                         env=ENV, stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 10
    opened = proxy.count("opened session")
    while proxy.count("opened session") == opened and time.monotonic() < deadline:
        time.sleep(0.02)
    proxy.command("stats")
    proxy.wait("stats clients 1")
    proxy.command('broadcast {"method":"broadcast","params":{}}')
    proxy.command("close-clients 1011 app-server exited")
    out, _ = p.communicate(timeout=40)
    check(p.returncode == 0 and "peer-close 1011 app-server exited" in out,
          f"close-clients: {out[-2000:]}")
    proxy.command("wake")
    proxy.wait("woken")


def test_large_128m_rss():
    """A fresh app-server and proxy, so the proxy's peak RSS is that of this transfer."""
    app = Peer("app")
    proxy = Peer("proxy", "--upstream-port", str(app.port))
    try:
        client_ok(proxy.port, f"sendbig:{128 * MIB}", f"expectbig:{128 * MIB}", timeout=180)
        proxy.command("stats")
        kb = int(proxy.wait("stats clients").split()[-1])
        print(f"proxy peak RSS relaying 128 MiB each way: {kb} kB")
        with open(f"/proc/{proxy.proc.pid}/maps") as f:
            sanitized = "libasan" in f.read()  # ASan's quarantine keeps freed memory
        check(sanitized or 0 < kb <= MAX_RSS_KB, f"proxy peak RSS {kb} kB above {MAX_RSS_KB} kB")
    finally:
        proxy.stop()
        app.kill()


def test_backpressure():
    """A client that stops reading: the upstream is paused (bounded memory, nothing lost); one
    that never reads while injected traffic piles up is closed with 1008."""
    app = Peer("app")
    proxy = Peer("proxy", "--upstream-port", str(app.port), "--max-queued", str(4 * MIB))
    try:
        client_ok(proxy.port, "pause:1500", f'send:{{"method":"test/big","params":{64 * MIB}}}',
                  f"expectbig:{64 * MIB}", f'send:{{"method":"test/binary","params":{MIB}}}',
                  f"expectbin:{MIB}", timeout=120)
        proxy.command("stats")
        kb = int(proxy.wait("stats clients").split()[-1])
        print(f"proxy peak RSS with a paused reader: {kb} kB")
        with open(f"/proc/{proxy.proc.pid}/maps") as f:
            sanitized = "libasan" in f.read()
        check(sanitized or kb <= MAX_RSS_KB, f"peak RSS {kb} kB with a paused reader")
        c = Peer("client", "--port", str(proxy.port), "--timeout", "60", "pause:3000",
                 'send:{"id":1,"method":"hi"}', "expectclose:1008", listens=False)
        app.wait('recv {"id":1,"method":"hi"}')
        proxy.command(f"flood 200 {256 * 1024}")
        proxy.wait("flooded 200")
        c.wait("peer-close 1008")
        c.wait("PASS")
    finally:
        proxy.stop()
        app.kill()


def test_app_crash_and_shutdown():
    app = Peer("app")
    proxy = Peer("proxy", "--upstream-port", str(app.port))
    try:
        client_ok(proxy.port, 'send:{"id":1,"method":"x"}', 'expect:"x"',
                  'send:{"method":"test/crash"}', "expectclose:1011")
        app.wait("crash")
        app.kill()
        # With the app-server gone a new client is closed with 1011 at once.
        client_ok(proxy.port, "expectclose:1011")
        app2 = Peer("app", "--port", str(app.port))
        try:
            c = Peer("client", "--port", str(proxy.port), "--timeout", "30",
                     'send:{"id":1,"method":"y"}', 'expect:"y"', "expectclose:1001",
                     listens=False)
            c.wait('ok expect:"y"')
            proxy.stop()  # EOF on stdin: clients closed with 1001
            c.wait("PASS")
            proxy.wait("exit")
        finally:
            app2.kill()
    finally:
        proxy.kill()


def test_control_connection():
    port = free_port()
    proxy = Peer("proxy", "--upstream-port", str(port), "--control-deadline", "8000")
    app = None
    try:
        time.sleep(0.5)  # the control connection retries meanwhile
        check(proxy.count("opened control") == 0, "control opened without a server")
        app = Peer("app", "--port", str(port))
        proxy.wait("opened control")
        proxy.wait('server-message control test/echo-me "codex-switch/ctl/1"')
        proxy.command("control 1000")
        proxy.wait("control-open -114")  # -EALREADY while open
        app.kill()
        proxy.wait("closed control")
    finally:
        proxy.stop()
        if app:
            app.kill()
    proxy = Peer("proxy", "--upstream-port", str(free_port()), "--control-deadline", "300")
    try:
        proxy.wait("control-failed cannot connect to the app-server")
    finally:
        proxy.stop()


def main():
    if not os.access(PEER, os.X_OK):
        print(f"missing test helper {PEER}")
        return 1
    app = Peer("app")
    proxy = Peer("proxy", "--upstream-port", str(app.port))
    shared = [test_bind_loopback_only, test_http_refusals, test_echo_fragments_binary,
              test_interception, test_large_16m, test_close_propagation, test_sessions,
              test_too_large, test_close_clients_broadcast_wake]
    alone = [test_large_128m_rss, test_backpressure, test_app_crash_and_shutdown, test_control_connection]
    failed = 0
    try:
        for t in shared + alone:
            start = time.monotonic()
            try:
                t(app, proxy) if t in shared else t()
                print(f"ok {t.__name__} ({time.monotonic() - start:.1f}s)")
            except Exception as e:  # report every failing test, not just the first
                failed += 1
                print(f"FAIL {t.__name__}: {e}")
    finally:
        proxy.stop()
        app.kill()
    print(f"{len(shared) + len(alone) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
