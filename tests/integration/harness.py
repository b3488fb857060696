"""Harness for the end-to-end tests of the Howdy chat server.

Everything here talks to real processes over real loopback sockets:

* ``ServerProcess``   the howdy-server binary, started with ``--port 0``; its
                      "listening on HOST:PORT" line gives the port; stopped by
                      its own PID (SIGTERM, then SIGKILL after a bound); its
                      stderr is kept in a file and checked for sanitizer reports.
* ``ReferenceServer`` the original Python server (shared/reference/hcp1).
* ``LineProcess``     a line-oriented child (howdy-client) driven through pipes.
* ``H2Client``        a small HCP/2 client over a socket (docs/protocol.md, 2.x).
* ``H1Client``        a raw HCP/1 socket client with the framing rule of 1.4.
* ``TextClient``      a seed-002 text-protocol client (two sockets: TOSEND, TORECV).
* ``ServerTestCase``  a unittest base class: one fresh server per test, and a
                      test fails if the server left a sanitizer report or did
                      not exit cleanly.

Every wait is bounded; waits are on events (bytes, lines, EOF), not sleeps.
Servers get ``TEST_SERVER_DEFAULTS`` (an in-memory database, the cheapest password
hash) unless a test passes those options itself, so tests never share state and never
write files in the working directory.
Configuration comes from the environment (run.py sets it from its options):
HOWDY_SERVER, HOWDY_CLIENT, HOWDY_REFERENCE, and HOWDY_SERVER_ARGS (options every
test server gets, e.g. "--threads 2", unless the test sets that option itself).
"""

import os
import re
import selectors
import shlex
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HOST = '127.0.0.1'
DEFAULT_TIMEOUT = 5.0          # for anything that should happen "at once"
QUIET_WINDOW = 0.5             # how long we watch for something that must NOT happen
STOP_GRACE = 8.0               # SIGTERM -> SIGKILL bound


def _env_path(name):
    value = os.environ.get(name, '')
    return value or None


def server_path():
    return _env_path('HOWDY_SERVER')


def client_path():
    return _env_path('HOWDY_CLIENT')


def reference_dir():
    return _env_path('HOWDY_REFERENCE')


def reference_available():
    d = reference_dir()
    return bool(d) and all(os.path.isfile(os.path.join(d, f))
                           for f in ('howdy_client_core.py', 'howdy_server.py'))


def client_available():
    p = client_path()
    return bool(p) and os.path.isfile(p) and os.access(p, os.X_OK)


def requires_reference(func_or_class):
    return unittest.skipUnless(
        reference_available(),
        'reference programs (shared/reference/hcp1: howdy_client_core.py, howdy_server.py) '
        'not found: pass --reference DIR / set HOWDY_REFERENCE')(func_or_class)


def requires_client(func_or_class):
    return unittest.skipUnless(
        client_available(), 'howdy-client executable not given or not built: pass --client PATH')(func_or_class)


def reference_core():
    """The original client core module (howdy_client_core)."""
    d = reference_dir()
    if d not in sys.path:
        sys.path.insert(0, d)
    import howdy_client_core  # noqa: E402
    return howdy_client_core


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_until(pred, timeout=DEFAULT_TIMEOUT, interval=0.02):
    """Polls pred() until true or timeout; for states that offer no event to wait on
    (e.g. 'the process has exited'). Returns the last value of pred()."""
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


SANITIZER_MARKERS = ('ERROR: AddressSanitizer', 'runtime error:', 'ERROR: LeakSanitizer',
                     'WARNING: ThreadSanitizer', 'ERROR: UndefinedBehaviorSanitizer')


# ---------------------------------------------------------------------------
# Processes
# ---------------------------------------------------------------------------

def _read_line(stream, timeout, proc=None):
    """Reads one line (bytes, without the newline) from a pipe within timeout.
    Returns (line or None, rest of the bytes read after it)."""
    fd = stream.fileno()
    sel = selectors.DefaultSelector()
    sel.register(fd, selectors.EVENT_READ)
    buf = b''
    deadline = time.monotonic() + timeout
    try:
        while b'\n' not in buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return None, buf
            if not sel.select(min(left, 0.2)):
                continue
            chunk = os.read(fd, 4096)
            if not chunk:
                return None, buf
            buf += chunk
    finally:
        sel.close()
    line, _, rest = buf.partition(b'\n')
    return line, rest


class _Drainer(threading.Thread):
    """Reads a pipe to the end, keeping the text and waking waiters per line."""

    def __init__(self, stream, initial=b''):
        super().__init__(daemon=True)
        self.stream = stream
        self.lines = []
        self.cond = threading.Condition()
        self.eof = False
        self._partial = b''
        if initial:
            self._feed(initial)

    def _feed(self, data):
        with self.cond:
            data = self._partial + data
            *complete, self._partial = data.split(b'\n')
            for line in complete:
                self.lines.append(line.decode('utf-8', 'replace').rstrip('\r'))
            self.cond.notify_all()

    def run(self):
        fd = self.stream.fileno()
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b''
            if not chunk:
                break
            self._feed(chunk)
        with self.cond:
            if self._partial:
                self.lines.append(self._partial.decode('utf-8', 'replace'))
                self._partial = b''
            self.eof = True
            self.cond.notify_all()

    def wait_line(self, pattern, timeout=DEFAULT_TIMEOUT, start=0):
        """First line (from index start) matching the regex; (index, match) or (None, None)."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for i in range(start, len(self.lines)):
                    m = rx.search(self.lines[i])
                    if m:
                        return i, m
                left = deadline - time.monotonic()
                if left <= 0 or self.eof:
                    return None, None
                self.cond.wait(left)

    def text(self):
        with self.cond:
            return '\n'.join(self.lines)


class _Process:
    """A child process we started: stopped only by its own PID."""

    proc = None
    killed = False

    def _stderr_file(self):
        return tempfile.TemporaryFile(prefix='howdy-it-')

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, grace=STOP_GRACE):
        """Sends sig to our child, then SIGKILL after grace. Returns the exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.killed = True
                try:
                    os.kill(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(timeout=10)
        for stream in (self.proc.stdin,):
            if stream:
                try:
                    stream.close()
                except OSError:
                    pass
        return self.proc.returncode

    def stderr_text(self):
        f = getattr(self, '_err', None)
        if f is None:
            return ''
        try:
            f.flush()
            f.seek(0)
            return f.read().decode('utf-8', 'replace')
        except (OSError, ValueError):
            return ''


# Options every test server gets unless the test gives that option itself: no database
# file in the working directory and no state shared between tests (--db), and a fast
# password hash (--pwhash). The one place these defaults live.
TEST_SERVER_DEFAULTS = (('--db', ':memory:'), ('--pwhash', 'min'))


def extra_server_args():
    """The options in HOWDY_SERVER_ARGS (run.py --server-arg, e.g. "--threads 2"), as
    (option, its values) groups: every test server gets them too, unless the test sets
    that option itself."""
    groups = []
    for token in shlex.split(os.environ.get('HOWDY_SERVER_ARGS', '')):
        if token.startswith('--') or not groups:
            groups.append([token])
        else:
            groups[-1].append(token)
    return [tuple(g) for g in groups]


def with_test_defaults(args, defaults=TEST_SERVER_DEFAULTS):
    """args plus each default option (and each HOWDY_SERVER_ARGS option) the args do not
    already set (as "--opt v" or "--opt=v")."""
    args = list(args)
    given = {a.split('=', 1)[0] for a in args if a.startswith('--')}
    for opt, *values in list(defaults) + extra_server_args():
        if opt.split('=', 1)[0] not in given:
            args += [opt, *values]
            given.add(opt.split('=', 1)[0])
    return args


class ServerProcess(_Process):
    """The howdy-server binary on an ephemeral loopback port (with TEST_SERVER_DEFAULTS)."""

    def __init__(self, exe=None, args=(), port='0', host=HOST):
        self.exe = exe or server_path()
        if not self.exe:
            raise RuntimeError('no server executable: pass --server PATH / set HOWDY_SERVER')
        self.args = with_test_defaults(args)
        self.host = host
        self.requested_port = str(port)
        self.port = None
        self.stdout = None

    def command(self):
        return [self.exe, '--host', self.host, '--port', self.requested_port] + self.args

    def start(self, timeout=15.0):
        self._err = self._stderr_file()
        self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=self._err)
        line, rest = _read_line(self.proc.stdout, timeout, self.proc)
        if line is None:
            self.stop(grace=2)
            raise RuntimeError('server did not print "listening on" within %.0fs; exit=%r; stderr:\n%s'
                               % (timeout, self.proc.returncode, self.stderr_text()[-4000:]))
        m = re.match(rb'listening on (\S+):(\d+)\s*$', line)
        if not m:
            self.stop(grace=2)
            raise RuntimeError('unexpected first stdout line from the server: %r' % (line,))
        self.port = int(m.group(2))
        self.stdout = _Drainer(self.proc.stdout, rest)
        self.stdout.start()
        return self

    def address(self):
        return (HOST, self.port)

    def sanitizer_report(self):
        text = self.stderr_text()
        hits = [ln for ln in text.splitlines() if any(mk in ln for mk in SANITIZER_MARKERS)]
        return hits, text


