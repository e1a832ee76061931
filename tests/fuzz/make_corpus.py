#!/usr/bin/env python3
"""Writes the seed corpora of tests/fuzz/corpus/<harness>/ from real-shaped messages: what codex
0.169 and the ChatGPT backend send (shapes from docs/app-server-protocol.md and the mock
backend). Run it again after changing a harness's input format; the fuzzer adds its own finds
to the corpus it is given, so commit only these seeds."""
import json
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "mock"))
from backend import _usage_body, make_jwt  # noqa: E402

EXP = 1900000000
ID_TOKEN = make_jwt("alice@example.com", "acct-A", "user-A", "plus", EXP)
ACCESS = make_jwt("alice@example.com", "acct-A", "user-A", "plus", EXP)


def write(harness, name, data):
    d = os.path.join(HERE, "corpus", harness)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def j(o):
    return json.dumps(o, separators=(",", ":"))


RPC = [
    {"id": 1, "method": "initialize", "params": {"clientInfo": {"name": "codex-tui",
                                                                "version": "0.169.0"}}},
    {"method": "initialized"},
    {"id": 0, "method": "account/chatgptAuthTokens/refresh",
     "params": {"reason": "unauthorized", "previousAccountId": "acct-A"}},
    {"id": "codex-switch/ctl/1", "result": {"type": "chatgptAuthTokens"}},
    {"id": 3, "error": {"code": -32600, "message": "bad"}},
    {"method": "error", "params": {"error": {"message": "usage limit",
                                             "codexErrorInfo": "usageLimitExceeded"},
                                   "willRetry": False, "threadId": "t", "turnId": "u"}},
    {"method": "account/rateLimits/updated", "params": {"rateLimits": {
        "limitId": "codex", "primary": {"usedPercent": 100, "windowDurationMins": 300,
                                        "resetsAt": EXP},
        "secondary": {"usedPercent": 7, "windowDurationMins": 10080, "resetsAt": EXP + 9},
        "credits": {"hasCredits": False, "unlimited": False, "balance": "0"},
        "rateLimitReachedType": None}}},
    {"id": 7, "method": "turn/start", "params": {"threadId": "t", "input": [
        {"type": "text", "text": "h\u00e9llo \"quoted\" \\ \ud83d\ude00"}]}},
    {"id": None, "result": {}},
    {"id": 18446744073709551616, "result": {}},
    {"params": {"a": [1, 2, {"b": "}"}]}, "method": "late/method", "id": -1.5e300},
]


