"""Helpers for codex-switch integration tests (python3 standard library only).

    import harness as h
    mb = h.start_mock()                      # tests/mock/backend.py MockBackend, started
    home = h.TestHome(mb)                    # temp HOME, CODEX_HOME (config.toml), switch home
    a = h.make_account(mb, "alice@example.com", "acct-A")    # tokens + refresh registered
    h.write_accounts(home.switch_home, [a]); h.write_auth_json(home.codex_home, a)
    srv = h.AppServer(home).start()          # real codex app-server, capability token
    rpc = srv.connect(); rpc.initialize()    # JSON-RPC over the stdlib WebSocket client
    rpc.login_tokens(a); thread = rpc.thread_start(); done = rpc.run_turn(thread, "ping")
    srv.stop(); home.cleanup(); mb.stop()

Everything that waits has a timeout. Nothing touches the real home directory.
"""

import base64
import hashlib
import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime, timezone

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.environ.get("CS_SOURCE_ROOT") or os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(SOURCE_ROOT, "tests", "mock"))

from backend import MockBackend, jwt_claims, make_jwt  # noqa: E402



def _codex_versions():
    """scripts/codex-versions: the one place the supported codex versions are written."""
    out = {}
    with open(os.path.join(SOURCE_ROOT, "scripts", "codex-versions")) as f:
        for line in f:
            k, eq, v = line.strip().partition("=")
            if eq and not k.startswith("#"):
                out[k.strip()] = v.strip()
    return out


CODEX_VERSIONS = _codex_versions()
CODEX_OLDEST = CODEX_VERSIONS["CODEX_OLDEST"]
CODEX_PINNED = CODEX_VERSIONS["CODEX_PINNED"]
CODEX_NEWEST = CODEX_VERSIONS["CODEX_NEWEST"]
# The codex the tests run: CS_CODEX_VERSION (installed by scripts/install-deps.sh into
# .deps/codex-<version>), else the pinned one in .deps/codex.
CODEX_VERSION = os.environ.get("CS_CODEX_VERSION") or CODEX_PINNED
# Where npm puts the native binary; it moved between releases (0.117: codex/codex).
NATIVE_CODEX = ("node_modules/@openai/codex-linux-x64/vendor/x86_64-unknown-linux-musl/bin/codex",
                "node_modules/@openai/codex-linux-x64/vendor/x86_64-unknown-linux-musl/codex/"
                "codex")
FAKE_CODEX = os.path.join(HERE, "fake_codex.py")

__all__ = ["MockBackend", "make_jwt", "jwt_claims", "codex_bin", "start_mock", "TestHome",
           "make_account", "accounts_json", "write_accounts", "write_auth_json", "rfc3339",
           "WsClient", "WsHandshakeError", "WsClosed", "RpcClient", "RpcError", "AppServer",
           "free_port", "wait_until", "fail", "OP_TEXT", "OP_BIN", "fake_tui_files",
           "read_json", "read_accounts", "file_mode", "FAKE_CODEX", "run_suite", "CODEX_VERSION",
           "CODEX_OLDEST", "CODEX_PINNED", "CODEX_NEWEST", "codex_at_least", "version_tuple"]


def fail(msg):
    """Ends the test with a failure (never a skip)."""
    sys.stderr.write("FAIL: %s\n" % msg)
    sys.stderr.flush()
    raise SystemExit(1)


def wait_until(predicate, timeout, what="condition", interval=0.05):
    deadline = time.monotonic() + timeout
    while True:
        v = predicate()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise TimeoutError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)


def codex_bin():
    """The native codex binary of CODEX_VERSION; CS_CODEX_BIN overrides. Fails loudly when
    missing."""
    path = os.environ.get("CS_CODEX_BIN")
    if not path:
        d = os.path.join(SOURCE_ROOT, ".deps", "codex" if CODEX_VERSION == CODEX_PINNED
                         else "codex-" + CODEX_VERSION)
        paths = [os.path.join(d, n) for n in NATIVE_CODEX]
        path = next((p for p in paths if os.path.isfile(p)), paths[0])
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        fail("codex %s not found at %s: run scripts/install-deps.sh --test (or set "
             "CS_CODEX_BIN)" % (CODEX_VERSION, path))
    return path


