"""Drives the real codex TUI through `codex-switch run` inside tmux, reading the screen as a
user would (python3 standard library plus the tmux binary).

    import harness as h, tui
    mb = h.start_mock(); home = h.TestHome(mb)
    a = h.make_account(mb, "alice@example.com", "acct-A", name="alice")
    h.write_accounts(home.switch_home, [a]); h.write_auth_json(home.codex_home, a)
    mb.set_account("default", text="{account} answers: {prompt}")
    with tui.Tui(home) as t:                 # tmux session 120x40, `codex-switch run`
        t.start()                            # waits for the composer, dismisses start-up modals
        t.submit("hello")                    # type("hello") + enter()
        screen = t.wait_for("acct-A answers: hello")  # str: substring; re.compile(..): regex
        t.command("/status"); t.wait_for("alice@example.com")
        status = t.quit()                    # Ctrl-C until the TUI leaves; run's exit status
    # leaving the with-block kills the tmux server and whatever of this home still runs

Tui(home, args=(), cols=120, rows=40, codex_bin=None, env=None, switch_bin=None, shell=False,
    auto_dismiss=True, name="tui")
  start(timeout=60, dismiss=True)   wait_ready(timeout=60)   close()
  screen(history=False, ansi=False) -> str   count(text, history=True) -> int
  wait_for(pattern, timeout=30, history=False, flat=False) -> screen
  wait_gone(pattern, timeout=30)
  wait_any([patterns], timeout=30) -> (index, screen)   wait_stable(quiet=0.5, timeout=10)
  type(text)   key(*tmux_key_names)   enter()   submit(text)   command("/status")
  modal() -> name|None   dismiss_modals() -> n   dismissed: [(name, screen)]
  dismiss_until(pattern, timeout=60, stable=False) -> screen
  warnings() -> [(source, text)] from the F2 view
  quit(timeout=30, how="ctrl-c"|"/quit") -> status   wait_exit(timeout=30) -> status
  exited()   exit_status()   stty() (shell=True; stty_before)   stty_flags(text) -> set
  processes() -> [(pid, argv)]   run_pid()   signal(sig)   leftovers() -> [pid]   killed
trust_workdir(home): no trust prompt. flat(text): white space runs made one space. USAGE_LIMIT_CELL, INTERRUPTED_CELL, HEADS_UP,
WARNING_COUNT, READY, MODALS: screen texts of the 0.169 TUI.

Each Tui gets its own tmux server (socket under home.root), so tests never see one another's
sessions or the user's. Every wait has a timeout; a timeout raises TuiTimeout whose message
holds the screen (and <home.root>/<name>-screens.log collects the screens of timeouts and
dismissed modals). Environment: CS_TUI_CODEX_BIN overrides the codex given to `run` (default:
the npm entry point of the codex the suite runs, CS_CODEX_VERSION), CS_TUI_KEEP=1 keeps the
tmux server of a with-block that raised (e.g. a TuiTimeout) alive for a look (`tmux -S <sock> attach`).
"""

import os
import re
import shlex
import signal
import shutil
import subprocess
import time

import harness as h

DEFAULT_COLS = 120
DEFAULT_ROWS = 40
# The npm entry point of the codex the suite runs (CS_CODEX_VERSION, else the pinned one).
CODEX_TUI = os.path.join(h.SOURCE_ROOT, ".deps", "codex" if h.CODEX_VERSION == h.CODEX_PINNED
                         else "codex-" + h.CODEX_VERSION, "node_modules", ".bin", "codex")

# The footer of an idle composer once the session is set up (0.169: "← for agents · ? for
# shortcuts" under the model line); the loading screen shows a bare "? for shortcuts". The
# 0.117-0.15x TUIs have no such footer once the model is known: their status line reads
# "gpt-5.4 default · 100% left · /work/dir" (0.117) or "gpt-5.5 default · /work/dir" (0.143).
READY = re.compile(r"· \? for shortcuts|^  [\w.-]+ \w+ · (?:\d+% left · )?/", re.M)
# Modals the TUI puts up by itself: (name, what identifies it, the keys that dismiss it
# without changing anything). 0.169 shows "Folder access / Trust this folder? ... › 1. Trust
# and continue" at start (older: "Do you trust the files in this folder?"), older TUIs an
# "Introducing <model>" notice, and after an answer with the 5-hour window at 90 % or more
# "Approaching rate limits / Switch to gpt-6-luna for lower credit usage?" (2 = keep model).
MODALS = [
    ("trust", re.compile(r"Trust this folder\?|Do you trust the files in this folder\?"),
     ["Enter"]),
    ("introducing", re.compile(r"^\s*Introducing \S", re.M), ["Escape"]),
    ("model-switch", re.compile(r"Approaching rate limits.{0,400}Keep current model", re.S),
     ["2"]),
]
PROMPT = "tui$ "

