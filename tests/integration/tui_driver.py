"""Drives the real howdy-client terminal UI inside tmux, for the TUI tests.

Each TuiClient runs its own tmux server (a socket in a fresh temporary
directory, no user configuration), with one window whose only pane runs a
shell that runs the client and writes down its exit status. What the tests read is
what a person would see: the pane's rows from `tmux capture-pane`. Waits poll
the screen with a deadline (a terminal has no event to await); nothing sleeps
blindly. The client is stopped by its own PID, then our tmux server is ended.
"""

import os
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import time

from harness import DEFAULT_TIMEOUT, HOST, client_path


def tmux_available():
    return shutil.which('tmux') is not None


def pty_available():
    """Whether this machine can open a pseudo-terminal (a bare chroot may have no devpts)."""
    try:
        master, slave = os.openpty()
    except OSError:
        return False
    os.close(master)
    os.close(slave)
    return True


def requires_tmux(func_or_class):
    import unittest
    if not tmux_available():
        return unittest.skip('tmux not found (scripts/install-deps installs it)')(func_or_class)
    return unittest.skipUnless(pty_available(), 'no pseudo-terminals (mount devpts on /dev/pts; .ci/run does)')(
        func_or_class)


class TuiClient:
    """howdy-client on a tmux pane of `cols` x `rows`."""

    def __init__(self, port, args=(), cols=100, rows=30, exe=None):
        self.dir = tempfile.mkdtemp(prefix='howdy-tui-')
        self.sock = os.path.join(self.dir, 'tmux.sock')
        conf = os.path.join(self.dir, 'tmux.conf')
        with open(conf, 'w') as f:
            # Keep the pane (and its last screen) after the client exits; no status bar of tmux's own.
            f.write('set -g remain-on-exit on\nset -g status off\nset -g history-limit 0\n'
                    'set -g default-terminal tmux-256color\n')
        argv = [exe or client_path(), '--host', HOST, '--port', str(port)] + list(args)
        self.argv = argv
        # A shell waits for the client and writes its exit status to a file: tmux can
        # show a pane dead (its terminal closed) without ever showing the status.
        self.status_file = os.path.join(self.dir, 'status')
        command = ('exec sh -c %s sh ' % shlex.quote('"$@"; echo $? > %s' % shlex.quote(self.status_file)) +
                   'env LANG=C.UTF-8 LC_ALL=C.UTF-8 ' + ' '.join(shlex.quote(a) for a in argv))
        self._tmux('-f', conf, 'new-session', '-d', '-s', 'tui', '-x', str(cols), '-y', str(rows), command)
        shell = int(self._tmux('display-message', '-p', '-t', 'tui', '#{pane_pid}').strip())
        self.pid = self._child_of(shell)
        self.closed = False

    @staticmethod
    def _child_of(pid, timeout=DEFAULT_TIMEOUT):
        """The client's PID: the shell's only child (env execs the client)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with open('/proc/%d/task/%d/children' % (pid, pid)) as f:
                    children = f.read().split()
            except OSError:
                children = []
            if children:
                return int(children[0])
            time.sleep(0.01)
        raise RuntimeError('howdy-client did not start under tmux')

    def _tmux(self, *args, check=True):
        r = subprocess.run(['tmux', '-S', self.sock] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=10)
        if check and r.returncode != 0:
            raise RuntimeError('tmux %r failed: %s' % (args, r.stderr.decode('utf-8', 'replace')))
        return r.stdout.decode('utf-8', 'replace')

    # -- what is on the screen ---------------------------------------------
    def rows(self):
        """The pane's rows as shown now (trailing spaces dropped)."""
        text = self._tmux('capture-pane', '-p', '-t', 'tui')
        return [r.rstrip() for r in text.split('\n')[:-1]]

    def screen(self):
        return '\n'.join(self.rows())

    def size(self):
        w, h = self._tmux('display-message', '-p', '-t', 'tui', '#{pane_width} #{pane_height}').split()
        return int(w), int(h)

    def wait_screen(self, pred, timeout=DEFAULT_TIMEOUT, what='screen'):
        """Polls the screen until pred(rows) is true; returns the rows. On timeout raises
        AssertionError with the last screen."""
        deadline = time.monotonic() + timeout
        rows = []
        while True:
            rows = self.rows()
            if pred(rows):
                return rows
            if time.monotonic() >= deadline:
                raise AssertionError('howdy-client TUI: no %s within %.1fs; screen:\n%s\n%s'
                                     % (what, timeout, '\n'.join(rows), self.describe_process()))
            time.sleep(0.05)

    def wait_text(self, pattern, timeout=DEFAULT_TIMEOUT):
        """Waits for a row matching the regex; returns the match."""
        rx = re.compile(pattern)
        found = []

        def pred(rows):
            for r in rows:
                m = rx.search(r)
                if m:
                    found.append(m)
                    return True
            return False
        self.wait_screen(pred, timeout, 'row matching %r' % pattern)
        return found[0]

    STAMP = re.compile(r'^(\d{4}-\d\d-\d\d )?\d\d:\d\d:\d\d ')

    def lines(self):
        """The message pane's lines as the client shows them: each row cut at the users
        pane's border, a wrapped line's rows joined again (every line starts with its time;
        a row that does not is a continuation, wrapped at a space and indented)."""
        out = []
        for r in self.rows()[:-2]:  # not the status bar and the input line
            r = r.split('\u2502', 1)[0].rstrip()
            if not r:
                continue
            if out and not self.STAMP.match(r):
                out[-1] += ' ' + r.lstrip()
            else:
                out.append(r)
        return out

    def wait_line(self, pattern, timeout=DEFAULT_TIMEOUT):
        """Waits for a message line (see lines()) matching the regex; returns the match."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            for line in self.lines():
                m = rx.search(line)
                if m:
                    return m
            if time.monotonic() >= deadline:
                raise AssertionError('howdy-client TUI: no line matching %r within %.1fs; lines:\n%s\n%s'
                                     % (pattern, timeout, '\n'.join(self.lines()), self.describe_process()))
            time.sleep(0.05)

    def input_row(self):
        rows = self.rows()
        return rows[-1] if rows else ''

    # -- typing and resizing -------------------------------------------------
    def type(self, text):
        """Types `text` literally (no Enter)."""
        self._tmux('send-keys', '-t', 'tui', '-l', text)

    def keys(self, *names):
        """tmux key names: 'Enter', 'C-u', 'End', 'Tab', 'PPage'..."""
        self._tmux('send-keys', '-t', 'tui', *names)

    def enter(self, text=''):
        if text:
            self.type(text)
        self.keys('Enter')

    def resize(self, cols, rows):
        self._tmux('resize-window', '-t', 'tui', '-x', str(cols), '-y', str(rows))

    # -- the process -------------------------------------------------------------
    def alive(self):
        try:
            with open('/proc/%d/stat' % self.pid) as f:
                state = f.read().rsplit(')', 1)[1].split()[0]
            return state != 'Z'
        except OSError:
            return False

    def cpu_seconds(self):
        """User + system CPU time the client has used (from /proc/PID/stat)."""
        with open('/proc/%d/stat' % self.pid) as f:
            fields = f.read().rsplit(')', 1)[1].split()
        ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15 of stat)
        return ticks / os.sysconf('SC_CLK_TCK')

    def exit_status(self, timeout=DEFAULT_TIMEOUT):
        """The client's exit status once it has exited, or None within timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with open(self.status_file) as f:
                    text = f.read().strip()
                if text:
                    return int(text)
            except OSError:
                pass
            time.sleep(0.05)
        return None

    def describe_process(self):
        state = 'running' if self.alive() else 'not running'
        return 'client pid %d (%s): %s' % (self.pid, state, ' '.join(self.argv))

    def close(self):
        if self.closed:
            return
        self.closed = True
        if self.alive():
            try:
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            if self.exit_status(3) is None and self.alive():
                try:
                    os.kill(self.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self._tmux('kill-server', check=False)
        shutil.rmtree(self.dir, ignore_errors=True)