class ReferenceServer(_Process):
    """The original Python HCP/1 server (howdy_server.py) on a free loopback port."""

    def __init__(self):
        self.script = os.path.join(reference_dir(), 'howdy_server.py')
        self.port = None
        self.stdout = None

    def start(self, timeout=10.0):
        last = ''
        for _ in range(5):
            port = free_port()
            self._err = self._stderr_file()
            self.proc = subprocess.Popen([sys.executable, '-u', self.script, '--host', HOST, '--port', str(port)],
                                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self._err)
            self.stdout = _Drainer(self.proc.stdout)
            self.stdout.start()
            i, _ = self.stdout.wait_line(r'Server is started and listening', timeout)
            if i is not None:
                self.port = port
                return self
            last = self.stderr_text()
            self.stop(grace=2)
        raise RuntimeError('the reference server did not start: ' + last[-2000:])


class LineProcess(_Process):
    """A line-oriented child (howdy-client in line mode): stdin is a pipe, every
    stdout line is kept and can be awaited."""

    def __init__(self, argv, env=None):
        self._err = self._stderr_file()
        self.argv = list(argv)
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._err,
                                     env=env)
        self.out = _Drainer(self.proc.stdout)
        self.out.start()

    def send_line(self, text):
        self.proc.stdin.write(text.encode('utf-8') + b'\n')
        self.proc.stdin.flush()

    def close_stdin(self):
        try:
            self.proc.stdin.close()
        except OSError:
            pass

    def wait_line(self, pattern, timeout=DEFAULT_TIMEOUT, start=0):
        return self.out.wait_line(pattern, timeout, start)

    def line_count(self):
        with self.out.cond:
            return len(self.out.lines)

    def lines(self):
        with self.out.cond:
            return list(self.out.lines)

    def wait_exit(self, timeout=DEFAULT_TIMEOUT):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def describe(self):
        return 'stdout:\n%s\nstderr:\n%s' % (self.out.text(), self.stderr_text()[-3000:])


# ---------------------------------------------------------------------------
# Sockets
# ---------------------------------------------------------------------------

class Closed(Exception):
    """The peer closed the connection (EOF or reset)."""


