#!/usr/bin/env python3
"""Mock ChatGPT / OpenAI backend for codex-switch tests (python3 standard library only).

One HTTPS server on 127.0.0.1 (throwaway CA made with the `openssl` CLI) that plays every
remote service the real codex 0.169.0 binary and codex-switch talk to: the ChatGPT backend
(`/backend-api/...`), the Responses API, and the OAuth issuer (`/oauth/...`, device code).
See docs app-server-protocol.md sections 3, 4, 5, 8 and reference-behavior.md sections 4, 5.

Using it
--------
In-process (tests put tests/mock on sys.path)::

    from backend import MockBackend, make_jwt
    mb = MockBackend().start()          # state dir: a new temp dir unless state_dir= is given
    mb.port, mb.base_url                # https://127.0.0.1:PORT
    mb.chatgpt_base_url                 # https://127.0.0.1:PORT/backend-api
    mb.openai_base_url                  # https://127.0.0.1:PORT/backend-api/codex
    mb.refresh_url                      # https://127.0.0.1:PORT/oauth/token
    mb.ca_path                          # PEM to trust (CODEX_CA_CERTIFICATE=...)
    mb.configure({...})                 # replace the whole config (format below)
    mb.set_account("acct-A", responses=["unauthorized", "ok"], require_bearer=tok)
    mb.add_refresh_token("rt-A", email=..., account_id=..., user_id=..., plan=...)
    mb.requests(endpoint="responses", account="acct-A")   # recorded requests (dicts)
    mb.turns("acct-A"); mb.prompts(); mb.answered_by("hello")  # user turns of /responses
    mb.limit_until("acct-A", resets_in=5)   # at its usage limit for 5 s, then as configured
    mb.count("oauth_token"); mb.wait_for(lambda: mb.count("usage") >= 2, timeout=10)
    mb.approve_device()                 # device-code login: approve the pending codes
    mb.latest_access_token("acct-A")    # newest access token /oauth/token issued for it
    mb.stop()                           # removes the state dir it created (CS_KEEP_TMP=1 keeps)

Clients must trust ca.pem: codex via CODEX_CA_CERTIFICATE=<ca.pem>; curl-based code via its
CA option (e.g. the same env var). Both 127.0.0.1 and localhost match the server cert.

Standalone (shell / C tests)::

    python3 tests/mock/backend.py --state-dir DIR [--config FILE]

prints the port on stdout line 1 and writes DIR/port once it accepts connections; runs until
SIGTERM/SIGINT. DIR also gets ca.pem, server.pem, server.key. DIR/config.json is re-read on
every request when present; whenever its content changes, the response/usage queues and the
transient-failure counters start over (rotated or used refresh tokens stay used). Every
request is appended as one JSON line to DIR/requests.jsonl (in-process mode writes it too).

Recorded request (dict / JSON line)
-----------------------------------
``{"seq", "time", "method", "path", "query" (dict of lists), "headers" (lowercased names),
"bearer", "account" (chatgpt-account-id header or null), "body_len", "body" (text when JSON or
form and not content-encoded, else null; codex sends zstd /responses bodies), "json" (parsed
body, decoded first when content-encoded: zstd via the zstandard module or the zstd command,
gzip, deflate; else null), "endpoint", "status", "outcome" (responses, usage, refresh),
"grant_type" (oauth_token only)}``; /responses records also carry "purpose" ("title" for the
thread-title request the real TUI sends beside a thread's first turn, else "turn"),
"user_texts" (the user's texts in the request's input, oldest first, without codex's
<environment_context>-style wrappers) and "prompt" (the last of them, or null).

Endpoint names (for ``requests(endpoint=)`` / ``count()``): accounts_check, responses,
responses_ws (websocket upgrade attempt, answered 426), usage, oauth_token, oauth_authorize,
device_usercode, device_token, device_page, reset_credits, reset_credits_consume, not_found.

Endpoints
---------
* ``GET  /backend-api/wham/accounts/check`` -> ``{"accounts":[{"id":<ChatGPT-Account-Id>,
  "workspace_backend_origin":"NO_CONSTRAINT","account_routing_override":"NO_CONSTRAINT"}]}``
  (never checks the bearer: codex turns a failure there into a hard error, not a refresh).
* ``POST /backend-api/codex/responses`` (also ``/v1/responses`` and ``/responses``): the next
  outcome of the account (below). Any request carrying ``Upgrade: websocket`` gets 426, which
  makes codex fall back to HTTP at once.
* ``GET  /backend-api/wham/usage`` (also ``/api/codex/usage``): usage body per account.
* ``GET  /backend-api/wham/rate-limit-reset-credits`` -> ``{"credits":[{"id","reset_type",
  "status","granted_at","expires_at"}],"available_count"}`` from the account's
  ``reset_credits`` (endpoint ``reset_credits``).
* ``POST /backend-api/wham/rate-limit-reset-credits/consume`` ``{"redeem_request_id"}`` ->
  ``{"code","windows_reset"}`` (endpoint ``reset_credits_consume``): a request id seen before
  -> ``already_redeemed``; no available credit -> ``no_credit``; no window in use ->
  ``nothing_to_reset`` (the credit is kept); else ``reset``: the earliest-expiring credit is
  redeemed and the account's /wham/usage windows read 0 % from then on (until its usage or
  reset_credits setting changes). No ``redeem_request_id`` -> 400.
* ``POST /oauth/token``: ``grant_type=refresh_token`` (JSON body, as codex and the Rust
  codex-switch send it: client_id, grant_type, refresh_token), ``grant_type=authorization_code``
  (form body: code, redirect_uri, client_id, code_verifier; the PKCE S256 challenge given to
  /oauth/authorize or issued by the device flow is verified), and the API-key token exchange
  (``urn:ietf:params:oauth:grant-type:token-exchange`` -> ``{"access_token":"sk-mock-N"}``).
* ``GET  /oauth/authorize?redirect_uri=..&state=..&code_challenge=..`` -> 302 to
  ``redirect_uri?code=<code>&scope=..&state=<state>`` (a test plays the browser by following
  the Location), or ``?error=<oauth.authorize_error>&error_description=..&state=..``.
* ``POST /api/accounts/deviceauth/usercode`` ``{"client_id"}`` -> ``{"device_auth_id",
  "user_code","interval"}``; note ``interval`` is a **string** of seconds, as codex's parser
  requires. ``POST /api/accounts/deviceauth/token`` ``{"device_auth_id","user_code"}`` -> 403
  (pending) until approved, then ``{"authorization_code","code_challenge","code_verifier"}``;
  the client then posts ``grant_type=authorization_code`` with
  ``redirect_uri=<issuer>/deviceauth/callback`` to /oauth/token.  ``GET /codex/device`` -> 200.
* Anything else -> 404 ``{"detail":"Not Found"}`` (codex tolerates it for models,
  settings, plugins, /ps/mcp...).

Config (a dict; JSON in DIR/config.json). Every key is optional.
------------------------------------------------------------------
::

    {
      "accounts": {                      # keyed by the ChatGPT-Account-Id header
        "acct-A": ACCOUNT,
      },
      "default": ACCOUNT,                # for accounts not listed (and requests without header)
      "oauth": OAUTH
    }

ACCOUNT (a key missing in "accounts.X" falls back to "default", then to the built-in value)::

    {
      "plan": "plus",                    # plan_type in usage and usage-limit bodies
      "require_bearer": null,            # str | [str] | "latest": other bearers get 401 on
                                         # /responses and /wham/usage. "latest" = the newest
                                         # access token /oauth/token issued for this account
      "responses": ["unauthorized", "ok"],  # queue, one entry consumed per /responses request
                                         # (each account keeps its own copy of the queue)
      "responses_default": "ok",         # outcome once the queue is empty
      "text": "pong",                    # assistant text of an ok answer; "{prompt}" (the
                                         # request's prompt), "{account}" and "{n}" (the
                                         # account's ok turns so far) are filled in
      "delay": 0,                        # seconds before any /responses answer
      "stream_delay": 0,                 # seconds between SSE events
      "rate_limits": RATE_LIMITS | null, # x-codex-* headers on /responses answers (null: none)
      "extra_headers": {},               # raw headers added to /responses answers
      "usage_limit": {"resets_in_seconds": 3600, "message": "...", "plan_type": null},
      "usage": USAGE,
      "limited_until": null,             # unix seconds: until then every /responses answer is
                                         # usage_limit (resets_at = that time; the queue is
                                         # not consumed) and /wham/usage shows the 5-hour
                                         # window at 100 % resetting then (limit_until())
      "title_outcome": "ok",             # "ok": thread-title requests get {"title":"Mock
                                         # title"} without consuming the queue; "queue": they
                                         # take the next outcome like any other request
      "reset_credits": []                # CREDIT list, or a number N: N credits expiring in
                                         # 30 days. /wham/usage reports the available count
    }

CREDIT: ``{"id": "rc-1", "reset_type": "codex_rate_limits", "status": "available",
"granted_at": RFC 3339, "expires_at": RFC 3339}``; every key is optional, and ``expires_in``
(seconds from now) may replace ``expires_at``.

Outcomes (a string, or a dict ``{"outcome": "ok", <any ACCOUNT key overriding it once>}``):
``ok`` (200 SSE: response.created, response.output_item.added, response.output_text.delta,
response.output_item.done, response.completed with usage), ``usage_limit`` (429
``{"error":{"type":"usage_limit_reached","message","plan_type","resets_at","resets_in_seconds"}}``
with the primary window at 100 %), ``unauthorized`` (401, token_expired body),
``rate_limited`` (429 without usage_limit_reached), ``server_error`` (500), ``bad_request``
(400), ``disconnect`` (connection closed without an answer).

A usage_limit 429 makes codex 0.169 end the turn with an ``error`` notification
(``codexErrorInfo: "usageLimitExceeded"``, ``willRetry: false``) and the TUI's red cell
"■ You’ve hit your usage limit. Upgrade to Pro (…), visit … or try again at 5:34 PM.".

RATE_LIMITS (default shown; ``reset_at`` absolute unix seconds, or ``reset_in`` seconds from
now)::

    {"primary":   {"used_percent": 12, "window_minutes": 300,   "reset_in": 3600},
     "secondary": {"used_percent": 34, "window_minutes": 10080, "reset_in": 86400},
     "credits":   {"has_credits": false, "unlimited": false, "balance": "0"},
     "limit_name": null}

USAGE (``GET /wham/usage``)::

    {"mode": "ok",          # ok | unauthorized (401) | error (status, default 500) | garbage
                            # (200, not JSON) | empty (200, "{}")
     "status": 500,         # for mode "error"
     "queue": [],           # modes (or USAGE dicts) consumed per request before "mode"
     "delay": 0,
     "body": null,          # a full body to send verbatim instead of the generated one
     "primary":   {"used_percent": 12, "window_seconds": 18000,  "reset_after_seconds": 3600},
                            # or "reset_at": unix seconds (reset_after_seconds follows it)
     "secondary": {"used_percent": 34, "window_seconds": 604800, "reset_after_seconds": 86400},
     "credits": {"has_credits": false, "unlimited": false, "balance": "0"},
     "limit_reached": false, "rate_limit_reached_type": null, "additional_rate_limits": null}

The generated body is ``{"plan_type", "rate_limit": {"allowed", "limit_reached",
"primary_window": {"used_percent", "limit_window_seconds", "reset_after_seconds", "reset_at"},
"secondary_window": {...}}, "credits": {...}, "additional_rate_limits",
"rate_limit_reached_type"}``; a window set to null is sent as null.

OAUTH::

    {
      "refresh_tokens": {"<refresh token>": REFRESH},
      "unknown_refresh_token": "invalid_grant",  # error code for tokens nobody registered
      "access_ttl": 3600,                # exp of generated access/id tokens, seconds from now
      "login": {"email": "new@example.com", "account_id": "acct-new", "user_id": "user-new",
                "plan": "plus"},         # who logs in via /oauth/authorize or the device flow
      "authorize_error": null,           # e.g. "access_denied": authorize redirects with it
      "device": {"interval": "1", "approved": false, "approve_after_polls": null,
                 "usercode_status": 200, "deny_status": null}
    }

REFRESH (what /oauth/token does for that refresh token)::

    {"email", "account_id", "user_id", "plan",   # identity of the generated tokens
     "error": null,            # invalid_grant (400, {"error":"invalid_grant",...}) or
                               # refresh_token_expired | refresh_token_reused |
                               # refresh_token_invalidated (401, {"error":{"code":...}})
     "status": null,           # overrides the status of "error"
     "fail_times": 0, "fail_status": 500,  # transient failures before the answer
     "delay": 0,               # seconds before answering (client timeouts)
     "rotate": true,           # success issues a new refresh token; the old one is then
                               # refused with 401 refresh_token_reused
     "omit": [],               # fields left out of a success, e.g. ["id_token"]
     "tokens": {}}             # explicit id_token/access_token/refresh_token to return

A refresh token issued by the mock (rotation, logins) is registered automatically with the
identity it was issued for, so chains of refreshes work without more config.
"""

