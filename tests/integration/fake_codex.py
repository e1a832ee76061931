#!/usr/bin/env python3
"""A stand-in for the `codex` binary in `codex-switch run --codex-bin <this>` tests.

* `fake_codex.py app-server ...` (and any call without `--remote`, e.g. `--version`) execs the
  real codex, path from env CS_REAL_CODEX (default: harness.codex_bin()), with the same args.
* Otherwise it plays the TUI: it takes `--remote ws://...` or `unix://...` (or `--remote=...`) and
  `--remote-auth-token-env VAR` from its argv, reads the capability token from $VAR, connects
  with `Authorization: Bearer <token>` (plus `x-codex-app-server-compression: zstd-stream-v1`,
  as the real TUI does), runs the scenario in the JSON file named by env CS_TUI_SCENARIO, and
  exits with the scenario's exit code.
  A JSON transcript goes to env CS_TUI_TRANSCRIPT (rewritten after every step):
  {"argv", "cwd", "remote", "token_env", "token_present", "started_at" (unix time), "steps":
  [{"op", "ok", "result" | "error"}], "received": [every message from the server],
  "received_at": [when each arrived, unix time], "close_code", "error", "exit_code"}.

Scenario::

    {"exit_code": 0,             # exit code when every step passed
     "fail_exit_code": 99,       # exit code when a step failed (the transcript says which)
     "headers": {...},           # extra upgrade headers (replace the compression header)
     "answer": {"item/commandExecution/requestApproval": {"decision": "accept"}},
                                 # server requests answered automatically with that result;
                                 # others (account/chatgptAuthTokens/refresh: the real TUI never
                                 # answers it) stay unanswered
     "steps": [
       {"op": "initialize"},                               # as the real TUI, then initialized
       {"op": "request", "method": "account/read", "params": {"refreshToken": false},
        "expect_error": false, "timeout": 30},
       {"op": "thread_start", "params": {}},               # remembers the thread id
       {"op": "turn", "text": "ping", "timeout": 60, "expect_status": "completed"},
                                                           # turn/start, waits turn/completed
       {"op": "expect_notification", "method": "error", "contains": "usage limit",
        "timeout": 30, "since": "start"},  # "start" (default) | "step" (since the previous
                                           # step began)
       {"op": "expect_no_message", "method": "account/chatgptAuthTokens/refresh",
        "seconds": 2},
       {"op": "send_raw", "text": "not json"},    # or "hex": "c328" (any bytes); a
                                                  # "text" with "fragments": n goes as n frames
       {"op": "sleep", "seconds": 1},
       {"op": "parent_libraries"},    # the shared objects mapped in `run`'s process
       {"op": "wait_close", "timeout": 10},                # server/proxy closes the socket
       {"op": "exit", "code": 3}]}

"contains" is matched case-insensitively against the JSON text of the params.
"""

import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def exec_real(argv):
    real = os.environ.get("CS_REAL_CODEX")
    if not real:
        sys.path.insert(0, HERE)
        import harness
        real = harness.codex_bin()
    os.execv(real, [real] + argv)


def arg_value(argv, name):
    for i, a in enumerate(argv):
        if a == name and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith(name + "="):
            return a[len(name) + 1:]
    return None