def connect(port, timeout=DEFAULT_TIMEOUT, rcvbuf=None):
    """A TCP connection to the server; rcvbuf (set before connecting) makes a small window."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(timeout)
    try:
        s.connect((HOST, port))
    except OSError:
        s.close()
        raise
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


class _SocketClient:
    def __init__(self, port, sock=None):
        self.sock = sock or connect(port)
        self.buf = bytearray()
        self.eof = False

    def _fill(self, deadline):
        """Reads once (waiting until deadline). Returns False on timeout; sets eof on close."""
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            return False
        except (ConnectionResetError, ConnectionAbortedError, BrokenPipeError):
            chunk = b''
        if not chunk:
            self.eof = True
            return True
        self.buf += chunk
        return True

    def send_raw(self, data):
        self.sock.sendall(data)

    def recv_exact(self, n, timeout=DEFAULT_TIMEOUT):
        deadline = time.monotonic() + timeout
        while len(self.buf) < n:
            if self.eof:
                raise Closed('closed after %d of %d bytes: %r' % (len(self.buf), n, bytes(self.buf[:200])))
            if not self._fill(deadline):
                raise TimeoutError('got %d of %d bytes in %.1fs: %r' % (len(self.buf), n, timeout,
                                                                         bytes(self.buf[:200])))
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def recv_available(self, within=QUIET_WINDOW):
        """Everything that arrives within `within` seconds (for 'nothing must arrive' checks)."""
        deadline = time.monotonic() + within
        while not self.eof and self._fill(deadline):
            pass
        out = bytes(self.buf)
        self.buf.clear()
        return out

    def wait_closed(self, timeout=DEFAULT_TIMEOUT):
        """True when the server closes the connection within timeout (data read meanwhile is kept)."""
        deadline = time.monotonic() + timeout
        while not self.eof:
            if not self._fill(deadline):
                return False
        return True

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def abort(self):
        """Closes with RST (SO_LINGER 0), like a crashed client."""
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
        except OSError:
            pass
        self.close()


# ---- HCP/1 ----------------------------------------------------------------

NAME_FIELD = 64


def h1_field(name):
    b = name.encode('utf-8') if isinstance(name, str) else bytes(name)
    assert len(b) <= NAME_FIELD
    return b + b'\x00' * (NAME_FIELD - len(b))


def h1_proposal(name):
    return b'\x01' + h1_field(name)


def h1_ack(name):
    return b'\x02' + h1_field(name)


def h1_nak(name):
    return b'\x03' + h1_field(name)


def h1_update(names):
    return b'\x04' + b''.join(h1_field(n) for n in names)


def h1_message(sender, receiver, text):
    t = text.encode('utf-8') if isinstance(text, str) else bytes(text)
    return b'\x05' + h1_field(sender) + h1_field(receiver) + t


def h1_name(field):
    return bytes(field).rstrip(b'\x00').decode('utf-8', 'replace')


class H1Packet:
    def __init__(self, raw):
        self.raw = bytes(raw)
        self.type = self.raw[0]

    @property
    def name(self):                     # types 1-3
        return h1_name(self.raw[1:65])

    @property
    def users(self):                    # type 4
        body = self.raw[1:]
        return [h1_name(body[i:i + 64]) for i in range(0, len(body), 64)]

    @property
    def sender(self):
        return h1_name(self.raw[1:65])

    @property
    def receiver(self):
        return h1_name(self.raw[65:129])

    @property
    def text(self):
        return self.raw[129:].decode('utf-8', 'replace')

    def __repr__(self):
        if self.type in (1, 2, 3):
            return '<H1 %d %r>' % (self.type, self.name)
        if self.type == 4:
            return '<H1 update %r>' % (self.users,)
        if self.type == 5:
            return '<H1 msg %r->%r %r>' % (self.sender, self.receiver, self.text[:60])
        return '<H1 ? %r>' % (self.raw[:40],)


_CONTROL = re.compile(rb'[\x01-\x05]')


class H1Client(_SocketClient):
    """Raw HCP/1 client that splits the stream by the rule of docs/protocol.md 1.4."""

    SETTLE = 0.15

    def __init__(self, port, sock=None):
        super().__init__(port, sock)
        self.name = None

    def _split_one(self, final):
        b = self.buf
        if not b:
            return None
        t = b[0]
        if t in (1, 2, 3):
            if len(b) >= 65 or (final and self.eof):
                n = min(65, len(b))
                out = bytes(b[:n])
                del b[:n]
                return H1Packet(out)
            return None
        if t == 4:
            j = 1
            while True:
                if j == len(b):
                    break
                if 1 <= b[j] <= 5:
                    break
                if len(b) - j >= 64:
                    j += 64
                    continue
                return None if not (final and self.eof) else self._take(len(b))
            if j < len(b) or final:
                return self._take(j)
            return None
        if t == 5:
            if len(b) < 130:
                return None if not (final and self.eof) else self._take(len(b))
            m = _CONTROL.search(b, 129)
            if m is not None:
                return self._take(m.start())
            if final:
                return self._take(len(b))
            return None
        # not a packet start: hand it over as is (the test will complain)
        return self._take(len(b))

    def _take(self, n):
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return H1Packet(out)

    def recv_packet(self, timeout=DEFAULT_TIMEOUT):
        deadline = time.monotonic() + timeout
        while True:
            p = self._split_one(final=False)
            if p is not None:
                return p
            if self.eof:
                p = self._split_one(final=True)
                if p is not None:
                    return p
                raise Closed('connection closed; pending %r' % (bytes(self.buf[:200]),))
            if self.buf:
                # a type 4/5 may be complete: settle
                settle = min(deadline, time.monotonic() + self.SETTLE)
                if not self._fill(settle):
                    p = self._split_one(final=True)
                    if p is not None:
                        return p
                    if time.monotonic() >= deadline:
                        raise TimeoutError('incomplete HCP/1 packet: %r' % (bytes(self.buf[:200]),))
                continue
            if not self._fill(deadline):
                raise TimeoutError('no HCP/1 packet within %.1fs' % timeout)

    def expect(self, pred, timeout=DEFAULT_TIMEOUT, what='packet'):
        """Next packet matching pred (others before it are discarded and returned in .skipped)."""
        deadline = time.monotonic() + timeout
        self.skipped = []
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError('no %s within %.1fs; got %r' % (what, timeout, self.skipped))
            try:
                p = self.recv_packet(left)
            except TimeoutError:
                raise TimeoutError('no %s within %.1fs; got %r' % (what, timeout, self.skipped))
            if pred(p):
                return p
            self.skipped.append(p)

    def packets_within(self, within=QUIET_WINDOW):
        """All packets that arrive within `within` seconds."""
        out = []
        deadline = time.monotonic() + within
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return out
            try:
                out.append(self.recv_packet(left))
            except (TimeoutError, Closed):
                return out

    def propose(self, name):
        self.send_raw(h1_proposal(name))

    def register(self, name, timeout=DEFAULT_TIMEOUT):
        """Proposes name; returns the user list of the update that follows the ack."""
        self.propose(name)
        ack = self.recv_packet(timeout)
        if ack.type != 2:
            raise AssertionError('expected ack for %r, got %r' % (name, ack))
        self.name = name
        upd = self.expect(lambda p: p.type == 4, timeout, 'update after ack')
        return upd.users

    def say(self, text, to='All'):
        self.send_raw(h1_message(self.name, to, text))


# ---- HCP/2 ----------------------------------------------------------------

HELLO, NAME, SEND, PING, WHO, BYE = 0x01, 0x02, 0x03, 0x04, 0x05, 0x06
WELCOME, NAME_OK, NAME_REFUSED, USERS, JOINED, LEFT, MESSAGE, SENT, DROPPED, PONG, ERROR = (
    0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x8A, 0x8B, 0x8F)
FRAME_NAMES = {WELCOME: 'WELCOME', NAME_OK: 'NAME_OK', NAME_REFUSED: 'NAME_REFUSED', USERS: 'USERS',
               JOINED: 'JOINED', LEFT: 'LEFT', MESSAGE: 'MESSAGE', SENT: 'SENT', DROPPED: 'DROPPED',
               PONG: 'PONG', ERROR: 'ERROR'}

# Accounts, receipts, rooms, history (issue 6). Client -> server:
REGISTER, LOGIN, ROSTER_REQ = 0x10, 0x11, 0x12
RECEIVED = 0x20
JOIN, LEAVE, ROOMS, MEMBERS = 0x30, 0x31, 0x32, 0x33
HISTORY = 0x40
# Server -> client:
ROSTER = 0x91
DELIVERED, NOT_DELIVERED = 0xA0, 0xA1
ROOM_JOINED, ROOM_LEFT, ROOM_LIST, ROOM_MEMBERS = 0xB0, 0xB1, 0xB2, 0xB3
HISTORY_END = 0xC0
FRAME_NAMES.update({ROSTER: 'ROSTER', DELIVERED: 'DELIVERED', NOT_DELIVERED: 'NOT_DELIVERED',
                    ROOM_JOINED: 'ROOM_JOINED', ROOM_LEFT: 'ROOM_LEFT', ROOM_LIST: 'ROOM_LIST',
                    ROOM_MEMBERS: 'ROOM_MEMBERS', HISTORY_END: 'HISTORY_END'})
# Issue 12: presence batches and paged lists (docs/protocol.md 2.14).
PRESENCE, USERS_PART, ROSTER_PART, ROOM_MEMBERS_PART, ROOM_LIST_PART = 0x89, 0x8C, 0x92, 0xB4, 0xB5
FRAME_NAMES.update({PRESENCE: 'PRESENCE', USERS_PART: 'USERS_PART', ROSTER_PART: 'ROSTER_PART',
                    ROOM_MEMBERS_PART: 'ROOM_MEMBERS_PART', ROOM_LIST_PART: 'ROOM_LIST_PART'})
NEW_SERVER_FRAMES = (ROSTER, DELIVERED, NOT_DELIVERED, ROOM_JOINED, ROOM_LEFT, ROOM_LIST, ROOM_MEMBERS, HISTORY_END,
                     PRESENCE, USERS_PART, ROSTER_PART, ROOM_MEMBERS_PART, ROOM_LIST_PART)
# HELLO flags
HELLO_NO_PRESENCE, HELLO_PRESENCE_BATCHES = 0x1, 0x2

# Target kinds of SEND / MESSAGE
KIND_ALL, KIND_USER, KIND_ROOM = 0, 1, 2
# ROSTER / ROOM_MEMBERS status bits
ST_ONLINE, ST_REGISTERED = 0x01, 0x02
# Error codes (ERROR / NAME_REFUSED / NOT_DELIVERED / text ERROR nnn)
E_MALFORMED_NAME, E_NOT_REGISTERED, E_UNKNOWN_RECIPIENT, E_MALFORMED_FRAME, E_NAME_TAKEN = 100, 101, 102, 103, 104
E_WRONG_PASSWORD, E_UNKNOWN_ACCOUNT, E_TOO_MANY_ATTEMPTS, E_NAME_REGISTERED = 114, 115, 116, 117
E_AUTH_REQUIRED, E_AUTH_DISABLED, E_NOT_IN_ROOM, E_INVALID_ROOM = 118, 119, 120, 121
E_RECIPIENT_LEFT, E_STORAGE_FAILED, E_INVALID_PASSWORD, E_ROOM_LIMIT = 122, 123, 124, 125
E_SIGNED_IN_ELSEWHERE = 126


def h2_frame(ftype, payload=b''):
    return struct.pack('>IB', 1 + len(payload), ftype) + payload


def h2_name(name):
    b = name.encode('utf-8') if isinstance(name, str) else bytes(name)
    return bytes([len(b)]) + b


def h2_hello(version=2, flags=0):
    return h2_frame(HELLO, b'HCP' + struct.pack('>BI', version, flags))


def h2_send(text, target='', kind=None, ref=0):
    if kind is None:
        kind = 1 if target else 0
    t = text.encode('utf-8') if isinstance(text, str) else bytes(text)
    return h2_frame(SEND, struct.pack('>IB', ref, kind) + h2_name(target) + t)


def _utf8(text):
    return text.encode('utf-8') if isinstance(text, str) else bytes(text)


# Client frames of issue 6 (.spec-issue6.md, B): `name` = u8 len + bytes; `text` = rest.
def h2_register(name, password):
    """REGISTER 0x10: name · text password."""
    return h2_frame(REGISTER, h2_name(name) + _utf8(password))


def h2_login(name, password):
    """LOGIN 0x11: name · text password."""
    return h2_frame(LOGIN, h2_name(name) + _utf8(password))


def h2_roster_request():
    return h2_frame(ROSTER_REQ)


def h2_received(msg_id):
    """RECEIVED 0x20: u64 id."""
    return h2_frame(RECEIVED, struct.pack('>Q', msg_id))


def h2_join(room):
    return h2_frame(JOIN, h2_name(room))


def h2_leave(room):
    return h2_frame(LEAVE, h2_name(room))


def h2_rooms_request():
    return h2_frame(ROOMS)


def h2_members_request(room):
    return h2_frame(MEMBERS, h2_name(room))


def h2_history_request(after_id):
    """HISTORY 0x40: u64 after_id."""
    return h2_frame(HISTORY, struct.pack('>Q', after_id))


class _Reader:
    """Reads fields of an HCP/2 payload in order; `done()` checks nothing is left over."""

    def __init__(self, payload):
        self.p = payload
        self.off = 0

    def _take(self, n):
        if self.off + n > len(self.p):
            raise IndexError('payload too short: need %d bytes at %d of %d' % (n, self.off, len(self.p)))
        out = self.p[self.off:self.off + n]
        self.off += n
        return out

    def u8(self):
        return self._take(1)[0]

    def u16(self):
        return struct.unpack('>H', self._take(2))[0]

    def u32(self):
        return struct.unpack('>I', self._take(4))[0]

    def u64(self):
        return struct.unpack('>Q', self._take(8))[0]

    def name(self):
        n = self.u8()
        if n > 64:
            raise IndexError('name field longer than 64 (%d)' % n)
        return self._take(n).decode('utf-8')

    def text(self):
        out = self.p[self.off:].decode('utf-8')
        self.off = len(self.p)
        return out

    def done(self):
        if self.off != len(self.p):
            raise IndexError('%d bytes left over after the last field' % (len(self.p) - self.off))


class H2Frame:
    def __init__(self, ftype, payload):
        self.type = ftype
        self.payload = bytes(payload)
        self.f = {}
        try:
            self._decode()
        except (struct.error, IndexError, UnicodeDecodeError) as e:
            self.f['decode_error'] = repr(e)

    def _name_at(self, off):
        n = self.payload[off]
        return self.payload[off + 1:off + 1 + n].decode('utf-8'), off + 1 + n

    def _decode(self):
        p, f = self.payload, self.f
        if self.type == WELCOME:
            f['version'], f['max_frame'] = struct.unpack_from('>BI', p)
            f['info'] = p[5:].decode('utf-8')
        elif self.type in (NAME_OK, JOINED, LEFT):
            f['name'], _ = self._name_at(0)
        elif self.type == NAME_REFUSED:
            f['code'], = struct.unpack_from('>H', p)
            f['name'], off = self._name_at(2)
            f['reason'] = p[off:].decode('utf-8')
        elif self.type in (USERS, USERS_PART):
            count, = struct.unpack_from('>H', p)
            off, names = 2, []
            for _ in range(count):
                n, off = self._name_at(off)
                names.append(n)
            f['users'] = names
        elif self.type == MESSAGE:
            f['id'], f['ts'], f['kind'] = struct.unpack_from('>QQB', p)
            f['sender'], off = self._name_at(17)
            f['target'], off = self._name_at(off)
            f['text'] = p[off:].decode('utf-8')
        elif self.type == SENT:
            f['ref'], f['id'] = struct.unpack_from('>IQ', p)
        elif self.type == DROPPED:
            f['count'], = struct.unpack_from('>I', p)
        elif self.type == PONG:
            f['token'], = struct.unpack_from('>Q', p)
        elif self.type == ERROR:
            f['code'], f['ref'] = struct.unpack_from('>HI', p)
            f['message'] = p[6:].decode('utf-8')
        elif self.type in NEW_SERVER_FRAMES:
            self._decode_new()

    def _decode_new(self):
        """Issue-6 server frames, strictly: short payloads, names over 64 and bytes left over
        are decode errors (docs/protocol.md 2.1: malformed)."""
        r, f = _Reader(self.payload), self.f
        if self.type in (ROSTER, ROSTER_PART, PRESENCE):
            f['entries'] = [(r.u8(), r.name()) for _ in range(r.u16())]
        elif self.type == USERS_PART:
            return  # decoded above, like USERS
        elif self.type == DELIVERED:
            f['id'] = r.u64()
            f['recipient'] = r.name()
        elif self.type == NOT_DELIVERED:
            f['id'] = r.u64()
            f['code'] = r.u16()
            f['recipient'] = r.name()
        elif self.type in (ROOM_JOINED, ROOM_LEFT):
            f['room'] = r.name()
            f['user'] = r.name()
        elif self.type in (ROOM_LIST, ROOM_LIST_PART):
            f['rooms'] = [(r.name(), r.u32()) for _ in range(r.u16())]
        elif self.type in (ROOM_MEMBERS, ROOM_MEMBERS_PART):
            f['room'] = r.name()
            f['entries'] = [(r.u8(), r.name()) for _ in range(r.u16())]
        elif self.type == HISTORY_END:
            f['last_id'] = r.u64()
            f['more'] = r.u8()
        r.done()

    @property
    def status(self):
        """ROSTER / ROOM_MEMBERS: {name: status}."""
        return {name: st for st, name in self.f['entries']}

    def __getattr__(self, key):
        try:
            return self.__dict__['f'][key]
        except KeyError:
            err = self.__dict__.get('f', {}).get('decode_error')
            raise AttributeError('%s%s' % (key, ' (frame %r did not decode: %s)' % (self.payload[:60], err)
                                            if err else ''))

    def __repr__(self):
        return '<%s %r>' % (FRAME_NAMES.get(self.type, '0x%02x' % self.type),
                            self.f if self.f else self.payload[:60])


class H2Client(_SocketClient):
    """A small HCP/2 client. Frames that arrive while waiting for another one are
    kept in a backlog, so tests can expect frames in any order."""

    def __init__(self, port, sock=None):
        super().__init__(port, sock)
        self.backlog = []
        self.name = None
        self.welcome = None
        self._ref = 0
        self.log = []          # every frame received, in order (evidence for failure messages)
        self.flags = 0         # HELLO flags (HELLO_PRESENCE_BATCHES, HELLO_NO_PRESENCE)
        self.room_members = {}  # room -> the ROOM_MEMBERS entries that answered our JOIN
        self.bad_frames = []   # issue-6 frames that did not decode per the spec

    # -- receiving -------------------------------------------------------
    def _parse_one(self):
        if len(self.buf) < 5:
            return None
        length, = struct.unpack_from('>I', self.buf)
        if length < 1 or length > 16 * 1024 * 1024:
            raise AssertionError('bad frame length from server: %d (%r)' % (length, bytes(self.buf[:40])))
        if len(self.buf) < 4 + length:
            return None
        fr = H2Frame(self.buf[4], self.buf[5:4 + length])
        del self.buf[:4 + length]
        if len(self.log) < 10000:
            self.log.append(fr)
        if 'decode_error' in fr.f and fr.type in NEW_SERVER_FRAMES:
            self.bad_frames.append(fr)
        return fr

    def recv_frame(self, timeout=DEFAULT_TIMEOUT):
        if self.backlog:
            return self.backlog.pop(0)
        deadline = time.monotonic() + timeout
        while True:
            fr = self._parse_one()
            if fr is not None:
                return fr
            if self.eof:
                raise Closed('connection closed; pending %r' % (bytes(self.buf[:80]),))
            if not self._fill(deadline):
                raise TimeoutError('no frame within %.1fs' % timeout)

    def expect(self, ftype, pred=None, timeout=DEFAULT_TIMEOUT):
        """First frame of type ftype (an int, or a tuple of types) matching pred; others
        stay in the backlog."""
        types = ftype if isinstance(ftype, (tuple, list, set, frozenset)) else (ftype,)
        what = '/'.join(FRAME_NAMES.get(t, hex(t)) for t in types)
        for i, fr in enumerate(self.backlog):
            if fr.type in types and (pred is None or pred(fr)):
                return self.backlog.pop(i)
        deadline = time.monotonic() + timeout
        seen = []
        while True:
            fr = self._parse_one()
            if fr is None:
                if self.eof:
                    self.backlog.extend(seen)
                    raise Closed('closed while waiting for %s; unmatched frames: %r' % (what, self.backlog))
                if not self._fill(deadline):
                    self.backlog.extend(seen)
                    raise TimeoutError('no %s within %.1fs; unmatched frames: %r' % (what, timeout, self.backlog))
                continue
            if fr.type in types and (pred is None or pred(fr)):
                self.backlog.extend(seen)
                return fr
            seen.append(fr)

    def collect_until(self, ftype, pred=None, timeout=DEFAULT_TIMEOUT):
        """Frames in arrival order up to the first of type ftype (matching pred):
        returns (frames before it, that frame); the backlog is read first and emptied."""
        before, self.backlog = self.backlog, []
        for i, fr in enumerate(before):
            if fr.type == ftype and (pred is None or pred(fr)):
                self.backlog = before[i + 1:]
                return before[:i], fr
        deadline = time.monotonic() + timeout
        while True:
            fr = self._parse_one()
            if fr is None:
                if self.eof:
                    raise Closed('closed while waiting for %s; got %r' % (FRAME_NAMES.get(ftype, ftype), before))
                if not self._fill(deadline):
                    raise TimeoutError('no %s within %.1fs; got %r'
                                       % (FRAME_NAMES.get(ftype, hex(ftype)), timeout, before))
                continue
            if fr.type == ftype and (pred is None or pred(fr)):
                return before, fr
            before.append(fr)

    def take_backlog(self, ftype):
        """Removes and returns the backlog frames of type ftype."""
        out = [f for f in self.backlog if f.type == ftype]
        self.backlog = [f for f in self.backlog if f.type != ftype]
        return out

    def frames_within(self, within=QUIET_WINDOW):
        """Backlog plus every frame that arrives within `within` seconds."""
        out, self.backlog = self.backlog, []
        deadline = time.monotonic() + within
        while True:
            fr = self._parse_one()
            if fr is not None:
                out.append(fr)
                continue
            if self.eof or not self._fill(deadline):
                return out

    def drain(self):
        """Drops the backlog and whatever is already readable."""
        self.frames_within(0.05)

    # -- sending ---------------------------------------------------------
    def send_frame(self, ftype, payload=b''):
        self.send_raw(h2_frame(ftype, payload))

    def hello(self, timeout=DEFAULT_TIMEOUT):
        self.send_raw(h2_hello(flags=self.flags))
        self.welcome = self.expect(WELCOME, timeout=timeout)
        return self.welcome

    def propose(self, name):
        self.send_frame(NAME, h2_name(name))

    def register(self, name, timeout=DEFAULT_TIMEOUT):
        """HELLO (if needed) + NAME; returns the USERS list that follows NAME_OK."""
        if self.welcome is None:
            self.hello(timeout)
        self.propose(name)
        ok = self.recv_frame(timeout)
        if ok.type != NAME_OK:
            raise AssertionError('expected NAME_OK for %r, got %r' % (name, ok))
        self.name = name
        if self.flags & HELLO_NO_PRESENCE:
            return None
        return self.expect_users(timeout)

    def expect_users(self, timeout=DEFAULT_TIMEOUT):
        """A whole USERS list: its USERS_PART pages (if any), then USERS; returns the names."""
        pages = []
        while True:
            fr = self.expect((USERS, USERS_PART), timeout=timeout)
            pages.append(fr)
            if fr.type == USERS:
                self.last_pages = pages
                return [n for p in pages for n in p.users]

    def expect_list(self, final, part, pred=None, timeout=DEFAULT_TIMEOUT):
        """A paged list: frames of type `part`, then `final`; returns (pages, all entries)."""
        pages = []
        while True:
            fr = self.expect((final, part), pred, timeout)
            pages.append(fr)
            if fr.type == final:
                return pages, [e for p in pages for e in p.entries]

    def next_ref(self):
        self._ref += 1
        return self._ref

    def say(self, text, to='', ref=None, kind=None):
        ref = self.next_ref() if ref is None else ref
        self.send_raw(h2_send(text, to, kind, ref))
        return ref

    def say_ok(self, text, to='', timeout=DEFAULT_TIMEOUT):
        """Sends and waits for the SENT with our ref; returns it."""
        ref = self.say(text, to)
        return self.expect(SENT, lambda f: f.ref == ref, timeout)

    def ping(self, token):
        self.send_frame(PING, struct.pack('>Q', token))

    def who(self):
        self.send_frame(WHO)

    def bye(self):
        self.send_frame(BYE)

    # -- accounts, receipts, rooms, history (issue 6) ----------------------
    def _ensure_hello(self, timeout):
        if self.welcome is None:
            self.hello(timeout)

    def account_reply(self, timeout=DEFAULT_TIMEOUT):
        """The reply to REGISTER / LOGIN / NAME: NAME_OK or NAME_REFUSED."""
        return self.expect((NAME_OK, NAME_REFUSED), timeout=timeout)

    def send_register(self, name, password, timeout=DEFAULT_TIMEOUT):
        """HELLO (if needed) + REGISTER; returns NAME_OK or NAME_REFUSED."""
        self._ensure_hello(timeout)
        self.send_raw(h2_register(name, password))
        reply = self.account_reply(timeout)
        if reply.type == NAME_OK:
            self.name = reply.name
        return reply

    def send_login(self, name, password, timeout=DEFAULT_TIMEOUT):
        """HELLO (if needed) + LOGIN; returns NAME_OK or NAME_REFUSED (history, if any, follows)."""
        self._ensure_hello(timeout)
        self.send_raw(h2_login(name, password))
        reply = self.account_reply(timeout)
        if reply.type == NAME_OK:
            self.name = reply.name
        return reply

    def create_account(self, name, password, timeout=DEFAULT_TIMEOUT):
        """REGISTER that must succeed (NAME_OK); signed in as name afterwards."""
        reply = self.send_register(name, password, timeout)
        if reply.type != NAME_OK or reply.name != name:
            raise AssertionError('REGISTER %r: expected NAME_OK, got %r' % (name, reply))
        return reply

    def read_history(self, timeout=DEFAULT_TIMEOUT):
        """Reads stored MESSAGE frames up to HISTORY_END, asking HISTORY after_id for more
        while HISTORY_END says `more`. Returns (messages in arrival order, the last
        HISTORY_END). Non-MESSAGE frames met on the way stay in the backlog."""
        messages, ends = [], []
        while True:
            before, end = self.collect_until(HISTORY_END, timeout=timeout)
            messages += [f for f in before if f.type == MESSAGE]
            self.backlog = [f for f in before if f.type != MESSAGE] + self.backlog
            ends.append(end)
            if not end.more or len(ends) > 100:
                return messages, end
            self.request_history(end.last_id)

    def log_in(self, name, password, timeout=DEFAULT_TIMEOUT):
        """LOGIN that must succeed; returns (replayed messages, HISTORY_END)."""
        reply = self.send_login(name, password, timeout)
        if reply.type != NAME_OK or reply.name != name:
            raise AssertionError('LOGIN %r: expected NAME_OK, got %r' % (name, reply))
        return self.read_history(timeout)

    def request_roster(self):
        self.send_raw(h2_roster_request())

    def roster(self, timeout=DEFAULT_TIMEOUT):
        """ROSTER_REQ -> ROSTER; returns {name: status}."""
        self.request_roster()
        _, entries = self.expect_list(ROSTER, ROSTER_PART, timeout=timeout)
        return {name: st for st, name in entries}

    def received(self, msg_id):
        self.send_raw(h2_received(msg_id))

    def join(self, room):
        self.send_raw(h2_join(room))

    def join_ok(self, room, timeout=DEFAULT_TIMEOUT):
        """JOIN and wait for our own ROOM_JOINED and the ROOM_MEMBERS that answer it
        (kept in self.room_members[room])."""
        self.join(room)
        joined = self.expect(ROOM_JOINED, lambda f: f.room == room and f.user == self.name, timeout)
        _, self.room_members[room] = self.expect_list(ROOM_MEMBERS, ROOM_MEMBERS_PART, lambda f: f.room == room,
                                                      timeout)
        return joined

    def leave(self, room):
        self.send_raw(h2_leave(room))

    def request_rooms(self):
        self.send_raw(h2_rooms_request())

    def rooms(self, timeout=DEFAULT_TIMEOUT):
        """ROOMS -> ROOM_LIST; returns [(room, members)] as sent."""
        self.request_rooms()
        return self.expect(ROOM_LIST, timeout=timeout).rooms

    def request_members(self, room):
        self.send_raw(h2_members_request(room))

    def members(self, room, timeout=DEFAULT_TIMEOUT):
        """MEMBERS room -> ROOM_MEMBERS; returns the frame (.room, .entries, .status)."""
        self.request_members(room)
        pages, entries = self.expect_list(ROOM_MEMBERS, ROOM_MEMBERS_PART, lambda f: f.room == room, timeout)
        pages[-1].f['entries'] = entries  # the whole list, on the final page
        pages[-1].f['pages'] = len(pages)
        return pages[-1]

    def request_history(self, after_id):
        self.send_raw(h2_history_request(after_id))

    def say_room(self, text, room, ref=None):
        return self.say(text, to=room, kind=KIND_ROOM, ref=ref)

    def say_room_ok(self, text, room, timeout=DEFAULT_TIMEOUT):
        ref = self.say_room(text, room)
        return self.expect(SENT, lambda f: f.ref == ref, timeout)


# ---- seed-002 text protocol ---------------------------------------------------

TOSEND, TORECV = 'TOSEND', 'TORECV'
TEXT_PHRASES = {100: 'Malformed username', 101: 'No user registered', 102: 'Unable to send',
                103: 'Header incomplete', 104: 'Username taken', 117: 'Username registered'}


def text_register(direction, name):
    """`REGISTER TOSEND name\\n\\n` (direction TOSEND or TORECV)."""
    return b'REGISTER ' + direction.encode() + b' ' + _utf8(name) + b'\n\n'


def text_registered(direction, name):
    return b'REGISTERED ' + direction.encode() + b' ' + _utf8(name) + b'\n\n'


def text_send(recipient, body, length=None):
    """`SEND rcpt\\nContent-length: n\\n\\n<n bytes>`; length=False leaves the field out."""
    b = _utf8(body)
    if length is False:
        return b'SEND ' + _utf8(recipient) + b'\n\n' + b
    n = len(b) if length is None else length
    return b'SEND ' + _utf8(recipient) + b'\nContent-length: ' + str(n).encode() + b'\n\n' + b


def text_forward(sender, body):
    b = _utf8(body)
    return b'FORWARD ' + _utf8(sender) + b'\nContent-length: ' + str(len(b)).encode() + b'\n\n' + b


def text_received(sender):
    return b'RECEIVED ' + _utf8(sender) + b'\n\n'


def text_sent(recipient):
    return b'SENT ' + _utf8(recipient) + b'\n\n'


def text_error(code, phrase=None):
    """`ERROR nnn Phrase\\n\\n` with the server's standard phrase (spec C)."""
    return ('ERROR %d %s\n\n' % (code, phrase if phrase is not None else TEXT_PHRASES[code])).encode()