import argparse
import base64
import copy
import gzip
import hashlib
import http.server
import json
import os
import secrets
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
import zlib

DEFAULT_LOGIN = {"email": "new@example.com", "account_id": "acct-new", "user_id": "user-new",
                 "plan": "plus"}
DEFAULT_RATE_LIMITS = {
    "primary": {"used_percent": 12, "window_minutes": 300, "reset_in": 3600},
    "secondary": {"used_percent": 34, "window_minutes": 10080, "reset_in": 86400},
    "credits": {"has_credits": False, "unlimited": False, "balance": "0"},
    "limit_name": None,
}
DEFAULT_USAGE = {
    "mode": "ok",
    "primary": {"used_percent": 12, "window_seconds": 18000, "reset_after_seconds": 3600},
    "secondary": {"used_percent": 34, "window_seconds": 604800, "reset_after_seconds": 86400},
    "credits": {"has_credits": False, "unlimited": False, "balance": "0"},
    "limit_reached": False,
    "rate_limit_reached_type": None,
    "additional_rate_limits": None,
}
ACCOUNT_DEFAULTS = {
    "plan": "plus",
    "require_bearer": None,
    "responses": [],
    "responses_default": "ok",
    "text": "pong",
    "delay": 0,
    "stream_delay": 0,
    "rate_limits": DEFAULT_RATE_LIMITS,
    "extra_headers": {},
    "usage_limit": {},
    "usage": DEFAULT_USAGE,
    "limited_until": None,
    "title_outcome": "ok",
    "reset_credits": [],
}
UNAUTHORIZED_BODY = {"error": {
    "message": "Provided authentication token is expired. Please try signing in again.",
    "type": "invalid_request_error", "code": "token_expired", "param": None}}