# codex-switch's notices reach the TUI as one of these, by codex version (src/session/notice.c).
# "notice" in a scenario means any of them.
NOTICE_METHODS = ("modelProvider/authRecoveryCompleted", "warning", "deprecationNotice")


def method_is(m, method):
    if method == "notice":
        return m.get("method") in NOTICE_METHODS
    return m.get("method") == method


def notice_texts(received):
    """The texts of codex-switch's notices among the messages a TUI received."""
    return [m["params"].get("message", m["params"].get("summary", "")) for m in received
            if isinstance(m, dict) and m.get("method") in NOTICE_METHODS and "id" not in m
            and isinstance(m.get("params"), dict)]
def version_tuple(v):
    """"0.169.1" -> (0, 169, 1); a pre-release suffix is ignored."""
    return tuple(int(x) for x in v.split("-")[0].split(".") if x.isdigit())


def codex_at_least(v):
    """Whether the codex under test is v or newer: for behaviour that differs by version."""
    return version_tuple(CODEX_VERSION) >= version_tuple(v)


def checker(failures):
    """check(cond, what) for a test file: prints ok/FAIL, collects failures, returns cond."""
    def check(cond, what):
        print(("ok   " if cond else "FAIL ") + what)
        if not cond:
            failures.append(what)
        return cond
    return check


def http_status(port, headers, upgrade=True):
    """The HTTP status a WebSocket upgrade request (or a plain GET) to 127.0.0.1:port gets."""
    lines = ["GET / HTTP/1.1", "Host: 127.0.0.1:%d" % port]
    if upgrade:
        lines += ["Upgrade: websocket", "Connection: Upgrade",
                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13"]
    lines += ["%s: %s" % kv for kv in headers]
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        data = b""
        while b"\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    return int(data.split(b" ", 2)[1]) if data else 0


def start_mock(**kw):
    return MockBackend(**kw).start()


def run_suite(tests, check, failures):
    """Runs each test(mock) against one mock backend (its config and request log reset before
    each), reports an exception as a failed check, and returns the exit status."""
    if not os.environ.get("CODEX_SWITCH_BIN"):
        print("FAIL CODEX_SWITCH_BIN is not set")
        return 1
    codex_bin()
    mb = start_mock()
    try:
        for t in tests:
            mb.configure({})
            mb.clear_requests()
            try:
                t(mb)
            except Exception as e:  # noqa: BLE001 - report and go on
                check(False, "%s raised %s: %s" % (t.__name__, type(e).__name__, e))
    finally:
        mb.stop()
    print("%d check(s) failed" % len(failures))
    return 1 if failures else 0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rfc3339(t=None):
    """RFC 3339 UTC with microseconds and Z, like chrono's serde output."""
    dt = datetime.fromtimestamp(time.time() if t is None else t, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# ----- temporary homes -----

class TestHome:
    """A temp tree: HOME, CODEX_HOME (with config.toml pointing at the mock), and
    CODEX_SWITCH_HOME (0700). env() gives the environment for subprocesses."""

    def __init__(self, mock, prefix="cs-it-", extra_config=""):
        self.mock = mock
        self.root = tempfile.mkdtemp(prefix=prefix)
        self.home = os.path.join(self.root, "home")
        self.codex_home = os.path.join(self.root, "codex-home")
        self.switch_home = os.path.join(self.root, "switch-home")
        self.work = os.path.join(self.root, "work")
        for d in (self.home, self.codex_home, self.switch_home, self.work):
            os.makedirs(d, mode=0o700, exist_ok=True)
            os.chmod(d, 0o700)
        self.write_codex_config(extra_config)

    def write_codex_config(self, extra=""):
        text = ('chatgpt_base_url = "%s"\nopenai_base_url = "%s"\n'
                "check_for_update_on_startup = false\n%s\n[analytics]\nenabled = false\n"
                % (self.mock.chatgpt_base_url, self.mock.openai_base_url, extra))
        with open(os.path.join(self.codex_home, "config.toml"), "w") as f:
            f.write(text)

    def env(self, **extra):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("CODEX_", "OPENAI_", "CS_TUI_"))}
        env.update({
            "HOME": self.home,
            "CODEX_HOME": self.codex_home,
            "CODEX_SWITCH_HOME": self.switch_home,
            "CODEX_CA_CERTIFICATE": self.mock.ca_path,
            "CODEX_REFRESH_TOKEN_URL_OVERRIDE": self.mock.refresh_url,
            "CODEX_SWITCH_AUTH_BASE_URL": self.mock.base_url,
            "CODEX_SWITCH_CHATGPT_BASE_URL": self.mock.chatgpt_base_url,
            "XDG_CONFIG_HOME": os.path.join(self.home, ".config"),
            "XDG_DATA_HOME": os.path.join(self.home, ".local", "share"),
            "XDG_CACHE_HOME": os.path.join(self.home, ".cache"),
            "NO_COLOR": "1",
        })
        for k in ("CS_CODEX_BIN", "CS_SOURCE_ROOT", "CS_BUILD_ROOT", "CODEX_SWITCH_BIN"):
            if os.environ.get(k):
                env[k] = os.environ[k]
        env.update({k: str(v) for k, v in extra.items()})
        return env

    def cleanup(self):
        shutil.rmtree(self.root, ignore_errors=True)