class TextMessage:
    """One seed-002 message: a header ending in a blank line, then Content-length bytes
    of body when the header has that field."""

    def __init__(self, raw, header, body):
        self.raw = bytes(raw)
        self.header = header.decode('utf-8', 'replace')
        self.body = body
        lines = self.header.split('\n')
        self.line = lines[0]
        self.words = self.line.split(' ')
        self.kind = self.words[0]
        self.arg = self.line.split(' ', 1)[1] if ' ' in self.line else ''
        self.fields = {}
        for ln in lines[1:]:
            k, sep, v = ln.partition(':')
            if sep:
                self.fields[k.strip().lower()] = v.strip()

    @property
    def code(self):
        """ERROR nnn -> nnn (None otherwise)."""
        if self.kind == 'ERROR' and len(self.words) > 1 and self.words[1].isdigit():
            return int(self.words[1])
        return None

    @property
    def text(self):
        return self.body.decode('utf-8', 'replace') if self.body is not None else None

    def __repr__(self):
        return '<TEXT %r>' % (self.raw[:120],)


class TextConn(_SocketClient):
    """One seed-002 socket. Splits what the server sends into TextMessage objects (header
    up to the first blank line, then Content-length bytes of body); keeps a backlog."""

    def __init__(self, port, sock=None):
        super().__init__(port, sock)
        self.backlog = []
        self.log = []

    def _parse_one(self):
        i = self.buf.find(b'\n\n')
        if i < 0:
            return None
        header = bytes(self.buf[:i])
        m = re.search(rb'(?im)^content-length:[ \t]*(\d+)[ \t]*$', header)
        body = None
        end = i + 2
        if m:
            n = int(m.group(1))
            if len(self.buf) < end + n:
                return None
            body = bytes(self.buf[end:end + n])
            end += n
        msg = TextMessage(self.buf[:end], header, body)
        del self.buf[:end]
        self.log.append(msg)
        return msg

    def recv_msg(self, timeout=DEFAULT_TIMEOUT):
        if self.backlog:
            return self.backlog.pop(0)
        deadline = time.monotonic() + timeout
        while True:
            msg = self._parse_one()
            if msg is not None:
                return msg
            if self.eof:
                raise Closed('connection closed; pending %r' % (bytes(self.buf[:200]),))
            if not self._fill(deadline):
                raise TimeoutError('no text message within %.1fs; pending %r' % (timeout, bytes(self.buf[:200])))

    def expect(self, pred=None, timeout=DEFAULT_TIMEOUT, what='message'):
        """First message matching pred (a callable, or a kind such as 'FORWARD'); others
        stay in the backlog."""
        if isinstance(pred, str):
            kind = pred
            pred = lambda m: m.kind == kind  # noqa: E731
            what = kind
        for i, msg in enumerate(self.backlog):
            if pred is None or pred(msg):
                return self.backlog.pop(i)
        deadline = time.monotonic() + timeout
        seen = []
        while True:
            msg = self._parse_one()
            if msg is None:
                if self.eof:
                    self.backlog.extend(seen)
                    raise Closed('closed while waiting for %s; got %r, pending %r'
                                 % (what, seen, bytes(self.buf[:200])))
                if not self._fill(deadline):
                    self.backlog.extend(seen)
                    raise TimeoutError('no %s within %.1fs; got %r, pending %r'
                                       % (what, timeout, seen, bytes(self.buf[:200])))
                continue
            if pred is None or pred(msg):
                self.backlog.extend(seen)
                return msg
            seen.append(msg)

    def msgs_within(self, within=QUIET_WINDOW):
        """Backlog plus every message that arrives within `within` seconds."""
        out, self.backlog = self.backlog, []
        deadline = time.monotonic() + within
        while True:
            msg = self._parse_one()
            if msg is not None:
                out.append(msg)
                continue
            if self.eof or not self._fill(deadline):
                return out

    def request(self, data, timeout=DEFAULT_TIMEOUT):
        """Sends data and returns the next message."""
        self.send_raw(data)
        return self.recv_msg(timeout)