REFRESH_ERROR_MESSAGES = {
    "refresh_token_expired": "Your refresh token has expired. Please log out and sign in again.",
    "refresh_token_reused": "Your refresh token has already been used to generate a new access "
                            "token. Please try signing in again.",
    "refresh_token_invalidated": "Your refresh token has been invalidated. Please try signing "
                                 "in again.",
}
MAX_BODY = 64 * 1024 * 1024


def b64url(data):
    """base64url without padding (bytes or str in, str out)."""
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_jwt(email, account_id, user_id=None, plan="plus", exp=None, **extra):
    """A fake 3-part JWT with the claims codex and codex-switch read.

    exp: unix seconds (default now + 3600). extra: fedramp=bool,
    subscription_active_until=RFC 3339 str, claims={...} merged into the payload.
    The signature part is random: nobody verifies it locally.
    """
    now = int(time.time())
    auth = {"chatgpt_account_id": account_id, "chatgpt_plan_type": plan}
    if user_id is not None:
        auth["chatgpt_user_id"] = user_id
        auth["user_id"] = user_id
    if extra.get("fedramp") is not None:
        auth["chatgpt_account_is_fedramp"] = bool(extra["fedramp"])
    if extra.get("subscription_active_until"):
        auth["chatgpt_subscription_active_until"] = extra["subscription_active_until"]
    payload = {
        "email": email,
        "exp": int(exp) if exp is not None else now + 3600,
        "iat": now,
        "jti": str(uuid.uuid4()),
        "https://api.openai.com/profile": {"email": email, "email_verified": True},
        "https://api.openai.com/auth": auth,
    }
    payload.update(extra.get("claims") or {})
    header = {"alg": "RS256", "typ": "JWT"}
    return ".".join([b64url(json.dumps(header, separators=(",", ":"))),
                     b64url(json.dumps(payload, separators=(",", ":"))),
                     b64url(secrets.token_bytes(32))])


def jwt_claims(token):
    """Decodes the payload of a JWT (no verification); None when it is not one."""
    try:
        part = token.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (IndexError, ValueError, AttributeError):
        return None


def decode_body(body, encoding):
    """body without its Content-Encoding (zstd, gzip, deflate, identity); None when it cannot
    be decoded. zstd uses the zstandard module when present, else the zstd command."""
    enc = (encoding or "identity").strip().lower()
    try:
        if enc == "identity":
            return body
        if enc in ("gzip", "x-gzip"):
            return gzip.decompress(body)
        if enc == "deflate":
            return zlib.decompress(body)
        if enc != "zstd":
            return None
        try:
            import zstandard  # noqa: PLC0415 - optional
            return zstandard.ZstdDecompressor().decompressobj().decompress(body)
        except ImportError:
            pass
        p = subprocess.run(["zstd", "-d", "-q", "-c"], input=body, stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, timeout=30)
        return p.stdout if p.returncode == 0 else None
    except (OSError, ValueError, zlib.error, subprocess.TimeoutExpired, EOFError):
        return None


def pkce_challenge(verifier):
    return b64url(hashlib.sha256(verifier.encode()).digest())