# ----- accounts -----

def make_account(mock, email, account_id, user_id=None, plan="plus", name=None,
                 access_exp=None, refresh_token=None, register=True, **refresh_spec):
    """A ChatGPT account dict (fields of accounts.json plus its tokens). Registers its refresh
    token with the mock (refresh_spec: REFRESH keys, e.g. error="invalid_grant")."""
    user_id = user_id or "user-" + account_id
    now = int(time.time())
    exp = access_exp if access_exp is not None else now + 3600
    acc = {
        "id": str(uuid.uuid4()),
        "name": name or email.split("@")[0],
        "email": email,
        "plan_type": plan,
        "chatgpt_user_id": user_id,
        "account_id": account_id,
        "id_token": make_jwt(email, account_id, user_id, plan, exp),
        "access_token": make_jwt(email, account_id, user_id, plan, exp),
        "refresh_token": refresh_token or "rt-%s-%s" % (account_id, secrets.token_hex(6)),
        "token_last_refresh_at": rfc3339(now),
    }
    if mock is not None and register:
        spec = {"email": email, "account_id": account_id, "user_id": user_id, "plan": plan}
        spec.update(refresh_spec)
        mock.add_refresh_token(acc["refresh_token"], **spec)
    return acc


def _stored_account(a):
    return {
        "id": a["id"],
        "name": a["name"],
        "email": a.get("email"),
        "plan_type": a.get("plan_type"),
        "chatgpt_user_id": a.get("chatgpt_user_id"),
        "chatgpt_account_is_fedramp": False,
        "token_last_refresh_at": a.get("token_last_refresh_at"),
        "subscription_expires_at": None,
        "auth_mode": "chat_g_p_t",
        "auth_data": {
            "type": "chat_g_p_t",
            "id_token": a["id_token"],
            "access_token": a["access_token"],
            "refresh_token": a["refresh_token"],
            "account_id": a["account_id"],
        },
        "auto_switch_disabled": bool(a.get("auto_switch_disabled", False)),
        "created_at": a.get("created_at") or rfc3339(),
        "last_used_at": a.get("last_used_at"),
    }


def accounts_json(accounts):
    """The accounts.json document (Rust codex-switch format, version 1)."""
    return {"version": 1, "accounts": [_stored_account(a) for a in accounts],
            "masked_account_ids": []}


def _write_private(path, text):
    d = os.path.dirname(path)
    os.makedirs(d, mode=0o700, exist_ok=True)
    os.chmod(d, 0o700)
    tmp = path + ".tmp-%d" % os.getpid()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def write_accounts(switch_home, accounts):
    path = os.path.join(switch_home, "accounts.json")
    _write_private(path, json.dumps(accounts_json(accounts), indent=2) + "\n")
    return path


def read_accounts(switch_home):
    with open(os.path.join(switch_home, "accounts.json")) as f:
        return json.load(f)


def write_auth_json(codex_home, a):
    """Codex's auth.json for account a (auth_mode chatgpt)."""
    doc = {"auth_mode": "chatgpt", "OPENAI_API_KEY": None,
           "tokens": {"id_token": a["id_token"], "access_token": a["access_token"],
                      "refresh_token": a["refresh_token"], "account_id": a["account_id"]},
           "last_refresh": a.get("token_last_refresh_at") or rfc3339()}
    path = os.path.join(codex_home, "auth.json")
    _write_private(path, json.dumps(doc, indent=2) + "\n")
    return path


