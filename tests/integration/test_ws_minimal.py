"""The minimal WebSocket broadcast server (samples/minimal/ws_broadcast.cpp) against
Python's websockets (Debian python3-websockets) and raw hostile sockets.

Three real clients broadcast to each other; hostile peers (unmasked frames, a 64-bit
length over the limit, bad UTF-8, a bad close code, a plain HTTP request, a ping
flood) get the right close code or HTTP status, and the server keeps serving.

The executable: $HOWDY_WS_BROADCAST, else ws-broadcast beside the server's build
directory (BUILD/samples/minimal/ws-broadcast next to BUILD/samples/hcp/howdy-server).
The tests skip without it or without the websockets module.
"""

import asyncio
import base64
import os
import re
import socket
import struct
import subprocess
import sys
import unittest

from harness import DEFAULT_TIMEOUT, HOST, SANITIZER_MARKERS, _Drainer, _Process, _read_line, server_path

try:
    import websockets
except ImportError:
    # Debian's python3-websockets lives in the system interpreter's dist-packages; a
    # python3 of the same minor version from elsewhere (pyenv, a venv) can load it too.
    _debian = '/usr/lib/python3/dist-packages'
    if sys.version_info[:2] == (3, 11) and os.path.isdir(os.path.join(_debian, 'websockets')):
        sys.path.append(_debian)
    try:
        import websockets
    except ImportError:  # skipped below
        websockets = None


def ws_broadcast_path():
    p = os.environ.get('HOWDY_WS_BROADCAST', '')
    if not p and server_path():
        p = os.path.join(os.path.dirname(os.path.dirname(server_path())), 'minimal', 'ws-broadcast')
    return p if p and os.path.isfile(p) and os.access(p, os.X_OK) else None


class WsBroadcastProcess(_Process):
    """ws-broadcast on an ephemeral loopback port ("listening on 127.0.0.1:PORT")."""

    def __init__(self, exe, handshake_seconds=None):
        self.exe = exe
        self.args = ['0'] + ([] if handshake_seconds is None else [str(handshake_seconds)])
        self.port = None

    def start(self, timeout=15.0):
        self._err = self._stderr_file()
        self.proc = subprocess.Popen([self.exe] + self.args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=self._err)
        line, rest = _read_line(self.proc.stdout, timeout, self.proc)
        m = re.match(rb'listening on (\S+):(\d+)\s*$', line or b'')
        if not m:
            self.stop(grace=2)
            raise RuntimeError('ws-broadcast did not start: %r; stderr:\n%s' % (line, self.stderr_text()[-2000:]))
        self.port = int(m.group(2))
        self.stdout = _Drainer(self.proc.stdout, rest)
        self.stdout.start()
        return self


# ---------------------------------------------------------------------------
# A raw client: the handshake by hand, then frames of our own making.

KEY = base64.b64encode(b'0123456789abcdef').decode()


def client_frame(opcode, payload=b'', fin=True, masked=True, length=None, mask=b'\x11\x22\x33\x44'):
    n = len(payload) if length is None else length
    head = bytes([(0x80 if fin else 0) | opcode])
    m = 0x80 if masked else 0
    if n < 126:
        head += bytes([m | n])
    elif n <= 0xFFFF:
        head += bytes([m | 126]) + struct.pack('!H', n)
    else:
        head += bytes([m | 127]) + struct.pack('!Q', n)
    if not masked:
        return head + payload
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


class RawClient:
    def __init__(self, port):
        self.sock = socket.create_connection((HOST, port), timeout=DEFAULT_TIMEOUT)
        self.buf = b''

    def close(self):
        self.sock.close()

    def _fill(self):
        data = self.sock.recv(65536)  # bounded by the socket timeout
        if not data:
            raise EOFError
        self.buf += data

    def read_http(self):
        while b'\r\n\r\n' not in self.buf:
            self._fill()
        head, _, self.buf = self.buf.partition(b'\r\n\r\n')
        return head.decode('latin-1')

    def handshake(self):
        self.sock.sendall(('GET /chat HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n'
                           'Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n'
                           'Origin: http://127.0.0.1\r\n\r\n' % KEY).encode())
        head = self.read_http()
        assert head.startswith('HTTP/1.1 101 '), head
        return head

    def read_frame(self):
        """(opcode, payload) of the next server frame (servers never mask)."""
        while len(self.buf) < 2:
            self._fill()
        b0, b1 = self.buf[0], self.buf[1]
        assert not b1 & 0x80, 'a server frame was masked'
        n, at = b1 & 0x7F, 2
        if n == 126:
            while len(self.buf) < 4:
                self._fill()
            n, at = struct.unpack('!H', self.buf[2:4])[0], 4
        elif n == 127:
            while len(self.buf) < 10:
                self._fill()
            n, at = struct.unpack('!Q', self.buf[2:10])[0], 10
        while len(self.buf) < at + n:
            self._fill()
        payload, self.buf = self.buf[at:at + n], self.buf[at + n:]
        return b0 & 0x0F, payload

    def read_close(self):
        """The close code of the server's close frame (skipping other frames), then
        checks that the server closes the TCP connection."""
        while True:
            op, payload = self.read_frame()
            if op == 8:
                break
        code = struct.unpack('!H', payload[:2])[0] if len(payload) >= 2 else 1005
        self.sock.settimeout(DEFAULT_TIMEOUT)
        try:
            while self.sock.recv(65536):
                pass
        except ConnectionResetError:
            pass
        return code