def jsonrpc():
    for i, m in enumerate(RPC):
        text = j(m).encode()
        write("jsonrpc", "msg%02d" % i, bytes([len(text) // 2 % 256]) + text)
    write("jsonrpc", "notjson", b"\x05not json at all")
    write("jsonrpc", "escapes", b'\x10{"\\u006dethod":"a\\"b","id":"x\\u0000"}')


def usage():
    write("usage", "wham", j(_usage_body({}, "plus")))
    write("usage", "wham-limit", j(_usage_body(
        {"primary": {"used_percent": 100, "window_seconds": 18000, "reset_after_seconds": 60},
         "limit_reached": True, "rate_limit_reached_type": "rate_limit_reached",
         "additional_rate_limits": [{"metered_feature": "codex_other", "limit_name": "Other",
                                     "rate_limit": {"primary_window": {
                                         "used_percent": 3, "limit_window_seconds": 604800,
                                         "reset_at": EXP}}}]}, "pro")))
    write("usage", "wham-nulls", j({"plan_type": None, "rate_limit": {"primary_window": None,
                                                                      "secondary_window": None},
                                    "credits": None}))
    for i, m in enumerate(RPC[5:7]):
        write("usage", "notif%d" % i, j(m["params"]))


def oauth():
    ok = {"id_token": ID_TOKEN, "access_token": ACCESS, "refresh_token": "rt-new-0123456789"}
    write("oauth", "tokens", b"\x00" + j(ok).encode())
    write("oauth", "rotate-partial", b"\x00" + j({"access_token": ACCESS}).encode())
    write("oauth", "invalid-grant", b"\x01" + j({"error": "invalid_grant",
                                                 "error_description": "bad"}).encode())
    write("oauth", "reused", b"\x02" + j({"error": {"code": "refresh_token_reused",
                                                    "message": "used"}}).encode())
    write("oauth", "server-error", b"\x05<html>502 Bad Gateway</html>")
    write("oauth", "usercode", b"\x00" + j({"device_auth_id": "dev-1", "user_code": "ABCD-1234",
                                            "interval": "5"}).encode())
    write("oauth", "usercode-num", b"\x00" + j({"device_auth_id": "dev-1", "usercode": "X",
                                                "interval": 1e9}).encode())
    write("oauth", "device-token", b"\x00" + j({"authorization_code": "code-1",
                                                "code_challenge": "c",
                                                "code_verifier": "v"}).encode())


def stored(name, extra=None):
    a = {"id": "0b4fa7bc-1f43-4a6e-9f0e-5a1f6d3c2b1%d" % len(name), "name": name,
         "email": "alice@example.com", "plan_type": "plus", "chatgpt_user_id": "user-A",
         "chatgpt_account_is_fedramp": False, "token_last_refresh_at":
         "2026-01-02T03:04:05.123456Z", "subscription_expires_at": None,
         "auth_mode": "chat_g_p_t", "auth_data": {"type": "chat_g_p_t", "id_token": ID_TOKEN,
                                                  "access_token": ACCESS,
                                                  "refresh_token": "rt-A-0123456789",
                                                  "account_id": "acct-A"},
         "auto_switch_disabled": False, "created_at": "2026-01-01T00:00:00Z",
         "last_used_at": None}
    a.update(extra or {})
    return a


def accounts():
    with open(os.path.join(HERE, "..", "data", "rust-accounts.json"), "rb") as f:
        write("accounts", "rust", f.read())
    key = stored("key", {"auth_mode": "api_key", "auth_data": {"type": "api_key",
                                                               "key": "sk-test-0123456789"}})
    write("accounts", "two", json.dumps({"version": 1, "accounts": [stored("a"), key],
                                         "masked_account_ids": [], "future": {"x": 1}},
                                        indent=2))
    write("accounts", "empty", j({"version": 1, "accounts": []}))
    write("accounts", "relogin", j({"version": 1, "accounts": [stored("b", {
        "needs_relogin": "refresh_token_reused", "unknown_field": [1, 2]})]}))


def authjson():
    write("authjson", "chatgpt", json.dumps({"auth_mode": "chatgpt", "OPENAI_API_KEY": None,
                                             "tokens": {"id_token": ID_TOKEN,
                                                        "access_token": ACCESS,
                                                        "refresh_token": "rt-A-0123456789",
                                                        "account_id": "acct-A"},
                                             "last_refresh": "2026-01-02T03:04:05Z"},
                                            indent=2))
    write("authjson", "apikey", j({"auth_mode": "apikey", "OPENAI_API_KEY": "sk-test-012345"}))
    write("authjson", "legacy", j({"OPENAI_API_KEY": None, "tokens": {
        "id_token": ID_TOKEN, "access_token": ACCESS, "refresh_token": "rt"}}))
    write("authjson", "external", j({"auth_mode": "chatgptAuthTokens"}))


def config():
    write("config", "plain", 'chatgpt_base_url = "https://127.0.0.1:1/backend-api"\n'
          'model = "gpt-5"\n[analytics]\nenabled = false\n')
    write("config", "literal", "# comment\nchatgpt_base_url='https://x/y' # trailing\n")
    write("config", "escapes", 'chatgpt_base_url = "a\\tb\\u00e9\\\\"\n')
    write("config", "json", j({"weekly_weight": 5.0, "min_safe_headroom": 5,
                               "soft_cooldown_s": 900}))


def rec(side, final, data, binary=False, drain=False, repeat=False, split=False, batch=False,
        ping=False):
    flags = side | (2 if final else 0) | (4 if binary else 0) | (8 if drain else 0) | \
        (16 if repeat else 0) | (32 if split else 0) | (64 if batch else 0) | (128 if ping else 0)
    data = data if isinstance(data, bytes) else data.encode()
    return struct.pack("!BH", flags, len(data)) + data


def ws_relay():
    up, down = 1, 0
    msgs = [j(m) for m in RPC]
    write("ws_relay", "session", b"\x00" + b"".join(
        rec(down if "turn" in m or "initialize" in m else up, True, m, drain=True)
        for m in msgs))
    refresh = msgs[2]
    write("ws_relay", "fragments", b"\x00" + rec(down, False, msgs[7][:9]) +
          rec(up, False, refresh[:20]) + rec(down, False, msgs[7][9:30]) +
          rec(up, True, refresh[20:], drain=True) + rec(down, True, msgs[7][30:]) +
          rec(up, True, msgs[5], drain=True))
    write("ws_relay", "binary", b"\x00" + rec(down, False, b"\x00\xff", binary=True) +
          rec(down, True, b"\x01", drain=True) + rec(up, True, b"\xc3\x28 invalid utf-8"))
    write("ws_relay", "big", b"\x00" + rec(up, False, '{"method":"error","params":"') +
          rec(up, False, "x" * 300, repeat=True) + rec(up, True, '"}', drain=True))
    write("ws_relay", "control", b"\x01" + rec(up, True, msgs[3]) + rec(up, True, msgs[6]) +
          rec(up, True, b"\x00", binary=True))
    # 1 MB toward the app-server fills its socket (partial sends); frames split across reads.
    write("ws_relay", "slow-app-server", b"\x00" + rec(down, True, "y" * 1000, repeat=True) +
          rec(up, True, msgs[5], split=True) + rec(down, True, msgs[0], drain=True) +
          rec(up, False, msgs[6][:5], split=True) + rec(up, True, msgs[6][5:], split=True))
    # 1.6 MB in one message: closed with 1009 (max_message is 1.5 MB).
    write("ws_relay", "too-large", b"\x00" + rec(down, False, "x" * 800, repeat=True) +
          rec(down, True, "x" * 800, repeat=True))
    # max_queued 64 KiB and a TUI that does not read: its socket fills, then a 64 KiB read
    # overflows the queue toward it (closed with 1008).
    write("ws_relay", "overflow", b"\x02" +
          b"".join(rec(up, True, "y" * 14, repeat=True) for _ in range(4)) +
          rec(up, True, "z" * 64, repeat=True))
    # Pings from both peers between fragments, several frames per read.
    write("ws_relay", "pings", b"\x00" + rec(down, False, msgs[7][:9], batch=True, ping=True) +
          rec(up, True, msgs[4], batch=True, ping=True) +
          rec(down, True, msgs[7][9:], batch=True, ping=True) +
          rec(up, True, refresh, batch=True, ping=True, split=True) +
          rec(up, True, msgs[5], batch=True, ping=True, drain=True))


def jwt():
    write("jwt", "id_token", ID_TOKEN)
    write("jwt", "fedramp", make_jwt("bob@example.com", "acct-B", "user-B", "hc", EXP))
    write("jwt", "padded", "eyJhbGciOiJub25lIn0.eyJleHAiOjEsImh0dHBzOi8vYXBpLm9wZW5haS5jb20v"
          "YXV0aCI6eyJjaGF0Z3B0X3BsYW5fdHlwZSI6bnVsbH19==.c2ln")
    write("jwt", "two-parts", "a.b")


def main():
    jwt()
    jsonrpc()
    usage()
    oauth()
    accounts()
    authjson()
    config()
    ws_relay()


if __name__ == "__main__":
    main()