def fake_tui_files(home, scenario, name="tui"):
    """Writes a fake_codex.py scenario into home.root. Returns (env additions, transcript
    path): pass the env to `codex-switch run --codex-bin tests/integration/fake_codex.py`
    (CS_REAL_CODEX is the pinned codex used for `app-server`)."""
    scenario_path = os.path.join(home.root, "%s-scenario.json" % name)
    transcript = os.path.join(home.root, "%s-transcript.json" % name)
    with open(scenario_path, "w") as f:
        json.dump(scenario, f, indent=1)
    env = {"CS_TUI_SCENARIO": scenario_path, "CS_TUI_TRANSCRIPT": transcript,
           "CS_REAL_CODEX": codex_bin()}
    return env, transcript


def read_json(path):
    with open(path) as f:
        return json.load(f)


def file_mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


# ----- WebSocket client (RFC 6455) -----

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_CONT, OP_TEXT, OP_BIN, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10


class WsHandshakeError(Exception):
    def __init__(self, status, body, headers):
        super().__init__("websocket handshake refused: HTTP %s %r" % (status, body[:200]))
        self.status = status
        self.body = body
        self.headers = headers


class WsClosed(Exception):
    def __init__(self, code, reason):
        super().__init__("websocket closed (%s %r)" % (code, reason))
        self.code = code
        self.reason = reason