class TextClient:
    """A seed-002 client: a TOSEND socket (SEND -> SENT / ERROR) and a TORECV socket
    (FORWARD -> RECEIVED), both registered under one name, TOSEND first as in the
    document."""

    def __init__(self, port):
        self.port = port
        self.tx = TextConn(port)
        self.rx = TextConn(port)
        self.name = None

    def register(self, name, timeout=DEFAULT_TIMEOUT):
        """Registers both sockets; each must be answered with exactly REGISTERED ... name."""
        for conn, direction in ((self.tx, TOSEND), (self.rx, TORECV)):
            reply = conn.request(text_register(direction, name), timeout)
            if reply.raw != text_registered(direction, name):
                raise AssertionError('REGISTER %s %s: expected %r, got %r'
                                     % (direction, name, text_registered(direction, name), reply.raw))
        self.name = name
        return self

    def send(self, recipient, body, length=None):
        self.tx.send_raw(text_send(recipient, body, length))

    def reply(self, timeout=DEFAULT_TIMEOUT):
        """Next message on TOSEND (SENT or ERROR)."""
        return self.tx.recv_msg(timeout)

    def forward(self, sender=None, timeout=DEFAULT_TIMEOUT):
        """Next FORWARD on TORECV (from sender, if given)."""
        return self.rx.expect(lambda m: m.kind == 'FORWARD' and (sender is None or m.arg == sender),
                              timeout, 'FORWARD %s' % (sender or ''))

    def confirm(self, sender):
        """RECEIVED sender (confirms the oldest pending FORWARD from sender)."""
        self.rx.send_raw(text_received(sender))

    def close(self):
        self.tx.close()
        self.rx.close()