class Tui:
    def __init__(self, argv, scenario, transcript_path):
        self.argv = argv
        self.scenario = scenario
        self.path = transcript_path
        self.rpc = None
        self.thread_id = None
        self.step_mark = 0
        self.t = {"argv": ["codex"] + argv, "cwd": os.getcwd(),
                  "remote": arg_value(argv, "--remote"),
                  "token_env": arg_value(argv, "--remote-auth-token-env"),
                  "token_present": False, "started_at": time.time(),
                  "steps": [], "received": [], "received_at": [],
                  "close_code": None,
                  "error": None, "exit_code": None}

    def save(self):
        if self.rpc is not None:
            with self.rpc.cond:
                self.t["received"] = list(self.rpc.messages)
                self.t["received_at"] = list(self.rpc.arrived)
            self.t["close_code"] = self.rpc.ws.close_code
        if not self.path:
            return
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.t, f, indent=1)
        os.replace(tmp, self.path)

    def connect(self):
        import harness as h
        token = os.environ.get(self.t["token_env"] or "", "")
        self.t["token_present"] = bool(token)
        if not self.t["remote"]:
            raise RuntimeError("no --remote in argv")
        headers = self.scenario.get("headers",
                                    {"x-codex-app-server-compression": "zstd-stream-v1"})
        headers = dict(headers)
        if not self.t["remote"].startswith("unix://"):  # codex sends no token there
            headers["Authorization"] = "Bearer " + token
        handlers = {m: (lambda r: (lambda params: r))(res)
                    for m, res in (self.scenario.get("answer") or {}).items()}
        self.rpc = h.RpcClient(h.WsClient.connect(self.t["remote"], headers, 15), handlers)

    def run(self):
        try:
            self.connect()
        except Exception as e:  # noqa: BLE001 - everything goes into the transcript
            self.t["error"] = "connect: %s" % e
            return self.finish(int(self.scenario.get("fail_exit_code", 99)))
        for step in self.scenario.get("steps", []):
            op = step.get("op")
            if op == "exit":
                self.t["steps"].append({"op": op, "ok": True})
                return self.finish(int(step.get("code", 0)))
            mark = self.rpc.mark()
            entry = {"op": op, "ok": False}
            self.t["steps"].append(entry)
            try:
                entry["result"] = getattr(self, "op_" + op.replace("-", "_"))(step)
                entry["ok"] = True
            except Exception as e:  # noqa: BLE001
                entry["error"] = "%s: %s" % (type(e).__name__, e)
                self.t["error"] = "step %d (%s) failed: %s" % (len(self.t["steps"]), op, e)
                return self.finish(int(self.scenario.get("fail_exit_code", 99)))
            self.step_mark = mark
            self.save()
        return self.finish(int(self.scenario.get("exit_code", 0)))

    def finish(self, code):
        self.t["exit_code"] = code
        self.save()
        if self.rpc is not None:
            self.rpc.close()
            self.save()
        return code

    # ----- steps -----

    def op_initialize(self, step):
        import harness as h
        params = {"clientInfo": {"name": "codex-tui", "title": None, "version": h.CODEX_VERSION},
                  "capabilities": {"requiredHumanApproval": True, "experimentalApi": True,
                                   "requestAttestation": False,
                                   "optOutNotificationMethods": None}}
        rid = self.rpc.send_request("initialize", params, id="initialize")
        res = self.rpc.wait_response(rid, float(step.get("timeout", 30)))
        self.rpc.notify("initialized")
        return res

    def op_request(self, step):
        import harness as h
        try:
            res = self.rpc.request(step["method"], step.get("params"),
                                   float(step.get("timeout", 30)))
        except h.RpcError as e:
            if step.get("expect_error"):
                return {"error": e.error}
            raise
        if step.get("expect_error"):
            raise RuntimeError("expected an error, got %r" % (res,))
        return res

    def op_thread_start(self, step):
        res = self.rpc.request("thread/start", step.get("params") or {},
                               float(step.get("timeout", 30)))
        self.thread_id = res["thread"]["id"]
        return {"threadId": self.thread_id}

    def op_turn(self, step):
        thread = step.get("thread_id") or self.thread_id
        done, _ = self.rpc.run_turn(thread, step.get("text", "ping"),
                                    float(step.get("timeout", 60)))
        status = done["turn"].get("status")
        want = step.get("expect_status")
        if want and status != want:
            raise RuntimeError("turn ended %r, expected %r" % (status, want))
        return {"status": status, "turnId": done["turn"]["id"]}

    def _matcher(self, step):
        needle = (step.get("contains") or "").lower()
        return lambda p: needle in json.dumps(p, ensure_ascii=False).lower()

    def op_expect_notification(self, step):
        start = self.step_mark if step.get("since") == "step" else 0
        m = self.rpc.wait_notification(step["method"], self._matcher(step),
                                       float(step.get("timeout", 30)), start)
        return m.get("params")

    def op_expect_no_message(self, step):
        match = self._matcher(step)
        start = self.step_mark if step.get("since") == "step" else 0
        time.sleep(float(step.get("seconds", 1)))
        with self.rpc.cond:
            msgs = list(self.rpc.messages[start:])
        for m in msgs:
            if m.get("method") == step["method"] and match(m.get("params")):
                raise RuntimeError("unexpected %s: %s" % (step["method"], json.dumps(m)[:300]))
        return None

    def op_send_raw(self, step):
        # "hex": bytes that need not be UTF-8 (invalid text frames)
        if step.get("fragments"):
            self.rpc.ws.send_fragmented(step["text"], int(step["fragments"]))
        else:
            self.rpc.ws.send_text(bytes.fromhex(step["hex"]) if "hex" in step
                                  else step["text"])

    def op_parent_libraries(self, step):
        """The shared objects mapped into the parent, `run`'s relay process, by file name."""
        names = set()
        with open("/proc/%d/maps" % os.getppid()) as f:
            for line in f:
                path = line.split()[-1]
                if ".so" in path:
                    names.add(os.path.basename(path))
        return sorted(names)

    def op_sleep(self, step):
        time.sleep(float(step.get("seconds", 1)))

    def op_wait_close(self, step):
        deadline = time.monotonic() + float(step.get("timeout", 10))
        while self.rpc.closed_error is None:
            if time.monotonic() >= deadline:
                raise TimeoutError("connection still open")
            time.sleep(0.05)
        return {"close_code": self.rpc.ws.close_code}


def main(argv):
    if not argv or argv[0] == "app-server" or arg_value(argv, "--remote") is None:
        exec_real(argv)
    sys.path.insert(0, HERE)
    scenario_path = os.environ.get("CS_TUI_SCENARIO")
    scenario = {"steps": [{"op": "initialize"}]}
    if scenario_path:
        with open(scenario_path) as f:
            scenario = json.load(f)
    return Tui(argv, scenario, os.environ.get("CS_TUI_TRANSCRIPT")).run()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