# Texts of the 0.169 TUI that tests look for (observed under tmux, 120x40).
USAGE_LIMIT_CELL = re.compile(r"■ You.ve hit your usage limit\.")  # U+2019 apostrophe
INTERRUPTED_CELL = "■ Conversation interrupted"
HEADS_UP = re.compile(r"⚠ Heads up, you have less than \d+% of your \S+ limit left")
WARNING_COUNT = re.compile(r"⚠ (\d+) warnings? · f2 to view")

__all__ = ["Tui", "TuiTimeout", "tui_codex_bin", "tui_codex_version", "notice_mark", "tmux_bin", "CODEX_TUI", "DEFAULT_COLS",
           "DEFAULT_ROWS", "MODALS", "READY", "USAGE_LIMIT_CELL", "INTERRUPTED_CELL", "HEADS_UP",
           "WARNING_COUNT", "trust_workdir", "flat"]


class TuiTimeout(AssertionError):
    """A wait on the screen timed out; the message holds what the screen showed."""

    def __init__(self, what, timeout, screen):
        super().__init__("timed out after %.1fs waiting for %s; the screen:\n%s\n%s\n%s"
                         % (timeout, what, "-" * 40, screen, "-" * 40))
        self.screen = screen


def trust_workdir(home):
    """Marks home.work trusted in config.toml, so the TUI skips its trust prompt."""
    with open(os.path.join(home.codex_home, "config.toml"), "a") as f:
        f.write('\n[projects."%s"]\ntrust_level = "trusted"\n' % home.work)


def tmux_bin():
    path = shutil.which("tmux")
    if not path:
        h.fail("tmux not found: run scripts/install-deps.sh --test")
    return path


def tui_codex_bin():
    """The codex TUI `run` starts: CS_TUI_CODEX_BIN, else CODEX_TUI."""
    path = os.environ.get("CS_TUI_CODEX_BIN") or CODEX_TUI
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        h.fail("codex %s not found at %s: run scripts/install-deps.sh --test (or set "
               "CS_TUI_CODEX_BIN)" % (h.CODEX_VERSION, path))
    return path


_versions = {}


def tui_codex_version():
    """The version of the codex TUI `run` starts, as a tuple, e.g. (0, 117, 0)."""
    path = tui_codex_bin()
    if path not in _versions:
        out = subprocess.run([path, "--version"], capture_output=True, timeout=30).stdout
        m = re.search(rb"(\d+)\.(\d+)\.(\d+)", out)
        if not m:
            h.fail("cannot read the version of %s (%r)" % (path, out[-200:]))
        _versions[path] = tuple(int(x) for x in m.groups())
    return _versions[path]


def notice_mark():
    """How the TUI marks codex-switch's notice: 0.152 and later render
    `modelProvider/authRecoveryCompleted` with a check mark; the older notices (`warning`,
    `deprecationNotice`) with a warning sign."""
    return "✓" if tui_codex_version() >= (0, 152, 0) else "⚠"


def _describe(pattern):
    return "/%s/" % pattern.pattern if isinstance(pattern, re.Pattern) else repr(pattern)


def _found(pattern, text):
    if isinstance(pattern, re.Pattern):
        return pattern.search(text) is not None
    return pattern in text


def flat(text):
    """text with every run of white space (line ends included) made one space: the TUI wraps
    long cells at word boundaries itself, so a sentence may span lines on screen."""
    return " ".join(text.split())


_flat = flat  # wait_for's flat= argument shadows the name