# ---------------------------------------------------------------------------
# Test base class
# ---------------------------------------------------------------------------

class ServerTestCase(unittest.TestCase):
    """One fresh howdy-server per test. After the test the server is stopped by
    its PID; the test fails if it left a sanitizer report or exited non-zero."""

    server_args = ()
    check_exit_status = True

    def setUp(self):
        if not server_path():
            self.skipTest('no server executable (pass --server PATH)')
        self.server = ServerProcess(args=self.server_args).start()
        self.port = self.server.port
        self._clients = []
        self.addCleanup(self._stop_server)

    def _stop_server(self):
        for c in self._clients:
            try:
                c.close()
            except Exception:  # noqa: BLE001 - best effort
                pass
        status = self.server.stop()
        hits, text = self.server.sanitizer_report()
        if hits:
            self.fail('sanitizer report in the server log:\n' + '\n'.join(hits[:20]) + '\n--- log tail:\n'
                      + text[-6000:])
        if self.server.killed:
            self.fail('the server did not exit within %.0fs of SIGTERM; log tail:\n%s' % (STOP_GRACE, text[-3000:]))
        if self.check_exit_status and status != 0:
            self.fail('the server exited with status %r after SIGTERM; log tail:\n%s' % (status, text[-3000:]))

    def server_log(self):
        return self.server.stderr_text()

    def wait_log(self, pattern, count=1, timeout=DEFAULT_TIMEOUT):
        """Waits until the server's log has `count` lines matching pattern (the log has no
        event to await, so this polls it, bounded)."""
        rx = re.compile(pattern)
        return wait_until(lambda: len(rx.findall(self.server_log())) >= count, timeout)

    # client factories; everything they open is closed after the test
    def h2(self, name=None, port=None):
        c = H2Client(port or self.port)
        self._clients.append(c)
        if name:
            c.register(name)
        return c

    def h1(self, name=None, port=None):
        c = H1Client(port or self.port)
        self._clients.append(c)
        if name:
            c.register(name)
        return c

    def raw(self, port=None):
        c = _SocketClient(port or self.port)
        self._clients.append(c)
        return c

    def text(self, name=None, port=None):
        """A seed-002 TextClient (two sockets); registered on both when name is given."""
        c = TextClient(port or self.port)
        self._clients.append(c)
        if name:
            c.register(name)
        return c

    def text_conn(self, port=None):
        """A single raw seed-002 socket."""
        c = TextConn(port or self.port)
        self._clients.append(c)
        return c

    def account(self, name, password='secret-pw', port=None):
        """An HCP/2 client that REGISTERed `name` and is signed in as it."""
        c = self.h2(port=port)
        c.create_account(name, password)
        return c

    def signed_in(self, name, password='secret-pw', port=None):
        """An HCP/2 client that LOGged IN as `name`; returns (client, replayed messages, HISTORY_END)."""
        c = self.h2(port=port)
        messages, end = c.log_in(name, password)
        return c, messages, end

    def core(self, name=None, port=None):
        """The original client core (split_frames=True), connected; registered when name is given."""
        mod = reference_core()
        c = mod.HowdyClientCore(split_frames=True)
        c.connect(HOST, port or self.port)
        self._clients.append(c)
        if name:
            self.core_register(c, name)
        return c

    def core_register(self, c, name, timeout=DEFAULT_TIMEOUT):
        start = len(c.events)
        c.propose(name)
        ev = c.wait_for(lambda e: e['kind'] in ('ack', 'nak'), timeout, start)
        self.assertIsNotNone(ev, 'no ack/nak for %r' % name)
        self.assertEqual(ev['kind'], 'ack', 'name %r refused' % name)
        upd = c.wait_for(lambda e: e['kind'] == 'update' and name in e['users'], timeout, start)
        self.assertIsNotNone(upd, 'no update listing %r after the ack; events %r' % (name, c.events[start:]))
        return upd['users']

    def assert_still_serving(self):
        """A well-behaved pair of clients can still register and chat."""
        tag = str(int(time.monotonic() * 1e6) % 10 ** 9)
        a = self.h2('alive-a-' + tag)
        b = self.h2('alive-b-' + tag)
        a.say_ok('still here?')
        m = b.expect(MESSAGE, lambda f: f.text == 'still here?')
        self.assertEqual(m.sender, 'alive-a-' + tag)
        c = self.h1('alive-c-' + tag)
        c.say('and HCP/1 too')
        m = a.expect(MESSAGE, lambda f: f.text == 'and HCP/1 too')
        self.assertEqual(m.sender, 'alive-c-' + tag)
        for x in (a, b, c):
            x.close()