@unittest.skipIf(websockets is None, 'python3-websockets is not installed')
@unittest.skipIf(ws_broadcast_path() is None, 'ws-broadcast not built (set HOWDY_WS_BROADCAST)')
class WsBroadcast(unittest.TestCase):

    def setUp(self):
        self.server = WsBroadcastProcess(ws_broadcast_path()).start()
        self.addCleanup(self.stop_server)
        self.url = 'ws://%s:%d/chat' % (HOST, self.server.port)

    def stop_server(self, server=None):
        server = server or self.server
        self.assertTrue(server.running(), 'ws-broadcast died; stderr:\n' + server.stderr_text()[-2000:])
        server.stop()
        server.stdout.join(timeout=5)
        server.proc.stdout.close()
        text = server.stderr_text()
        server._err.close()
        hits = [ln for ln in text.splitlines() if any(mk in ln for mk in SANITIZER_MARKERS)]
        self.assertFalse(hits, 'sanitizer report from ws-broadcast:\n' + text[-4000:])

    def run_async(self, coro, timeout=20):
        return asyncio.run(asyncio.wait_for(coro, timeout))

    async def broadcast_among(self, count, text):
        clients = [await websockets.connect(self.url, open_timeout=DEFAULT_TIMEOUT) for _ in range(count)]
        try:
            await clients[0].send(text)
            # Every client, the sender too, gets it.
            got = [await asyncio.wait_for(c.recv(), DEFAULT_TIMEOUT) for c in clients]
            return got
        finally:
            for c in clients:
                await c.close()

    def assert_still_serving(self):
        self.assertEqual(self.run_async(self.broadcast_among(2, 'still here')), ['still here'] * 2)

    def test_three_clients_broadcast(self):
        async def scenario():
            a, b, c = [await websockets.connect(self.url, open_timeout=DEFAULT_TIMEOUT) for _ in range(3)]
            try:
                await a.send('hello from a')
                for ws in (a, b, c):
                    self.assertEqual(await asyncio.wait_for(ws.recv(), DEFAULT_TIMEOUT), 'hello from a')
                await b.send('caf\u00e9 \u20ac from b')
                for ws in (a, b, c):
                    self.assertEqual(await asyncio.wait_for(ws.recv(), DEFAULT_TIMEOUT), 'caf\u00e9 \u20ac from b')
                big = 'x' * 40000  # a 16-bit length, both ways
                await c.send(big)
                for ws in (a, b, c):
                    self.assertEqual(await asyncio.wait_for(ws.recv(), DEFAULT_TIMEOUT), big)
                # A ping is answered (websockets waits for the pong).
                await asyncio.wait_for(await a.ping(b'are you there'), DEFAULT_TIMEOUT)
                # A normal close handshake: the server echoes our code.
                await c.close(code=1001)
                self.assertEqual(c.close_code, 1001)
                await a.send('after c left')
                for ws in (a, b):
                    self.assertEqual(await asyncio.wait_for(ws.recv(), DEFAULT_TIMEOUT), 'after c left')
            finally:
                for ws in (a, b, c):
                    await ws.close()
        self.run_async(scenario())

    def test_fragmented_message_is_broadcast_whole(self):
        async def scenario():
            a = await websockets.connect(self.url, open_timeout=DEFAULT_TIMEOUT)
            b = await websockets.connect(self.url, open_timeout=DEFAULT_TIMEOUT)
            try:
                await a.send(iter(['frag', 'mented ', '\u00e9']))  # websockets sends fragments
                self.assertEqual(await asyncio.wait_for(b.recv(), DEFAULT_TIMEOUT), 'fragmented \u00e9')
            finally:
                await a.close()
                await b.close()
        self.run_async(scenario())

    def test_hostile_frames_get_their_close_codes(self):
        cases = [
            ('unmasked', client_frame(1, b'hi', masked=False), 1002),
            ('oversize 64-bit length', client_frame(2, length=1 << 62)[:14], 1009),
            ('message over 64 KiB', client_frame(1, b'a' * 40000, fin=False) + client_frame(0, b'a' * 40000), 1009),
            ('bad UTF-8', client_frame(1, b'bad \xff\xfe'), 1007),
            ('overlong UTF-8', client_frame(1, b'\xc0\xaf'), 1007),
            ('reserved bit', bytes([0xC1]) + client_frame(1, b'x')[1:], 1002),
            ('fragmented ping', client_frame(9, b'p', fin=False), 1002),
            ('bad close code', client_frame(8, struct.pack('!H', 1005)), 1002),
            ('stray continuation', client_frame(0, b'x'), 1002),
        ]
        watcher = RawClient(self.server.port)  # a bystander: must see the good message, nothing else
        watcher.handshake()
        for what, frames, code in cases:
            with self.subTest(what):
                c = RawClient(self.server.port)
                try:
                    c.handshake()
                    c.sock.sendall(client_frame(1, what.encode()))
                    self.assertEqual(c.read_frame(), (1, what.encode()))  # the broadcast of its good message
                    try:
                        c.sock.sendall(frames)
                    except (BrokenPipeError, ConnectionResetError):
                        pass
                    self.assertEqual(c.read_close(), code)
                finally:
                    c.close()
                self.assertEqual(watcher.read_frame(), (1, what.encode()))
        watcher.close()
        self.assert_still_serving()

    def test_bad_upgrade_requests_get_http_errors(self):
        cases = [
            (b'GET / HTTP/1.1\r\nHost: x\r\n\r\n', '426'),
            (b'POST /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
             b'Sec-WebSocket-Key: ' + KEY.encode() + b'\r\nSec-WebSocket-Version: 13\r\n\r\n', '405'),
            (b'GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
             b'Sec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\n\r\n', '400'),
            (b'GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
             b'Sec-WebSocket-Key: ' + KEY.encode() + b'\r\nSec-WebSocket-Version: 8\r\n\r\n', '426'),
            (b'GET / HTTP/1.1\r\nHost: x\r\nX-Big: ' + b'a' * 20000, '431'),  # never ends
        ]
        for request, status in cases:
            with self.subTest(status=status, request=request[:30]):
                c = RawClient(self.server.port)
                try:
                    try:
                        c.sock.sendall(request)
                    except (BrokenPipeError, ConnectionResetError):
                        pass
                    head = c.read_http()
                    self.assertTrue(head.startswith('HTTP/1.1 %s ' % status), head)
                    self.assertIn('Connection: close', head)
                    if status == '426':
                        self.assertIn('Sec-WebSocket-Version: 13', head)
                finally:
                    c.close()
        self.assert_still_serving()

    def test_ping_flood_is_answered_in_order(self):
        c = RawClient(self.server.port)
        try:
            c.handshake()
            n = 2000
            c.sock.sendall(b''.join(client_frame(9, b'%d' % i) for i in range(n)))
            for i in range(n):
                self.assertEqual(c.read_frame(), (10, b'%d' % i))
            c.sock.sendall(client_frame(8, struct.pack('!H', 1000)))
            self.assertEqual(c.read_close(), 1000)
        finally:
            c.close()
        self.assert_still_serving()

    def test_single_frame_message_up_to_the_limit(self):
        # Browsers send a message as one frame: 64 KiB in one frame is accepted
        # (the frame limit follows the message limit), one byte more is 1009.
        async def scenario():
            a = await websockets.connect(self.url, open_timeout=DEFAULT_TIMEOUT, max_size=None)
            try:
                await a.send('x' * 65536)
                return await asyncio.wait_for(a.recv(), DEFAULT_TIMEOUT)
            finally:
                await a.close()
        self.assertEqual(self.run_async(scenario()), 'x' * 65536)
        c = RawClient(self.server.port)
        try:
            c.handshake()
            try:
                c.sock.sendall(client_frame(1, b'x' * 65537))
            except (BrokenPipeError, ConnectionResetError):
                pass
            self.assertEqual(c.read_close(), 1009)
        finally:
            c.close()

    def test_half_a_request_is_dropped_after_the_handshake_timeout(self):
        server = WsBroadcastProcess(ws_broadcast_path(), handshake_seconds=1.0).start()
        self.addCleanup(self.stop_server, server)
        idle = RawClient(server.port)  # upgraded, then silent: the handshake timer no longer applies
        idle.handshake()
        half = RawClient(server.port)
        half.sock.sendall(b'GET /chat HTTP/1.1\r\nHost: x\r\n')  # and nothing more
        # The server closes it without a response (before the socket timeout).
        got = b''
        try:
            while True:
                data = half.sock.recv(65536)
                if not data:
                    break
                got += data
        except ConnectionResetError:
            pass
        half.close()
        self.assertEqual(got, b'')
        # Well past the timeout, the idle upgraded client is still served.
        idle.sock.sendall(client_frame(1, b'still here'))
        self.assertEqual(idle.read_frame(), (1, b'still here'))
        idle.sock.sendall(client_frame(8, struct.pack('!H', 1000)))
        self.assertEqual(idle.read_close(), 1000)
        idle.close()


if __name__ == '__main__':
    unittest.main()