class WsClient:
    """A blocking WebSocket client over plain TCP (ws:// on loopback)."""

    def __init__(self, sock, leftover=b""):
        self.sock = sock
        self.buf = bytearray(leftover)
        self.send_lock = threading.Lock()
        self.close_code = None
        self.close_reason = None
        self.closed = False
        self.max_message = 256 * 1024 * 1024

    @classmethod
    def connect(cls, url, headers=None, timeout=10.0):
        """Opens ws://host:port/path, or unix://PATH as codex 0.131 and later do. Raises
        WsHandshakeError on a non-101 answer."""
        if url.startswith("unix://"):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            sock.connect(url[len("unix://"):])
            hostport, path = "localhost", "rpc"  # what codex's TUI asks there
        elif url.startswith("ws://"):
            hostport, _, path = url[5:].partition("/")
            host, _, port = hostport.rpartition(":")
            sock = socket.create_connection((host, int(port)), timeout=timeout)
        else:
            raise ValueError("only ws:// and unix:// urls: %r" % url)
        key = base64.b64encode(secrets.token_bytes(16)).decode()
        lines = ["GET /%s HTTP/1.1" % path, "Host: %s" % hostport, "Upgrade: websocket",
                 "Connection: Upgrade", "Sec-WebSocket-Key: %s" % key,
                 "Sec-WebSocket-Version: 13"]
        lines += ["%s: %s" % kv for kv in (headers or {}).items()]
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        status, hdrs, leftover = cls._read_http_head(sock, timeout)
        if status != 101:
            body = cls._read_http_body(sock, hdrs, leftover, timeout)
            sock.close()
            raise WsHandshakeError(status, body.decode(errors="replace"), hdrs)
        want = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
        if hdrs.get("sec-websocket-accept") != want:
            sock.close()
            raise WsHandshakeError(status, "bad Sec-WebSocket-Accept", hdrs)
        return cls(sock, leftover)

    @staticmethod
    def _read_http_head(sock, timeout):
        deadline = time.monotonic() + timeout
        data = b""
        while b"\r\n\r\n" not in data:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = sock.recv(4096)
            if not chunk:
                raise ConnectionError("connection closed during the websocket handshake")
            data += chunk
            if len(data) > 65536:
                raise ConnectionError("handshake answer too long")
        head, _, leftover = data.partition(b"\r\n\r\n")
        lines = head.decode(errors="replace").split("\r\n")
        status = int(lines[0].split()[1])
        hdrs = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            hdrs[k.strip().lower()] = v.strip()
        return status, hdrs, leftover

    @staticmethod
    def _read_http_body(sock, hdrs, leftover, timeout):
        n = int(hdrs.get("content-length") or 0)
        body = leftover
        deadline = time.monotonic() + timeout
        while len(body) < n and time.monotonic() < deadline:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = sock.recv(4096)
            except OSError:
                break
            if not chunk:
                break
            body += chunk
        return body[:n] if n else body

    def _send_frame(self, opcode, payload, fin=True):
        head = bytearray([(0x80 if fin else 0) | opcode])
        n = len(payload)
        if n < 126:
            head.append(0x80 | n)
        elif n < 65536:
            head.append(0x80 | 126)
            head += struct.pack("!H", n)
        else:
            head.append(0x80 | 127)
            head += struct.pack("!Q", n)
        mask = secrets.token_bytes(4)
        head += mask
        masked = _xor_mask(payload, mask)
        with self.send_lock:
            self.sock.settimeout(30)
            self.sock.sendall(bytes(head) + masked)

    def send_text(self, text):
        self._send_frame(OP_TEXT, text.encode() if isinstance(text, str) else text)

    def send_binary(self, data):
        self._send_frame(OP_BIN, data)

    def send_fragmented(self, text, pieces=3):
        """Sends one text message as several frames (for proxy tests)."""
        data = text.encode()
        step = max(1, len(data) // pieces)
        parts = [data[i:i + step] for i in range(0, len(data), step)] or [b""]
        for i, part in enumerate(parts):
            self._send_frame(OP_TEXT if i == 0 else OP_CONT, part, fin=(i == len(parts) - 1))

    def ping(self, payload=b""):
        self._send_frame(OP_PING, payload)

    def close(self, code=1000, reason="", wait=2.0):
        """Sends a close frame and waits (bounded) for the peer's close."""
        if not self.closed:
            try:
                self._send_frame(OP_CLOSE, struct.pack("!H", code) + reason.encode())
                deadline = time.monotonic() + wait
                while time.monotonic() < deadline:
                    self.recv(timeout=max(0.01, deadline - time.monotonic()))
            except (WsClosed, OSError, TimeoutError, ConnectionError):
                pass
        self.closed = True
        try:
            self.sock.close()
        except OSError:
            pass

    def _frame(self):
        """Parses one frame from the buffer, or None when it is incomplete."""
        b = self.buf
        if len(b) < 2:
            return None
        fin, opcode = b[0] & 0x80, b[0] & 0x0F
        masked, n = b[1] & 0x80, b[1] & 0x7F
        pos = 2
        if n == 126:
            if len(b) < 4:
                return None
            n = struct.unpack("!H", b[2:4])[0]
            pos = 4
        elif n == 127:
            if len(b) < 10:
                return None
            n = struct.unpack("!Q", b[2:10])[0]
            pos = 10
        if n > self.max_message:
            raise ConnectionError("frame too large: %d" % n)
        mask = None
        if masked:
            if len(b) < pos + 4:
                return None
            mask = bytes(b[pos:pos + 4])
            pos += 4
        if len(b) < pos + n:
            return None
        payload = bytes(b[pos:pos + n])
        del b[:pos + n]
        if mask:
            payload = _xor_mask(payload, mask)
        return bool(fin), opcode, payload

    def _next_frame(self, deadline):
        while True:
            f = self._frame()
            if f is not None:
                return f
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no websocket frame in time")
            self.sock.settimeout(min(remaining, 1.0))
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                self.closed = True
                if self.close_code is None:
                    self.close_code = 1006
                raise WsClosed(self.close_code, self.close_reason or "")
            self.buf += chunk

    def recv(self, timeout=10.0):
        """Next data message as (opcode, bytes). Answers pings; raises WsClosed on close
        (close_code holds the peer's code, 1005 when absent, 1006 on a drop)."""
        deadline = time.monotonic() + timeout
        parts, first = [], None
        while True:
            if self.closed:
                raise WsClosed(self.close_code or 1006, self.close_reason or "")
            fin, op, payload = self._next_frame(deadline)
            if op == OP_PING:
                self._send_frame(OP_PONG, payload)
                continue
            if op == OP_PONG:
                continue
            if op == OP_CLOSE:
                self.close_code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 \
                    else 1005
                self.close_reason = payload[2:].decode(errors="replace")
                try:
                    self._send_frame(OP_CLOSE, payload[:2])
                except OSError:
                    pass
                self.closed = True
                raise WsClosed(self.close_code, self.close_reason)
            if op in (OP_TEXT, OP_BIN):
                first, parts = op, [payload]
            elif op == OP_CONT and first is not None:
                parts.append(payload)
            else:
                raise ConnectionError("unexpected websocket opcode %d" % op)
            if fin:
                return first, b"".join(parts)


def _xor_mask(data, mask):
    if not data:
        return b""
    n = len(data)
    m = (mask * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "big") ^ int.from_bytes(m, "big")).to_bytes(n, "big")