class ChatTestCase(ServerTestCase):
    """ServerTestCase for the issue-6 features: also fails a test when the server sent a
    ROSTER / DELIVERED / ROOM_* / HISTORY_END frame that does not match the spec layout."""

    def setUp(self):
        super().setUp()
        self.addCleanup(self._check_frames)   # runs before the server is stopped

    def _check_frames(self):
        bad = [(getattr(c, 'name', None), f, f.f.get('decode_error'))
               for c in self._clients for f in getattr(c, 'bad_frames', [])]
        if bad:
            self.fail('frames not matching the spec layout: %r' % (bad[:10],))

    def quiet(self, client, types, within=QUIET_WINDOW, pred=None):
        """Frames of the given types (matching pred) that arrive within `within`; the
        others go back to the backlog. For checks that something must NOT arrive."""
        types = types if isinstance(types, (tuple, list, set)) else (types,)
        frames = client.frames_within(within)
        hit = [f for f in frames if f.type in types and (pred is None or pred(f))]
        client.backlog = [f for f in frames if f not in hit] + client.backlog
        return hit

    def assert_refused(self, reply, code, name=None):
        self.assertEqual(reply.type, NAME_REFUSED, 'expected NAME_REFUSED %d, got %r' % (code, reply))
        self.assertEqual(reply.code, code, reply)
        if name is not None:
            self.assertEqual(reply.name, name, reply)
        self.assertTrue(reply.reason, 'NAME_REFUSED %d without a reason text' % code)


