#!/usr/bin/env python3
"""Writes a fake Codex auth.json with unsigned JWTs to stdout (for the CLI tests only).

usage: fake_auth.py chatgpt EMAIL USER_ID ACCOUNT_ID PLAN SECRET_TAG [LAST_REFRESH]
       fake_auth.py apikey KEY
       fake_auth.py mode MODE            (an auth_mode codex-switch must refuse)
"""
import base64
import json
import sys


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt(claims):
    head = b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{head}.{b64url(json.dumps(claims).encode())}.c2lnbmF0dXJl"


def chatgpt(email, user, account, plan, tag, last_refresh=None):
    auth = {"chatgpt_plan_type": plan, "chatgpt_user_id": user, "chatgpt_account_id": account}
    out = {
        "auth_mode": "chatgpt",
        "OPENAI_API_KEY": None,
        "tokens": {
            "id_token": jwt({"email": email, "exp": 4102444800,
                             "https://api.openai.com/auth": auth}),
            "access_token": jwt({"exp": 4102444800, "secret": f"access-{tag}"}),
            "refresh_token": f"rt_refresh_{tag}_secretvalue",
            "account_id": account,
        },
    }
    if last_refresh:
        out["last_refresh"] = last_refresh
    return out


def main(argv):
    if argv[0] == "chatgpt":
        doc = chatgpt(*argv[1:])
    elif argv[0] == "apikey":
        doc = {"auth_mode": "apikey", "OPENAI_API_KEY": argv[1]}
    else:
        doc = {"auth_mode": argv[1], "OPENAI_API_KEY": None}
    print(json.dumps(doc, indent=2))


main(sys.argv[1:])