# ----- JSON-RPC over the WebSocket -----

class RpcError(Exception):
    def __init__(self, error):
        super().__init__("json-rpc error %s: %s" % (error.get("code"), error.get("message")))
        self.error = error
        self.code = error.get("code")


class RpcClient:
    """JSON-RPC peer on a WsClient. A reader thread collects every message in `messages` (and
    its arrival, unix time, at the same index of `arrived`); server requests whose method is in
    `handlers` are answered from that thread
    (handler(params) -> result; raising RpcError answers with its error)."""

    def __init__(self, ws, handlers=None):
        self.ws = ws
        self.handlers = dict(handlers or {})
        self.messages = []
        self.arrived = []
        self.cond = threading.Condition()
        self.next_id = 1
        self.closed_error = None
        self.reader = threading.Thread(target=self._read_loop, daemon=True)
        self.reader.start()

    def _read_loop(self):
        while True:
            try:
                op, data = self.ws.recv(timeout=3600)
            except (WsClosed, OSError, ConnectionError, TimeoutError) as e:
                with self.cond:
                    self.closed_error = e
                    self.cond.notify_all()
                return
            try:
                msg = json.loads(data)
            except ValueError:
                msg = {"_raw": data.decode(errors="replace")}
            with self.cond:
                self.messages.append(msg)
                self.arrived.append(time.time())
                self.cond.notify_all()
            if isinstance(msg, dict) and "method" in msg and "id" in msg \
                    and msg["method"] in self.handlers:
                self._answer(msg)

    def _answer(self, msg):
        try:
            self.respond(msg["id"], self.handlers[msg["method"]](msg.get("params")))
        except RpcError as e:
            self.respond_error(msg["id"], e.error.get("code", -32000),
                               e.error.get("message", "error"))
        except (OSError, WsClosed):
            pass

    def send(self, obj):
        self.ws.send_text(json.dumps(obj))

    def send_request(self, method, params=None, id=None):
        if id is None:
            id = self.next_id
            self.next_id += 1
        msg = {"id": id, "method": method}
        if params is not None:
            msg["params"] = params
        self.send(msg)
        return id

    def notify(self, method, params=None):
        msg = {"method": method}
        if params is not None:
            msg["params"] = params
        self.send(msg)

    def respond(self, id, result):
        self.send({"id": id, "result": result})

    def respond_error(self, id, code, message):
        self.send({"id": id, "error": {"code": code, "message": message}})

    def mark(self):
        """Index of the next message; pass as start= to wait only for newer ones."""
        with self.cond:
            return len(self.messages)

    def wait_message(self, match, timeout=30.0, start=0, what="message"):
        """First message at index >= start for which match(msg) is true."""
        deadline = time.monotonic() + timeout
        i = start
        with self.cond:
            while True:
                while i < len(self.messages):
                    m = self.messages[i]
                    i += 1
                    if isinstance(m, dict) and match(m):
                        return m
                if self.closed_error is not None:
                    raise ConnectionError("connection closed while waiting for %s: %s"
                                          % (what, self.closed_error))
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError("timed out after %.1fs waiting for %s" % (timeout, what))
                self.cond.wait(remaining)

    def wait_response(self, id, timeout=30.0):
        m = self.wait_message(lambda m: m.get("id") == id and "method" not in m
                              and ("result" in m or "error" in m), timeout,
                              what="response to id %r" % (id,))
        if "error" in m:
            raise RpcError(m["error"])
        return m["result"]

    def request(self, method, params=None, timeout=30.0):
        return self.wait_response(self.send_request(method, params), timeout)

    def wait_notification(self, method, match=None, timeout=30.0, start=0):
        return self.wait_message(
            lambda m: method_is(m, method) and "id" not in m
            and (match is None or match(m.get("params"))), timeout, start,
            what="notification %s" % method)

    def wait_server_request(self, method, timeout=30.0, start=0):
        return self.wait_message(lambda m: m.get("method") == method and "id" in m,
                                 timeout, start, what="server request %s" % method)

    def notifications(self, method=None, start=0):
        with self.cond:
            msgs = list(self.messages[start:])
        return [m for m in msgs if isinstance(m, dict) and "method" in m and "id" not in m
                and (method is None or m["method"] == method)]

    # conveniences for the codex app-server protocol

    def initialize(self, name="codex_switch_test", experimental=True, timeout=30.0):
        res = self.request("initialize", {
            "clientInfo": {"name": name, "title": "codex-switch tests", "version": "0.1.0"},
            "capabilities": {"experimentalApi": experimental}}, timeout)
        self.notify("initialized")
        return res

    def login_tokens(self, account, plan=None, timeout=30.0):
        """account/login/start chatgptAuthTokens with account's access token (a dict from
        make_account, or (access_token, account_id))."""
        if isinstance(account, dict):
            token, acct, plan = account["access_token"], account["account_id"], \
                plan or account.get("plan_type")
        else:
            token, acct = account
        params = {"type": "chatgptAuthTokens", "accessToken": token, "chatgptAccountId": acct}
        if plan:
            params["chatgptPlanType"] = plan
        return self.request("account/login/start", params, timeout)

    def thread_start(self, cwd=None, timeout=30.0):
        res = self.request("thread/start", {"cwd": cwd} if cwd else {}, timeout)
        return res["thread"]["id"]

    def run_turn(self, thread_id, text, timeout=60.0):
        """turn/start and wait for its turn/completed; returns (completed params, start)."""
        start = self.mark()
        res = self.request("turn/start", {"threadId": thread_id,
                                          "input": [{"type": "text", "text": text}]}, timeout)
        turn_id = res["turn"]["id"]
        done = self.wait_notification(
            "turn/completed", lambda p: (p or {}).get("turn", {}).get("id") == turn_id,
            timeout, start)
        return done["params"], start

    def close(self):
        self.ws.close()
        self.reader.join(timeout=5)