class Tui:
    """One `codex-switch run [args]` in a detached tmux session of cols x rows.

    home: a harness.TestHome (its env() is the session's environment); args: what follows
    `run` (e.g. ["resume", id]); codex_bin: passed as --codex-bin (None: tui_codex_bin());
    env: extra environment; switch_bin: the codex-switch binary (CODEX_SWITCH_BIN);
    shell: run the command from an interactive bash in the pane (job control as a user has
    it; after run exits the shell stays, so stty() can read the terminal modes);
    auto_dismiss: submit() and command() first dismiss known modals (recorded in
    self.dismissed as (name, screen)); name: the tmux session and file prefix."""

    def __init__(self, home, args=(), cols=DEFAULT_COLS, rows=DEFAULT_ROWS, codex_bin=None,
                 env=None, switch_bin=None, shell=False, auto_dismiss=True, name="tui"):
        self.home = home
        self.args = list(args)
        self.cols = cols
        self.rows = rows
        self.codex_bin = codex_bin or tui_codex_bin()
        self.switch_bin = switch_bin or os.environ.get("CODEX_SWITCH_BIN")
        if not self.switch_bin:
            h.fail("CODEX_SWITCH_BIN is not set")
        self.extra_env = dict(env or {})
        self.name = name
        self.socket = os.path.join(home.root, "%s.tmux" % name)
        self.server_pid = None
        self.pane_pid = None
        self.started_at = None
        self.log_path = os.path.join(home.root, "%s-screens.log" % name)
        self.status_path = os.path.join(home.root, "%s.status" % name)
        self.shell = shell
        self.auto_dismiss = auto_dismiss
        self.dismissed = []
        self.killed = []
        self.stty_before = None

    # ----- tmux plumbing -----

    def tmux(self, *args, check=True, timeout=10):
        """Runs `tmux -S <socket> args...`; returns its stdout (str)."""
        p = subprocess.run([tmux_bin(), "-S", self.socket] + list(args), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=timeout, env=self._env())
        if check and p.returncode != 0:
            raise RuntimeError("tmux %s failed (%d): %s" % (" ".join(args), p.returncode,
                                                           p.stderr.decode(errors="replace")))
        return p.stdout.decode(errors="replace")

    def _env(self):
        env = self.home.env(**self.extra_env)
        env.pop("TMUX", None)
        env.pop("TMUX_PANE", None)
        env["TERM"] = "xterm-256color"
        env["PS1"] = PROMPT
        return env

    def _write_conf(self):
        conf = os.path.join(self.home.root, "%s.tmux.conf" % self.name)
        with open(conf, "w") as f:
            # remain-on-exit keeps the pane (its last screen and exit status) after run ends.
            f.write("set -g remain-on-exit on\nset -g history-limit 20000\n"
                    "set -g default-terminal tmux-256color\nset -g status off\n"
                    "set -sg escape-time 0\nset -g exit-empty off\n")
        return conf

    # ----- lifecycle -----

    def argv(self):
        return [self.switch_bin, "run", "--codex-bin", self.codex_bin] + self.args

    def start(self, timeout=60.0, dismiss=True):
        """Starts `codex-switch run`; with dismiss, waits until the composer is ready,
        dismissing the trust prompt and start-up modals on the way. Returns self."""
        conf = self._write_conf()
        self.started_at = time.monotonic()
        for path in (self.status_path, self._path("stty")):
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
        size = ["-x", str(self.cols), "-y", str(self.rows), "-c", self.home.work]
        if self.shell:
            self.tmux("-f", conf, "new-session", "-d", "-s", self.name, *size, "--",
                      "bash", "--norc", "--noprofile", "-i")
        else:
            # A shell between tmux and run records run's exit status in a file: tmux 3.3 now
            # and then leaves an exited pane process unreaped and then reports no status.
            wrapper = ["/bin/sh", "-c", '"$@"; echo $? > %s' % shlex.quote(self.status_path),
                       "tui-run"]
            self.tmux("-f", conf, "new-session", "-d", "-s", self.name, *size, "--",
                      *(wrapper + self.argv()))
        self.server_pid, self.pane_pid = [int(x) for x in self.tmux(
            "display-message", "-p", "-t", self.name, "#{pid} #{pane_pid}").split()]
        if self.shell:
            self.stty_before = self._shell_stty("stty-before", timeout)
            line = " ".join(shlex.quote(a) for a in self.argv())
            self.type("%s; echo $? > %s" % (line, shlex.quote(self.status_path)))
            self.enter()
        if dismiss:
            self.wait_ready(timeout)
        return self

    def _path(self, what):
        return os.path.join(self.home.root, "%s.%s" % (self.name, what))

    def _shell_stty(self, what, timeout=20.0):
        """Shell mode: `stty -a` of the pane's terminal, typed at the shell (which reads it
        once run has exited; the prompt itself may land amid what a killed TUI left)."""
        path = self._path(what)
        self.key("C-u")
        self.type("stty -a > %s.tmp && mv %s.tmp %s" % ((shlex.quote(path),) * 3))
        self.enter()
        try:
            h.wait_until(lambda: os.path.exists(path), timeout, "stty output")
        except TimeoutError:
            raise TuiTimeout("`stty -a` at the shell", timeout, self.screen(history=True))
        with open(path) as f:
            return f.read()

    def stty(self, timeout=20.0):
        """Shell mode, after run exited: the terminal modes now (compare stty_before)."""
        if not self.shell:
            raise ValueError("stty() needs Tui(shell=True)")
        self.wait_exit(timeout)
        return self._shell_stty("stty", timeout)

    def close(self, keep=False):
        """Kills the tmux server (and with it the pane's process group); idempotent. keep
        (the with-block raised and CS_TUI_KEEP is set): leaves it running for a look."""
        if keep and os.environ.get("CS_TUI_KEEP") and self.server_pid is not None:
            print("tui: keeping the tmux server: tmux -S %s attach" % self.socket)
            return
        if os.path.exists(self.socket):
            try:
                self.tmux("kill-server", check=False)
            except (OSError, subprocess.TimeoutExpired):
                pass
        if self.server_pid:
            try:
                h.wait_until(lambda: not _alive(self.server_pid), 5, "tmux server to exit")
            except TimeoutError:
                os.kill(self.server_pid, 9)
        try:
            os.unlink(self.socket)
        except OSError:
            pass
        # A test that failed midway must not leave an app-server to the next one: what
        # still runs 10 s after the hangup is killed and listed in self.killed.
        try:
            h.wait_until(lambda: not self.leftovers(), 10, "children to exit")
        except TimeoutError:
            for pid in self.leftovers():
                try:
                    os.kill(pid, 9)
                    self.killed.append(pid)
                except ProcessLookupError:
                    pass

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close(keep=exc_type is not None)

    # ----- reading -----

    def screen(self, history=False, ansi=False):
        """The visible screen (history: with the scrollback) as text, wrapped lines joined,
        trailing spaces and trailing empty lines removed."""
        args = ["capture-pane", "-p", "-J", "-t", self.name]
        if history:
            args += ["-S", "-"]
        if ansi:
            args.append("-e")
        text = self.tmux(*args)
        return "\n".join(line.rstrip() for line in text.split("\n")).rstrip("\n")

    def _log_screen(self, label, text):
        with open(self.log_path, "a") as f:
            f.write("==== %.1fs %s\n%s\n" % (self.elapsed(), label, text))

    def elapsed(self):
        return time.monotonic() - self.started_at if self.started_at else 0.0

    def exit_status(self):
        """codex-switch run's exit status (128+N after signal N), None while it runs."""
        try:
            with open(self.status_path) as f:
                text = f.read()
            if text.endswith("\n"):
                return int(text)
        except FileNotFoundError:
            pass
        # The wrapper shell itself died (e.g. a stray Ctrl-C): ask tmux.
        out = self.tmux("list-panes", "-t", self.name, "-F",
                        "#{pane_dead}|#{pane_dead_status}|#{pane_dead_signal}",
                        check=False).strip().split("|")
        if len(out) < 3 or out[0] != "1":
            return None
        if out[1].isdigit():
            return int(out[1])
        return 128 + int(out[2]) if out[2].isdigit() else -1

    def exited(self):
        return self.exit_status() is not None

    def wait_for(self, pattern, timeout=30.0, history=False, flat=False):
        """Waits until the screen shows pattern (str: a substring; re.Pattern: a search);
        returns the screen. flat: match against flat(screen) (a str pattern is flattened
        too), for sentences the TUI may wrap. Raises TuiTimeout with the screen, or at once
        when run exited."""
        if flat:
            want = _flat(pattern) if isinstance(pattern, str) else pattern
            pred = lambda s: _found(want, _flat(s))  # noqa: E731
        else:
            pred = lambda s: _found(pattern, s)  # noqa: E731
        return self._wait(pred, "%s on screen" % _describe(pattern), timeout, history)

    def wait_gone(self, pattern, timeout=30.0):
        """Waits until the screen no longer shows pattern; returns the screen."""
        return self._wait(lambda s: not _found(pattern, s),
                          "%s to leave the screen" % _describe(pattern), timeout, False,
                          allow_dead=True)

    def wait_any(self, patterns, timeout=30.0):
        """Waits for the first of several patterns; returns (index, screen)."""
        hit = []

        def pred(s):
            for i, p in enumerate(patterns):
                if _found(p, s):
                    hit.append(i)
                    return True
            return False
        screen = self._wait(pred, "any of %s" % ", ".join(_describe(p) for p in patterns),
                            timeout, False)
        return hit[0], screen

    def _wait(self, pred, what, timeout, history, allow_dead=False):
        deadline = time.monotonic() + timeout
        while True:
            s = self.screen(history=history)
            if pred(s):
                return s
            dead = self.exited()
            if dead and not allow_dead:
                s = self.screen(history=True)
                self._log_screen("exited while waiting for " + what, s)
                raise TuiTimeout(what + " (codex-switch run exited with %s)"
                                 % self.exit_status(), 0, s)
            if time.monotonic() >= deadline:
                s = self.screen(history=True)
                self._log_screen("timeout waiting for " + what, s)
                raise TuiTimeout(what, timeout, s)
            time.sleep(0.1)

    def wait_stable(self, quiet=0.5, timeout=10.0):
        """Waits until the screen has not changed for `quiet` seconds; returns it."""
        deadline = time.monotonic() + timeout
        last, since = None, time.monotonic()
        while True:
            s = self.screen()
            now = time.monotonic()
            if s != last:
                last, since = s, now
            elif now - since >= quiet:
                return s
            if now >= deadline:
                return s
            time.sleep(0.1)

    # ----- typing -----

    def type(self, text):
        """Types text literally (no key names)."""
        self.tmux("send-keys", "-t", self.name, "-l", "--", text)

    def key(self, *names):
        """Presses tmux keys by name: "Enter", "Escape", "C-c", "Up", "F2", "BTab"..."""
        self.tmux("send-keys", "-t", self.name, *names)

    def enter(self):
        self.key("Enter")

    def submit(self, text, settle=0.3):
        """Types a prompt and presses Enter once the composer shows it (with auto_dismiss,
        known modals are dismissed first)."""
        if self.auto_dismiss:
            self.wait_ready(30)
        self.type(text)
        self.wait_for(text[-16:], timeout=10)
        time.sleep(settle)
        self.enter()

    def command(self, slash, settle=0.4):
        """Runs a slash command such as "/status": types it, lets the popup settle, Enter."""
        if self.auto_dismiss:
            self.wait_ready(30)
        self.type(slash)
        self.wait_for(slash, timeout=10)
        time.sleep(settle)
        self.enter()

    # ----- modals -----

    def modal(self, screen=None):
        """The name of the known modal on screen, or None."""
        s = self.screen() if screen is None else screen
        return next((name for name, pattern, _ in MODALS if pattern.search(s)), None)

    def dismiss_modals(self, screen=None):
        """Dismisses every known modal now on screen; returns how many were dismissed."""
        s = self.screen() if screen is None else screen
        sent = 0
        for name, pattern, keys in MODALS:
            if pattern.search(s):
                self._log_screen("dismissing %s" % name, s)
                self.dismissed.append((name, s))
                self.key(*keys)
                sent += 1
                time.sleep(0.3)
        return sent

    def wait_ready(self, timeout=60.0):
        """Until the composer takes input, dismissing modals meanwhile; returns the screen."""
        return self.dismiss_until(READY, timeout, what="the composer", stable=True)

    def dismiss_until(self, pattern, timeout=60.0, what=None, stable=False):
        """Waits for pattern, dismissing known modals meanwhile (e.g. the trust prompt before
        the `resume` picker); stable: and until the screen has settled. Returns the screen."""
        what = what or _describe(pattern)
        deadline = time.monotonic() + timeout
        while True:
            s = self.screen()
            if self.dismiss_modals(s):
                continue
            if _found(pattern, s) and not self.modal(s):
                if not stable:
                    return s
                s = self.wait_stable(0.5, 5)
                if _found(pattern, s) and not self.modal(s):
                    return s
                continue
            if self.exited():
                s = self.screen(history=True)
                raise TuiTimeout("%s (codex-switch run exited with %s)"
                                 % (what, self.exit_status()), 0, s)
            if time.monotonic() >= deadline:
                s = self.screen(history=True)
                self._log_screen("timeout waiting for " + what, s)
                raise TuiTimeout(what, timeout, s)
            time.sleep(0.2)

    # ----- leaving -----

    def quit(self, timeout=30.0, how="ctrl-c"):
        """Leaves the TUI and waits until codex-switch run has exited; returns its exit
        status. how="ctrl-c": Ctrl-C until the TUI has gone (the first clears the composer
        or interrupts a turn, the next quits); how="/quit": the slash command."""
        if how == "/quit":
            self.command("/quit")
        else:
            for _ in range(4):
                self.key("C-c")
                if self._left(2.0):
                    break
        return self.wait_exit(timeout)

    def _left(self, wait):
        """True once the TUI has left (run exited, or neither composer nor modal shows)."""
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if self.exited():
                return True
            s = self.screen()
            if not READY.search(s) and not self.modal(s):
                return True
            time.sleep(0.1)
        return False

    def wait_exit(self, timeout=30.0):
        deadline = time.monotonic() + timeout
        while not self.exited():
            if time.monotonic() >= deadline:
                s = self.screen(history=True)
                raise TuiTimeout("codex-switch run to exit", timeout, s)
            time.sleep(0.1)
        return self.exit_status()

    def processes(self):
        """[(pid, argv)] of live processes started for this test home (tmux left out)."""
        out = []
        for pid in self.leftovers():
            try:
                with open("/proc/%d/cmdline" % pid, "rb") as f:
                    out.append((pid, [a.decode(errors="replace")
                                      for a in f.read().split(b"\0") if a]))
            except OSError:
                pass
        return out

    def run_pid(self):
        """The pid of `codex-switch run`, or None once it has exited."""
        for pid, argv in self.processes():
            if argv[:2] == [self.switch_bin, "run"]:
                return pid
        return None

    def signal(self, sig=signal.SIGTERM):
        """Sends sig to `codex-switch run` (not to the TUI)."""
        pid = self.run_pid()
        if pid is None:
            raise RuntimeError("codex-switch run is not running")
        os.kill(pid, sig)

    def warnings(self, timeout=10.0):
        """Opens the F2 warnings view and reads every entry: [(source, text)] in the TUI's
        order (0.169: "Startup" bubblewrap, "MCP · codex_apps", then server `warning`s as
        "Warning"). Closes the view with Escape, which dismisses the entry shown last. With
        auto_dismiss, known modals are dismissed first (F2 does nothing under a popup)."""
        head = re.compile(r"^\s*Warnings · (\d+) of (\d+)(?: · (.*))?$", re.M)
        if self.auto_dismiss:
            self.wait_ready(timeout)
        deadline = time.monotonic() + timeout
        while True:
            # A key pressed while the TUI redraws can get lost: press again.
            self.key("F2")
            try:
                s = self.wait_for(head, 2)
                break
            except TuiTimeout:
                if time.monotonic() >= deadline:
                    raise
        total = int(head.search(s).group(2))
        out = []
        for i in range(1, total + 1):
            want = re.compile(r"^\s*Warnings · %d of %d" % (i, total), re.M)
            s = self.wait_for(want, timeout)
            lines = s.split("\n")
            at = next(n for n, line in enumerate(lines) if want.search(line))
            m = head.search(lines[at])
            body = []
            for line in lines[at + 1:]:
                if "esc dismiss" in line:
                    break
                body.append(line.strip())
            out.append((m.group(3) or "", " ".join(x for x in body if x)))
            if i < total:
                self.key("Right")
        self.key("Escape")
        self.wait_gone(head, timeout)
        return out

    def stty_flags(self, text):
        """The mode flags of `stty -a` output as a set, e.g. {"icanon", "-echo", ...}."""
        flags = set()
        for line in text.split("\n"):
            if "=" in line or line.startswith("speed"):
                continue
            flags.update(line.split())
        return flags

    def count(self, text, history=True):
        """How often text shows on the screen (history: with the scrollback)."""
        return self.screen(history=history).count(text)

    def leftovers(self):
        """Live processes started for this test home (its paths in their command line or
        environment), other than tmux and the pane's own shell."""
        return [pid for pid in _pids_mentioning(self.home.root.encode())
                if pid not in (self.server_pid, self.pane_pid) and not _is_tmux(pid)]


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie counts as gone.
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return False


def _is_tmux(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip().startswith("tmux")
    except OSError:
        return False


def _pids_mentioning(needle):
    pids = []
    me = os.getpid()
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == me:
            continue
        for part in ("cmdline", "environ"):
            try:
                with open("/proc/%s/%s" % (d, part), "rb") as f:
                    if needle in f.read():
                        if _alive(int(d)):
                            pids.append(int(d))
                        break
            except OSError:
                pass
    return pids