def make_certs(state_dir):
    """Throwaway CA + server cert (IP:127.0.0.1, DNS:localhost) in state_dir, via openssl."""
    ca_key = os.path.join(state_dir, "ca.key")
    ca_pem = os.path.join(state_dir, "ca.pem")
    key = os.path.join(state_dir, "server.key")
    csr = os.path.join(state_dir, "server.csr")
    pem = os.path.join(state_dir, "server.pem")
    ext = os.path.join(state_dir, "server.ext")
    if all(os.path.exists(p) for p in (ca_pem, key, pem)):
        return ca_pem, pem, key
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=critical,CA:FALSE\n"
                "keyUsage=critical,digitalSignature,keyEncipherment\n"
                "extendedKeyUsage=serverAuth\n")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    cmds = [
        ["openssl", "req", "-x509", *ec, "-keyout", ca_key, "-out", ca_pem, "-days", "3",
         "-subj", "/CN=codex-switch test CA",
         "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
        ["openssl", "req", *ec, "-keyout", key, "-out", csr, "-subj", "/CN=localhost"],
        ["openssl", "x509", "-req", "-in", csr, "-CA", ca_pem, "-CAkey", ca_key,
         "-CAcreateserial", "-out", pem, "-days", "3", "-extfile", ext],
    ]
    for cmd in cmds:
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        if r.returncode != 0:
            raise RuntimeError("openssl failed: %s\n%s" % (" ".join(cmd),
                                                           r.stdout.decode(errors="replace")))
    for p in (ca_key, key):
        os.chmod(p, 0o600)
    return ca_pem, pem, key


class _Reply:
    """What a route answers: status, headers, body chunks (with optional pauses between)."""

    def __init__(self, status, body=b"", ctype="application/json", headers=None):
        self.status = status
        self.headers = dict(headers or {})
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode()
        self.chunks = [body]
        self.pause = 0
        self.ctype = ctype
        self.disconnect = False


def _json_reply(status, obj, headers=None):
    return _Reply(status, obj, headers=headers)


class MockBackend:
    """The mock server. Thread-safe; see the module docstring for the config format."""

    def __init__(self, state_dir=None, config=None, watch_config=False, config_file=None):
        # Standalone mode re-reads the config file on every request; in-process tests call
        # configure()/set_account() instead.
        self.watch_config = watch_config or config_file is not None
        self._own_dir = state_dir is None
        self.state_dir = state_dir or tempfile.mkdtemp(prefix="cs-mock-")
        self.ca_path = os.path.join(self.state_dir, "ca.pem")
        os.makedirs(self.state_dir, exist_ok=True)
        self.config_file = config_file
        self._lock = threading.RLock()
        self._config = copy.deepcopy(config or {})
        self._config_bytes = None
        self._requests = []
        self._cleared_at = 0.0
        self._seq = 0
        self._used_refresh = set()
        self._issued_refresh = {}
        self._latest_access = {}
        self._codes = {}
        self._devices = {}
        self._counter = 0
        self._reset_runtime()
        self._httpd = None
        self._thread = None
        self.port = None

    # ----- lifecycle -----

    def start(self):
        ca, pem, key = make_certs(self.state_dir)
        self.ca_path = ca
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(pem, key)
        self._httpd = _Server(("127.0.0.1", 0), _Handler, self, ctx)
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        kwargs={"poll_interval": 0.1}, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        """Stops serving; a state dir the mock created itself is removed (unless
        CS_KEEP_TMP is set)."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._own_dir and not os.environ.get("CS_KEEP_TMP"):
            shutil.rmtree(self.state_dir, ignore_errors=True)

    def __enter__(self):
        return self.start() if self._httpd is None else self

    def __exit__(self, *exc):
        self.stop()

    @property
    def base_url(self):
        return "https://127.0.0.1:%d" % self.port

    @property
    def chatgpt_base_url(self):
        return self.base_url + "/backend-api"

    @property
    def openai_base_url(self):
        return self.base_url + "/backend-api/codex"

    @property
    def refresh_url(self):
        return self.base_url + "/oauth/token"

    def ssl_context(self):
        """A client context trusting this mock's CA (for urllib in tests)."""
        return ssl.create_default_context(cafile=self.ca_path)

    # ----- configuration -----

    def _reset_runtime(self):
        self._queues = {}
        self._fail_counts = {}
        self._turns = {}
        self._credit_state = {}

    def configure(self, config):
        """Replaces the whole config; queues and transient-failure counters start over."""
        with self._lock:
            self._config = copy.deepcopy(config)
            self._reset_runtime()

    def config(self):
        with self._lock:
            return copy.deepcopy(self._config)

    def set_account(self, account_id, **settings):
        """Merges ACCOUNT settings for account_id ("default" for the default). Passing
        responses= (or usage=) restarts that queue; other settings leave queues alone."""
        with self._lock:
            if account_id == "default":
                acc = self._config.setdefault("default", {})
            else:
                acc = self._config.setdefault("accounts", {}).setdefault(account_id, {})
            acc.update(copy.deepcopy(settings))
            # Only the queues whose script changed start over; setting e.g. require_bearer
            # must not replay an outcome already consumed.
            for k in list(self._queues):
                if k[1] in settings and (account_id == "default" or k[0] == account_id):
                    del self._queues[k]
            if "usage" in settings or "reset_credits" in settings:
                for k in list(self._credit_state):
                    if account_id == "default" or k == account_id:
                        del self._credit_state[k]

    def set_oauth(self, **settings):
        """Merges keys into the OAUTH config."""
        with self._lock:
            self._config.setdefault("oauth", {}).update(copy.deepcopy(settings))

    def add_refresh_token(self, refresh_token, **spec):
        """Registers what /oauth/token does for refresh_token (REFRESH keys)."""
        with self._lock:
            rts = self._config.setdefault("oauth", {}).setdefault("refresh_tokens", {})
            rts[refresh_token] = copy.deepcopy(spec)
            self._fail_counts.pop(refresh_token, None)
            self._used_refresh.discard(refresh_token)

    def latest_access_token(self, account_id):
        with self._lock:
            return self._latest_access.get(account_id)

    def approve_device(self, user_code=None, **identity):
        """Approves pending device codes (all, or the one with user_code); identity keys
        (email, account_id, user_id, plan) override oauth.login for this login."""
        with self._lock:
            for dev in self._devices.values():
                if user_code is None or dev["user_code"] == user_code:
                    dev["approved"] = True
                    dev["identity"] = identity or None

    def device_codes(self):
        with self._lock:
            return [dict(d) for d in self._devices.values()]

    def _load_file_config(self):
        path = self.config_file or os.path.join(self.state_dir, "config.json")
        try:
            with open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return
        if data == self._config_bytes:
            return
        try:
            cfg = json.loads(data or b"{}")
        except ValueError as e:
            sys.stderr.write("mock: ignoring bad %s: %s\n" % (path, e))
            return
        self._config_bytes = data
        self._config = cfg
        self._reset_runtime()

    # ----- requests -----

    def requests(self, endpoint=None, account=None, path=None):
        with self._lock:
            out = list(self._requests)
        if endpoint is not None:
            out = [r for r in out if r["endpoint"] == endpoint]
        if account is not None:
            out = [r for r in out if r["account"] == account]
        if path is not None:
            out = [r for r in out if r["path"] == path]
        return out

    def count(self, endpoint=None, account=None):
        return len(self.requests(endpoint=endpoint, account=account))

    def turns(self, account=None):
        """Recorded /responses requests of user turns (thread-title requests left out), each
        with "prompt" (the last user text), "user_texts", "outcome" and "account"."""
        return [r for r in self.requests(endpoint="responses", account=account)
                if r.get("purpose") == "turn"]

    def prompts(self, account=None):
        """The prompt of each recorded user turn, in order."""
        return [r.get("prompt") for r in self.turns(account)]

    def answered_by(self, prompt):
        """Accounts whose /responses got an ok answer for a turn ending in prompt."""
        return [r["account"] for r in self.turns()
                if r.get("prompt") == prompt and r.get("outcome") == "ok"]

    def limit_until(self, account_id, resets_in=None, resets_at=None):
        """Puts account_id at its usage limit until a time (resets_in seconds from now, rounded
        up to a whole second, or resets_at unix seconds): meanwhile /responses answers usage_limit (resets_at = that
        time, queue untouched) and /wham/usage shows the 5-hour window at 100 % resetting
        then; afterwards both follow the account's other settings. Returns the reset time."""
        # Whole seconds: the reset the mock announces (resets_at, reset_at) is exactly when
        # it starts answering again.
        until = int(resets_at if resets_at is not None
                    else -(-(time.time() + float(resets_in or 0)) // 1))
        self.set_account(account_id, limited_until=until)
        return until

    def clear_requests(self):
        """Forgets the requests so far, and those still being answered (a delayed answer of
        an earlier test is recorded when it ends, long after its test)."""
        with self._lock:
            self._requests = []
            self._cleared_at = time.time()

    def wait_for(self, predicate, timeout=10.0, interval=0.05):
        """Polls predicate until true; raises TimeoutError after timeout seconds."""
        deadline = time.monotonic() + timeout
        while True:
            v = predicate()
            if v:
                return v
            if time.monotonic() >= deadline:
                raise TimeoutError("mock: condition not met within %.1fs" % timeout)
            time.sleep(interval)

    def _record(self, rec):
        with self._lock:
            if rec["time"] < self._cleared_at:
                return
            self._seq += 1
            rec["seq"] = self._seq
            self._requests.append(rec)
            line = json.dumps(rec) + "\n"
            with open(os.path.join(self.state_dir, "requests.jsonl"), "a") as f:
                f.write(line)

    def _next_id(self, prefix):
        with self._lock:
            self._counter += 1
            return "%s-%d" % (prefix, self._counter)

    # ----- per-account resolution -----

    def _acct(self, account, key):
        cfg = self._config
        acc = (cfg.get("accounts") or {}).get(account or "") or {}
        if key in acc:
            return acc[key]
        if key in (cfg.get("default") or {}):
            return cfg["default"][key]
        return ACCOUNT_DEFAULTS[key]

    def _pop_queue(self, account, key, default_key):
        """Next entry of the account's queue `key` (its own copy), else the default."""
        qk = (account or "", key)
        if qk not in self._queues:
            src = self._acct(account, key) if key == "responses" else (
                (self._acct(account, "usage") or {}).get("queue") or [])
            self._queues[qk] = list(copy.deepcopy(src or []))
        q = self._queues[qk]
        if q:
            return q.pop(0)
        if key == "responses":
            return self._acct(account, default_key)
        return None

    def _bearer_ok(self, account, bearer):
        want = self._acct(account, "require_bearer")
        if want is None:
            return True
        if want == "latest":
            want = self._latest_access.get(account)
        if isinstance(want, str):
            want = [want]
        return bearer in (want or [])

    def _limited_until(self, account):
        """The account's time limit (unix seconds) while it is in the future, else None."""
        until = self._acct(account, "limited_until")
        return float(until) if until is not None and time.time() < float(until) else None

    # ----- handlers -----

    def handle(self, rec, body):
        """Routes one request; returns a _Reply. Called on the request's own thread."""
        with self._lock:
            if self.watch_config:
                self._load_file_config()
        path = rec["path"].rstrip("/") or "/"
        method = rec["method"]
        if "websocket" in rec["headers"].get("upgrade", "").lower():
            rec["endpoint"] = "responses_ws" if path.endswith("/responses") else "not_found"
            return _Reply(426, {"detail": "Upgrade Required"})
        routes = {
            ("GET", "/backend-api/wham/accounts/check"): ("accounts_check", self._accounts_check),
            ("POST", "/backend-api/codex/responses"): ("responses", self._responses),
            ("POST", "/v1/responses"): ("responses", self._responses),
            ("POST", "/responses"): ("responses", self._responses),
            ("GET", "/backend-api/wham/usage"): ("usage", self._usage),
            ("GET", "/api/codex/usage"): ("usage", self._usage),
            ("GET", "/backend-api/wham/rate-limit-reset-credits"): ("reset_credits",
                                                                    self._reset_credits),
            ("POST", "/backend-api/wham/rate-limit-reset-credits/consume"): (
                "reset_credits_consume", self._consume_credit),
            ("POST", "/oauth/token"): ("oauth_token", self._oauth_token),
            ("GET", "/oauth/authorize"): ("oauth_authorize", self._authorize),
            ("POST", "/api/accounts/deviceauth/usercode"): ("device_usercode", self._usercode),
            ("POST", "/api/accounts/deviceauth/token"): ("device_token", self._device_token),
            ("GET", "/codex/device"): ("device_page", self._device_page),
        }
        name, fn = routes.get((method, path), ("not_found", None))
        rec["endpoint"] = name
        if fn is None:
            return _Reply(404, {"detail": "Not Found"})
        return fn(rec, body)

    def _accounts_check(self, rec, body):
        acct = rec["account"] or "unknown"
        return _json_reply(200, {"accounts": [{
            "id": acct, "workspace_backend_origin": "NO_CONSTRAINT",
            "account_routing_override": "NO_CONSTRAINT"}]})

    def _setting(self, account, outcome, key):
        if isinstance(outcome, dict) and key in outcome:
            return outcome[key]
        return self._acct(account, key)

    def _responses(self, rec, body):
        account = rec["account"]
        rec["purpose"] = _responses_purpose(rec["json"])
        rec["user_texts"] = _user_texts(rec["json"])
        rec["prompt"] = rec["user_texts"][-1] if rec["user_texts"] else None
        with self._lock:
            limited = self._limited_until(account)
            title = rec["purpose"] == "title" and self._acct(account, "title_outcome") == "ok"
            # A refused bearer does not consume the queue: the retry with a fresh token gets
            # the outcome the test scripted. Neither do a time limit nor a thread-title request
            # (the real TUI sends one beside the first turn of a thread).
            if not self._bearer_ok(account, rec["bearer"]):
                outcome, kind = None, "unauthorized"
            elif limited:
                ul = dict(self._acct(account, "usage_limit") or {})
                ul.update(resets_at=int(limited),
                          resets_in_seconds=max(0, int(limited - time.time())))
                outcome = {"outcome": "usage_limit", "usage_limit": ul,
                           "rate_limits": _limited_rate_limits(self._acct(account, "rate_limits"),
                                                               limited)}
                kind = "usage_limit"
            elif title:
                outcome, kind = {"outcome": "ok", "text": json.dumps({"title": "Mock title"})}, "ok"
            else:
                outcome = self._pop_queue(account, "responses", "responses_default")
                kind = outcome.get("outcome", "ok") if isinstance(outcome, dict) else outcome
            get = lambda k: copy.deepcopy(self._setting(account, outcome, k))  # noqa: E731
            settings = {k: get(k) for k in ACCOUNT_DEFAULTS}
            if not title and kind == "ok":
                self._turns[account or ""] = self._turns.get(account or "", 0) + 1
            turn_no = self._turns.get(account or "", 0)
        rec["outcome"] = kind
        if settings["delay"]:
            time.sleep(float(settings["delay"]))
        headers = _rate_limit_headers(settings["rate_limits"], 100 if kind == "usage_limit"
                                      else None)
        headers.update({k: str(v) for k, v in (settings["extra_headers"] or {}).items()})
        if kind == "ok":
            seq = self._next_id("r")
            reply = _Reply(200, b"", ctype="text/event-stream", headers=headers)
            text = str(settings["text"]) if title else _answer_text(
                str(settings["text"]), rec["prompt"], account, turn_no)
            reply.chunks = _sse_ok(seq, text)
            reply.pause = float(settings["stream_delay"] or 0)
            return reply
        if kind == "usage_limit":
            return _json_reply(429, _usage_limit_body(settings), headers)
        if kind == "unauthorized":
            return _json_reply(401, UNAUTHORIZED_BODY)
        if kind == "rate_limited":
            return _json_reply(429, {"error": {"type": "rate_limit_exceeded", "message":
                                               "Rate limit reached. Try again later."}}, headers)
        if kind == "bad_request":
            return _json_reply(400, {"error": {"type": "invalid_request_error",
                                               "message": "mock bad request"}})
        if kind == "disconnect":
            r = _Reply(200)
            r.disconnect = True
            return r
        return _json_reply(500, {"error": {"type": "server_error",
                                           "message": "mock server error (%s)" % kind}})

    def _usage(self, rec, body):
        account = rec["account"]
        with self._lock:
            spec = copy.deepcopy(self._acct(account, "usage") or {})
            plan = self._acct(account, "plan")
            limited = self._limited_until(account)
            bearer_ok = self._bearer_ok(account, rec["bearer"])
            queued = self._pop_queue(account, "usage", None) if bearer_ok else None
        if isinstance(queued, dict):
            spec.update(queued)
        elif queued is not None:
            spec["mode"] = queued
        mode = spec.get("mode", "ok")
        rec["outcome"] = mode if bearer_ok else "unauthorized"
        if spec.get("delay"):
            time.sleep(float(spec["delay"]))
        if not bearer_ok or mode == "unauthorized":
            return _json_reply(401, UNAUTHORIZED_BODY)
        if mode == "error":
            return _json_reply(int(spec.get("status", 500)), {"detail": "mock usage error"})
        if mode == "garbage":
            return _Reply(200, b"<html>not json", ctype="text/html")
        if mode == "empty":
            return _json_reply(200, {})
        if spec.get("body") is not None:
            return _json_reply(200, spec["body"])
        with self._lock:
            credits = self._credits(account)
            was_reset = self._credit_st(account)["reset"]
        if was_reset:
            for k in ("primary", "secondary"):
                if spec.get(k) is not None:
                    spec[k] = dict(spec[k], used_percent=0)
        if limited:
            spec = _limited_usage(spec, limited)
        body = _usage_body(spec, plan)
        if credits:
            body["rate_limit_reset_credits"] = {
                "available_count": sum(1 for c in credits if c["status"] == "available")}
        return _json_reply(200, body)

    # ----- rate-limit reset credits -----

    def _credit_st(self, account):
        return self._credit_state.setdefault(account or "", {"redeemed": set(),
                                                             "requests": set(),
                                                             "reset": False})

    def _credits(self, account):
        """The account's credits as the backend lists them (runtime redemptions applied)."""
        spec = self._acct(account, "reset_credits") or []
        now = int(time.time())
        if isinstance(spec, int):
            spec = [{"expires_in": 30 * 86400} for _ in range(spec)]
        st = self._credit_st(account)
        out = []
        for i, c in enumerate(spec):
            c = dict(c)
            cid = c.get("id") or "rc-%s-%d" % (account or "default", i + 1)
            exp = c.get("expires_at") or _iso(now + int(c.get("expires_in", 30 * 86400)))
            status = "redeemed" if cid in st["redeemed"] else c.get("status", "available")
            out.append({"id": cid, "reset_type": c.get("reset_type", "codex_rate_limits"),
                        "status": status, "granted_at": c.get("granted_at") or _iso(now - 86400),
                        "expires_at": exp})
        return out

    def _reset_credits(self, rec, body):
        account = rec["account"]
        with self._lock:
            if not self._bearer_ok(account, rec["bearer"]):
                rec["outcome"] = "unauthorized"
                return _json_reply(401, UNAUTHORIZED_BODY)
            credits = self._credits(account)
        rec["outcome"] = "ok"
        return _json_reply(200, {"credits": credits, "available_count": sum(
            1 for c in credits if c["status"] == "available")})

    def _consume_credit(self, rec, body):
        account = rec["account"]
        rid = (rec.get("json") or {}).get("redeem_request_id") if isinstance(
            rec.get("json"), dict) else None
        with self._lock:
            if not self._bearer_ok(account, rec["bearer"]):
                rec["outcome"] = "unauthorized"
                return _json_reply(401, UNAUTHORIZED_BODY)
            if not rid:
                rec["outcome"] = "bad_request"
                return _json_reply(400, {"detail": "redeem_request_id is required"})
            st = self._credit_st(account)
            avail = sorted((c for c in self._credits(account) if c["status"] == "available"),
                           key=lambda c: c["expires_at"])
            usage = self._acct(account, "usage") or {}
            used = 0 if st["reset"] else sum(
                1 for k in ("primary", "secondary")
                if (usage.get(k, DEFAULT_USAGE[k]) or {}).get("used_percent", 0) > 0)
            if rid in st["requests"]:
                code, windows = "already_redeemed", 0
            elif not avail:
                code, windows = "no_credit", 0
            elif used == 0:
                code, windows = "nothing_to_reset", 0
            else:
                st["redeemed"].add(avail[0]["id"])
                st["reset"] = True
                code, windows = "reset", used
            st["requests"].add(rid)
        rec["outcome"] = code
        return _json_reply(200, {"code": code, "windows_reset": windows})

    # ----- oauth -----

    def _oauth_token(self, rec, body):
        params = rec.get("json") if isinstance(rec.get("json"), dict) else None
        if params is None:
            params = {k: v[0] for k, v in urllib.parse.parse_qs(
                body.decode(errors="replace")).items()}
        grant = params.get("grant_type")
        rec["grant_type"] = grant
        if grant == "refresh_token":
            return self._refresh(rec, params.get("refresh_token") or "")
        if grant == "authorization_code":
            return self._exchange_code(params)
        if grant == "urn:ietf:params:oauth:grant-type:token-exchange":
            return _json_reply(200, {"access_token": self._next_id("sk-mock")})
        return _json_reply(400, {"error": "unsupported_grant_type",
                                 "error_description": "grant_type %r" % grant})

    def _refresh(self, rec, rt):
        with self._lock:
            oauth = self._config.get("oauth") or {}
            spec = (oauth.get("refresh_tokens") or {}).get(rt)
            if spec is None:
                spec = self._issued_refresh.get(rt)
            spec = copy.deepcopy(spec)
            if rt in self._used_refresh:
                reply = _refresh_error("refresh_token_reused", None)
            elif spec is None:
                reply = _refresh_error(oauth.get("unknown_refresh_token") or "invalid_grant",
                                       None)
            elif self._fail_counts.get(rt, 0) < int(spec.get("fail_times", 0) or 0):
                self._fail_counts[rt] = self._fail_counts.get(rt, 0) + 1
                reply = _json_reply(int(spec.get("fail_status", 500)), {"error": {
                    "message": "mock transient failure", "type": "server_error"}})
            elif spec.get("error"):
                reply = _refresh_error(spec["error"], spec.get("status"))
            else:
                reply = None
        if spec is not None and spec.get("delay"):
            time.sleep(float(spec["delay"]))
        rec["outcome"] = "ok" if reply is None else "error"
        if reply is not None:
            return reply
        return _json_reply(200, self._issue_tokens(spec, old_refresh=rt))

    def _issue_tokens(self, ident, old_refresh=None):
        """Generates tokens for ident, registers the new refresh token, retires the old."""
        ident = dict(ident)
        with self._lock:
            ttl = int((self._config.get("oauth") or {}).get("access_ttl", 3600))
        exp = int(time.time()) + ttl
        email = ident.get("email", DEFAULT_LOGIN["email"])
        acct = ident.get("account_id", DEFAULT_LOGIN["account_id"])
        user = ident.get("user_id", DEFAULT_LOGIN["user_id"])
        plan = ident.get("plan", DEFAULT_LOGIN["plan"])
        tokens = {"id_token": make_jwt(email, acct, user, plan, exp),
                  "access_token": make_jwt(email, acct, user, plan, exp),
                  "refresh_token": old_refresh}
        if old_refresh is None or ident.get("rotate", True):
            tokens["refresh_token"] = "rt-%s-%s" % (acct, secrets.token_hex(6))
        tokens.update(ident.get("tokens") or {})
        for k in ident.get("omit") or []:
            tokens.pop(k, None)
        keep = {k: ident[k] for k in ("email", "account_id", "user_id", "plan", "rotate")
                if k in ident}
        with self._lock:
            if tokens.get("refresh_token") and tokens["refresh_token"] != old_refresh:
                self._issued_refresh[tokens["refresh_token"]] = keep
                if old_refresh is not None:
                    self._used_refresh.add(old_refresh)
            if tokens.get("access_token"):
                self._latest_access[acct] = tokens["access_token"]
        return tokens

    def _login_identity(self, override=None):
        with self._lock:
            ident = dict(DEFAULT_LOGIN)
            ident.update((self._config.get("oauth") or {}).get("login") or {})
        ident.update(override or {})
        return ident

    def _authorize(self, rec, body):
        q = {k: v[0] for k, v in rec["query"].items()}
        redirect = q.get("redirect_uri")
        if not redirect:
            return _json_reply(400, {"error": "invalid_request",
                                     "error_description": "missing redirect_uri"})
        with self._lock:
            err = (self._config.get("oauth") or {}).get("authorize_error")
        if err:
            out = {"error": err, "error_description": "mock authorize error"}
        else:
            code = self._next_id("code") + "-" + secrets.token_hex(4)
            with self._lock:
                self._codes[code] = {"challenge": q.get("code_challenge"),
                                     "redirect_uri": redirect,
                                     "identity": self._login_identity()}
            out = {"code": code, "scope": q.get("scope", "openid profile email offline_access")}
        if "state" in q:
            out["state"] = q["state"]
        sep = "&" if "?" in redirect else "?"
        return _Reply(302, b"", ctype="text/plain",
                      headers={"Location": redirect + sep + urllib.parse.urlencode(out)})

    def _exchange_code(self, params):
        code = params.get("code") or ""
        with self._lock:
            info = self._codes.pop(code, None)
        if info is None:
            return _json_reply(400, {"error": "invalid_grant",
                                     "error_description": "unknown or used code"})
        redirect = params.get("redirect_uri") or ""
        if info["redirect_uri"] and info["redirect_uri"] != redirect:
            return _json_reply(400, {"error": "invalid_grant",
                                     "error_description": "redirect_uri mismatch"})
        if info["challenge"]:
            verifier = params.get("code_verifier") or ""
            if pkce_challenge(verifier) != info["challenge"]:
                return _json_reply(400, {"error": "invalid_grant",
                                         "error_description": "code_verifier mismatch"})
        return _json_reply(200, self._issue_tokens(info["identity"]))

    def _usercode(self, rec, body):
        with self._lock:
            dev = dict((self._config.get("oauth") or {}).get("device") or {})
        status = int(dev.get("usercode_status", 200))
        if status != 200:
            return _json_reply(status, {"error": "device code login disabled (mock)"})
        dev_id = self._next_id("deviceauth") + "-" + secrets.token_hex(4)
        user_code = "%s-%s" % (secrets.token_hex(2).upper(), secrets.token_hex(2).upper())
        with self._lock:
            self._devices[dev_id] = {"device_auth_id": dev_id, "user_code": user_code,
                                     "polls": 0, "approved": False, "identity": None}
        return _json_reply(200, {"device_auth_id": dev_id, "user_code": user_code,
                                 "interval": str(dev.get("interval", "1"))})

    def _device_token(self, rec, body):
        p = rec.get("json") if isinstance(rec.get("json"), dict) else {}
        with self._lock:
            cfg = dict((self._config.get("oauth") or {}).get("device") or {})
            dev = self._devices.get(p.get("device_auth_id") or "")
            if dev is None or dev["user_code"] != p.get("user_code"):
                return _json_reply(400, {"error": "invalid_request",
                                         "error_description": "unknown device code"})
            dev["polls"] += 1
            after = cfg.get("approve_after_polls")
            if cfg.get("approved") or (after is not None and dev["polls"] > int(after)):
                dev["approved"] = True
            if cfg.get("deny_status"):
                return _json_reply(int(cfg["deny_status"]), {"error": "access_denied"})
            if not dev["approved"]:
                return _json_reply(403, {"error": {"message": "authorization pending",
                                                   "code": "deviceauth_authorization_unknown"}})
            verifier = b64url(secrets.token_bytes(32))
            code = self._next_id("dcode") + "-" + secrets.token_hex(4)
            self._codes[code] = {"challenge": pkce_challenge(verifier), "redirect_uri": None,
                                 "identity": self._login_identity(dev["identity"])}
            del self._devices[dev["device_auth_id"]]
        return _json_reply(200, {"authorization_code": code,
                                 "code_challenge": pkce_challenge(verifier),
                                 "code_verifier": verifier})

    def _device_page(self, rec, body):
        return _Reply(200, "<html><body>mock device login</body></html>", ctype="text/html")


def _refresh_error(code, status):
    if code in REFRESH_ERROR_MESSAGES:
        return _json_reply(int(status or 401), {"error": {
            "message": REFRESH_ERROR_MESSAGES[code], "type": "invalid_request_error",
            "param": None, "code": code}})
    return _json_reply(int(status or 400), {"error": code,
                                            "error_description": "mock refresh error"})


def _window_reset(w, now):
    if w.get("reset_at") is not None:
        return int(w["reset_at"])
    if w.get("reset_in") is not None:
        return now + int(w["reset_in"])
    return None


def _rate_limit_headers(spec, force_primary=None):
    if spec is None:
        return {}
    now = int(time.time())
    h = {}
    for slot in ("primary", "secondary"):
        w = spec.get(slot)
        if not w:
            continue
        used = w.get("used_percent", 0)
        if slot == "primary" and force_primary is not None:
            used = force_primary
        h["x-codex-%s-used-percent" % slot] = str(used)
        if w.get("window_minutes") is not None:
            h["x-codex-%s-window-minutes" % slot] = str(int(w["window_minutes"]))
        reset = _window_reset(w, now)
        if reset is not None:
            h["x-codex-%s-reset-at" % slot] = str(reset)
    c = spec.get("credits")
    if c:
        h["x-codex-credits-has-credits"] = "true" if c.get("has_credits") else "false"
        h["x-codex-credits-unlimited"] = "true" if c.get("unlimited") else "false"
        if c.get("balance") is not None:
            h["x-codex-credits-balance"] = str(c["balance"])
    if spec.get("limit_name"):
        h["x-codex-limit-name"] = str(spec["limit_name"])
    return h


def _usage_limit_body(settings):
    ul = settings.get("usage_limit") or {}
    now = int(time.time())
    resets_in = int(ul.get("resets_in_seconds", 3600))
    return {"error": {
        "type": "usage_limit_reached",
        "message": ul.get("message", "The usage limit has been reached"),
        "plan_type": ul.get("plan_type") or settings.get("plan") or "plus",
        "resets_at": int(ul.get("resets_at", now + resets_in)),
        "resets_in_seconds": resets_in}}


def _iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def _usage_window(w, now):
    if w is None:
        return None
    if w.get("reset_at") is not None:
        reset_at = int(w["reset_at"])
        reset_after = max(0, reset_at - now)
    else:
        reset_after = int(w.get("reset_after_seconds", 3600))
        reset_at = now + reset_after
    return {"used_percent": w.get("used_percent", 0),
            "limit_window_seconds": int(w.get("window_seconds", 18000)),
            "reset_after_seconds": reset_after,
            "reset_at": reset_at}


def _usage_body(spec, plan):
    full = dict(DEFAULT_USAGE)
    full.update(spec)
    now = int(time.time())
    return {
        "plan_type": full.get("plan_type") or plan,
        "rate_limit": {
            "allowed": not full.get("limit_reached", False),
            "limit_reached": bool(full.get("limit_reached", False)),
            "primary_window": _usage_window(full.get("primary"), now),
            "secondary_window": _usage_window(full.get("secondary"), now),
        },
        "credits": full.get("credits"),
        "additional_rate_limits": full.get("additional_rate_limits"),
        "rate_limit_reached_type": full.get("rate_limit_reached_type"),
    }


def _responses_purpose(body):
    """"title" for the thread-title request the TUI sends beside a thread's first turn (a
    json_schema output asking for a title), "turn" for everything else."""
    fmt = ((body or {}).get("text") or {}).get("format") or {}
    props = ((fmt.get("schema") or {}).get("properties") or {})
    return "title" if fmt.get("type") == "json_schema" and "title" in props else "turn"


def _user_texts(body):
    """The user's own texts in a Responses request body, oldest first: input_text parts of
    role "user" messages, without codex's <environment_context>-style wrappers."""
    out = []
    for item in (body or {}).get("input") or []:
        if not isinstance(item, dict) or item.get("role") != "user":
            continue
        for part in item.get("content") or []:
            text = part.get("text") if isinstance(part, dict) else None
            if isinstance(text, str) and not text.lstrip().startswith("<"):
                out.append(text)
    return out


def _answer_text(template, prompt, account, n):
    """An ok answer's text: {prompt}, {account} and {n} (the account's ok turns so far) are
    replaced, so a test can see on screen which account answered which prompt."""
    return (template.replace("{prompt}", prompt or "").replace("{account}", account or "-")
            .replace("{n}", str(n)))


def _limited_rate_limits(spec, until):
    """Rate-limit headers of an account at its limit until `until`."""
    spec = copy.deepcopy(spec if spec is not None else DEFAULT_RATE_LIMITS)
    prim = dict(spec.get("primary") or {"window_minutes": 300})
    prim.update({"used_percent": 100, "reset_at": int(until)})
    prim.pop("reset_in", None)
    spec["primary"] = prim
    return spec


def _limited_usage(spec, until):
    """The USAGE spec of an account at its limit until `until`."""
    spec = dict(spec)
    prim = dict(spec.get("primary") or DEFAULT_USAGE["primary"])
    prim.update({"used_percent": 100, "reset_at": int(until)})
    spec["primary"] = prim
    spec["limit_reached"] = True
    spec["rate_limit_reached_type"] = spec.get("rate_limit_reached_type") or "rate_limit_reached"
    return spec


def _sse_ok(seq, text):
    resp_id = "resp_%s" % seq.replace("-", "")
    msg_id = "msg_%s" % seq.replace("-", "")
    usage = {"input_tokens": 10, "input_tokens_details": {"cached_tokens": 0},
             "output_tokens": 5, "output_tokens_details": {"reasoning_tokens": 0},
             "total_tokens": 15}
    events = [
        ("response.created", {"response": {"id": resp_id, "object": "response",
                                            "status": "in_progress", "output": []}}),
        ("response.output_item.added", {"output_index": 0, "item": {
            "type": "message", "role": "assistant", "id": msg_id, "status": "in_progress",
            "content": []}}),
        ("response.output_text.delta", {"item_id": msg_id, "output_index": 0,
                                        "content_index": 0, "delta": text}),
        ("response.output_item.done", {"output_index": 0, "item": {
            "type": "message", "role": "assistant", "id": msg_id, "status": "completed",
            "content": [{"type": "output_text", "text": text, "annotations": []}]}}),
        ("response.completed", {"response": {"id": resp_id, "object": "response",
                                              "status": "completed", "output": [],
                                              "usage": usage}}),
    ]
    out = []
    for typ, data in events:
        payload = dict(type=typ, **data)
        out.append(("event: %s\ndata: %s\n\n" % (typ, json.dumps(payload))).encode())
    return out


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, addr, handler, backend, ctx):
        self.backend = backend
        self.ctx = ctx
        super().__init__(addr, handler)

    def finish_request(self, request, client_address):
        # The TLS handshake runs on the request's thread so a stalled client cannot block
        # the accept loop.
        request.settimeout(30)
        try:
            tls = self.ctx.wrap_socket(request, server_side=True)
        except (OSError, ssl.SSLError):
            return
        try:
            self.RequestHandlerClass(tls, client_address, self)
        except (OSError, ssl.SSLError):
            pass
        finally:
            try:
                tls.close()
            except OSError:
                pass


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "cs-mock-backend"
    # Headers and body go out in separate writes: with Nagle on, the body waits for the
    # client's delayed ACK (40 ms per request), which no real service costs.
    disable_nagle_algorithm = True

    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        self._dispatch()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_GET

    def _read_body(self):
        te = self.headers.get("Transfer-Encoding", "").lower()
        if "chunked" in te:
            out = b""
            while True:
                line = self.rfile.readline(1024)
                n = int(line.split(b";")[0].strip() or b"0", 16)
                if n == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    return out
                out += self.rfile.read(n)
                self.rfile.readline(8)
                if len(out) > MAX_BODY:
                    raise ValueError("body too large")
        n = int(self.headers.get("Content-Length") or 0)
        if n > MAX_BODY:
            raise ValueError("body too large")
        return self.rfile.read(n) if n else b""

    def _record_base(self, body):
        url = urllib.parse.urlsplit(self.path)
        headers = {k.lower(): v for k, v in self.headers.items()}
        auth = headers.get("authorization", "")
        bearer = auth[7:].strip() if auth.lower().startswith("bearer ") else None
        ctype = headers.get("content-type", "").lower()
        text = None
        parsed = None
        plain = not headers.get("content-encoding")
        if body and plain and ("json" in ctype or "form" in ctype or not ctype):
            try:
                text = body.decode()
            except UnicodeDecodeError:
                text = None
            if text is not None and "form" not in ctype:
                try:
                    parsed = json.loads(text)
                except ValueError:
                    parsed = None
        elif body and "json" in ctype:
            # codex compresses /responses bodies (zstd): "json" holds the decoded body,
            # "body" stays null so the record says it did not arrive as plain text.
            raw = decode_body(body, headers.get("content-encoding"))
            try:
                parsed = json.loads(raw) if raw is not None else None
            except ValueError:
                parsed = None
        return {"time": time.time(), "method": self.command, "path": url.path,
                "query": urllib.parse.parse_qs(url.query), "headers": headers,
                "bearer": bearer, "account": headers.get("chatgpt-account-id"),
                "body_len": len(body), "body": text, "json": parsed,
                "endpoint": None, "status": None}

    def _dispatch(self):
        backend = self.server.backend
        body = self._read_body()
        rec = self._record_base(body)
        try:
            reply = backend.handle(rec, body)
        except Exception as e:  # a mock bug must show up as a 500, not a hang
            reply = _json_reply(500, {"error": {"message": "mock crashed: %r" % e}})
        rec["status"] = reply.status if not reply.disconnect else None
        backend._record(rec)
        if reply.disconnect:
            self.close_connection = True
            return
        self._send(reply)

    def _send(self, reply):
        total = sum(len(c) for c in reply.chunks)
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.ctype)
        self.send_header("Content-Length", str(total))
        for k, v in reply.headers.items():
            self.send_header(k, v)
        self.end_headers()
        if self.command == "HEAD":
            return
        for i, chunk in enumerate(reply.chunks):
            if i and reply.pause:
                time.sleep(reply.pause)
            self.wfile.write(chunk)
            self.wfile.flush()


def _write_atomic(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def main(argv=None):
    ap = argparse.ArgumentParser(description="mock ChatGPT/OpenAI backend for tests")
    ap.add_argument("--state-dir", required=True)
    ap.add_argument("--config", help="config file (default STATE_DIR/config.json)")
    args = ap.parse_args(argv)
    os.makedirs(args.state_dir, exist_ok=True)
    mb = MockBackend(state_dir=args.state_dir, watch_config=True, config_file=args.config)
    with mb._lock:
        mb._load_file_config()
    mb.start()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    _write_atomic(os.path.join(args.state_dir, "port"), "%d\n" % mb.port)
    sys.stdout.write("%d\n" % mb.port)
    sys.stdout.flush()
    while not stop.wait(0.5):
        pass
    mb.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