# ----- the real codex app-server -----

class AppServer:
    """`codex app-server --listen ws://127.0.0.1:P --ws-auth capability-token` in its own
    session, with the TestHome env. stop() escalates SIGTERM, SIGTERM, SIGKILL."""

    def __init__(self, home, codex=None, token=None, extra_env=None):
        self.home = home
        self.codex = codex or codex_bin()
        self.token = token or secrets.token_urlsafe(32)
        self.extra_env = extra_env or {}
        self.proc = None
        self.port = None
        self.log_path = os.path.join(home.root, "app-server-%d.log" % time.time_ns())

    @property
    def url(self):
        return "ws://127.0.0.1:%d" % self.port

    def start(self, timeout=60.0):
        self.port = free_port()
        token_file = os.path.join(self.home.root, "ws-token-%d" % self.port)
        fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(self.token + "\n")
        log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [self.codex, "app-server", "--listen", self.url, "--ws-auth", "capability-token",
             "--ws-token-file", token_file],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            env=self.home.env(**self.extra_env), cwd=self.home.work, start_new_session=True)
        log.close()
        try:
            wait_until(self._ready, timeout, "app-server /readyz", interval=0.1)
        except TimeoutError:
            self.stop()
            raise RuntimeError("codex app-server did not become ready; log:\n" + self.log())
        return self

    def _ready(self):
        if self.proc.poll() is not None:
            raise RuntimeError("codex app-server exited with %s; log:\n%s"
                               % (self.proc.returncode, self.log()))
        try:
            c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
            c.request("GET", "/readyz")
            ok = c.getresponse().status == 200
            c.close()
            return ok
        except OSError:
            return False

    def http_get(self, path, headers=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        c.request("GET", path, headers=headers or {})
        r = c.getresponse()
        body = r.read()
        c.close()
        return r.status, body

    def connect(self, token=None, handlers=None, headers=None, timeout=10.0):
        hdrs = {"Authorization": "Bearer %s" % (token or self.token)}
        hdrs.update(headers or {})
        return RpcClient(WsClient.connect(self.url, hdrs, timeout), handlers)

    def log(self, tail=6000):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")[-tail:]
        except OSError:
            return ""

    def stop(self):
        p = self.proc
        if p is None or p.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, 3), (signal.SIGTERM, 2), (signal.SIGKILL, 5)):
            try:
                os.killpg(p.pid, sig)
            except ProcessLookupError:
                return
            try:
                p.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
        # Helpers codex started (MCP servers) share the session we created for it.
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


if __name__ == "__main__":
    # `harness.py codex-bin`: the codex the tests run, for the shell tests.
    if sys.argv[1:] == ["codex-bin"]:
        print(codex_bin())
    else:
        fail("usage: harness.py codex-bin")