def core_wait(testcase, core, pred, what, timeout=DEFAULT_TIMEOUT, start=0):
    ev = core.wait_for(pred, timeout, start)
    testcase.assertIsNotNone(ev, 'original client: no %s within %.1fs; events: %r'
                             % (what, timeout, [{k: v for k, v in e.items() if k != 'raw'}
                                                for e in core.events[start:]]))
    return ev


class ClientMixin:
    """Starts howdy-client processes that are ended after the test (by their PID)."""

    def howdy_client(self, port, protocol, name=None):
        argv = [client_path(), '--host', HOST, '--port', str(port), '--protocol', protocol,
                '--connect-timeout', '5']
        if name is not None:
            argv += ['--name', name]
        p = LineProcess(argv)
        self.addCleanup(self._end_client, p)
        return p

    def _end_client(self, p):
        p.close_stdin()
        if p.wait_exit(5) is None:
            p.stop(grace=3)

    def line(self, p, pattern, timeout=5, start=0):
        i, m = p.wait_line(pattern, timeout, start)
        self.assertIsNotNone(i, 'howdy-client printed no line matching %r within %ss\n%s'
                             % (pattern, timeout, p.describe()))
        return i, m

    def no_line(self, p, pattern, within=0.5, start=0):
        i, _ = p.wait_line(pattern, within, start)
        self.assertIsNone(i, 'howdy-client printed an unexpected line matching %r\n%s' % (pattern, p.describe()))
