"""F. Hostile basics. Each test ends by checking that well-behaved clients on the same
server still register and chat (ServerTestCase.assert_still_serving)."""

import random
import socket
import struct
import threading
import time
import unittest

from harness import (ERROR, JOINED, LEFT, MESSAGE, SENT, Closed, H1Client, H2Client,
                     ServerTestCase, _SocketClient, connect, h1_message, h1_proposal, h2_frame, h2_hello, h2_name,
                     h2_send)


class Garbage(ServerTestCase):

    def assert_closed_after(self, data):
        c = self.raw()
        try:
            c.send_raw(data)
            c.sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.assertTrue(c.wait_closed(), 'first bytes %r must close the connection' % (data[:20],))
        return c.recv_available(0)

    def test_garbage_first_bytes_answered_101_and_closed(self):
        # Neither HCP/1 nor HCP/2: the text protocol's, which answers anything before
        # registration with ERROR 101 (seed 002; test_seed_conformance.py) and nothing else.
        for data in (b'\x09garbage', b'GET / HTTP/1.1\r\nHost: x\r\n\r\n', b'\xff' * 100, b'\x06hello', b'\x7f',
                     b'\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03'):    # a TLS ClientHello start
            with self.subTest(data=data[:12]):
                self.assertEqual(self.assert_closed_after(data), b'ERROR 101 No user registered\n\n')
        self.assert_still_serving()

    def test_unknown_hcp1_type_after_name_closes(self):
        a = self.h2('Amy')
        c = self.h1('Jon')
        a.expect(JOINED, lambda f: f.name == 'Jon')
        c.send_raw(b'\x09' + b'x' * 200)
        self.assertTrue(c.wait_closed())
        self.assertEqual(a.expect(LEFT).name, 'Jon')
        self.assert_still_serving()

    def test_hcp2_huge_length_rejected_without_buffering(self):
        for when in ('first frame', 'after HELLO', 'after NAME'):
            with self.subTest(when=when):
                c = self.h2()
                if when != 'first frame':
                    c.hello()
                if when == 'after NAME':
                    c.propose('big-' + str(id(c)))
                    c.expect(0x84)
                t0 = time.monotonic()
                # announce 10 MB and send only the header: the answer must not wait for the payload
                c.send_raw(struct.pack('>IB', 10 * 1024 * 1024, 0x03) + b'\x00' * 100)
                try:
                    e = c.expect(ERROR, timeout=3)
                    self.assertEqual(e.code, 107, e)
                except Closed:
                    pass                               # a close is acceptable too
                self.assertTrue(c.wait_closed(3), 'the connection must be closed')
                self.assertLess(time.monotonic() - t0, 3)
        c = self.h2('maxlen')
        c.send_raw(b'\xff\xff\xff\xff')               # 4 GiB - 1 (not an HCP/2 first byte after HELLO, but a length)
        self.assertTrue(c.wait_closed(3))
        self.assert_still_serving()

    def test_hcp2_streaming_10mb_frame_does_not_grow_server(self):
        rss0 = self.rss_kb()
        c = self.h2('big')
        c.send_raw(struct.pack('>IB', 10 * 1024 * 1024, 0x03))
        sent = 0
        chunk = b'\x00' * 65536
        try:
            while sent < 10 * 1024 * 1024:
                c.sock.settimeout(2)
                c.sock.sendall(chunk)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError, TimeoutError, OSError):
            pass
        self.assertTrue(c.wait_closed(3))
        rss1 = self.rss_kb()
        if rss0 and rss1:
            self.assertLess(rss1 - rss0, 8 * 1024, 'server RSS grew by %d KiB for a refused frame' % (rss1 - rss0))
        self.assert_still_serving()

    def rss_kb(self):
        try:
            with open('/proc/%d/status' % self.server.proc.pid) as f:
                for line in f:
                    if line.startswith('VmRSS:'):
                        return int(line.split()[1])
        except OSError:
            return None
        return None

    def test_hcp2_zero_length_frame(self):
        c = self.h2('zero')
        c.send_raw(b'\x00\x00\x00\x00')
        try:
            e = c.expect(ERROR, timeout=3)
            self.assertEqual(e.code, 103, e)
        except Closed:
            pass
        self.assertTrue(c.wait_closed(3), 'a zero length field is malformed: close')
        self.assert_still_serving()


class Disconnects(ServerTestCase):

    def test_hcp1_disconnect_mid_packet(self):
        """Cut where docs/protocol.md 1.4 says the packet is incomplete (inside the 129-byte
        header, before the first text byte, inside a UTF-8 sequence): never delivered. (A cut
        between two characters of the text is a complete HCP/1 packet by 1.4: not tested.)"""
        text = 'cut in the € sign'
        cuts = {'header': 100, 'before-text': 129, 'utf8': 129 + text.encode().index('€'.encode()) + 1}
        for how in ('close', 'reset'):
            for where, cut in cuts.items():
                with self.subTest(how=how, where=where):
                    tag = '%s-%s' % (how, where)
                    a = self.h2('Amy-' + tag)
                    c = self.h1('Jon-' + tag)
                    a.expect(JOINED, lambda f: f.name == 'Jon-' + tag)
                    c.send_raw(h1_message('Jon-' + tag, 'All', text)[:cut])
                    c.abort() if how == 'reset' else c.close()
                    self.assertEqual(a.expect(LEFT, lambda f: f.name == 'Jon-' + tag).name, 'Jon-' + tag)
                    self.assertEqual([f for f in a.frames_within(0.2) if f.type == MESSAGE], [])
                    a.close()
        self.assert_still_serving()

    def test_hcp1_disconnect_mid_proposal(self):
        a = self.h2('Amy')
        c = self.raw()
        c.send_raw(h1_proposal('Ghost')[:30])
        c.close()
        self.assertEqual([f for f in a.frames_within() if f.type in (JOINED, LEFT) and f.name != 'Amy'], [])
        self.assert_still_serving()
        b = self.h2('Ghost')
        self.assertEqual(b.name, 'Ghost')

    def test_hcp2_disconnect_mid_frame(self):
        for how in ('close', 'reset'):
            for cut in (2, 7, 20):
                with self.subTest(how=how, cut=cut):
                    tag = '%s-%d' % (how, cut)
                    a = self.h2('Amy-' + tag)
                    c = self.h2('Bob-' + tag)
                    a.expect(JOINED, lambda f: f.name == 'Bob-' + tag)
                    c.send_raw(h2_send('cut short, never delivered', 'Amy-' + tag, ref=1)[:cut])
                    c.abort() if how == 'reset' else c.close()
                    # A batch may also say the previous subtest's users left (issue 12).
                    a.expect(LEFT, lambda f: f.name == 'Bob-' + tag)
                    self.assertEqual([f for f in a.frames_within(0.2) if f.type == MESSAGE], [])
                    a.close()
        self.assert_still_serving()

    def test_hcp2_disconnect_during_handshake(self):
        for data in (b'\x00', h2_hello()[:6], h2_hello(), h2_hello() + h2_frame(0x02, h2_name('Half'))[:5]):
            c = self.raw()
            c.send_raw(data)
            c.abort()
        self.assert_still_serving()
        self.h2('Half')

    def test_200_connections_opened_and_closed_abruptly(self):
        watcher = self.h2('Watcher')
        rng = random.Random(1234)
        openers = [b'', b'\x01', h1_proposal('Churn')[:40], h2_hello(), h2_hello()[:3], b'\x05' + b'x' * 50]
        t0 = time.monotonic()
        for i in range(200):
            s = connect(self.port)
            c = _SocketClient(self.port, sock=s)
            data = rng.choice(openers)
            if data:
                c.send_raw(data)
            if i % 2:
                c.abort()
            else:
                c.close()
        # and some that register first
        for i in range(20):
            c = H1Client(self.port) if i % 2 else H2Client(self.port)
            c.register('churn-%d' % i)
            c.abort()
        self.assertLess(time.monotonic() - t0, 15)
        self.assert_still_serving()
        frames = watcher.frames_within(0.2)
        names = {f.name for f in frames if f.type in (JOINED, LEFT)}
        self.assertTrue({'churn-%d' % i for i in range(20)} <= names)
        watcher.who()
        users = watcher.expect(0x84).users
        self.assertEqual([u for u in users if u.startswith('churn')], [], 'every abrupt leaver was removed')


class Spoofing(ServerTestCase):

    def test_spoofed_sender_not_delivered(self):
        amy = self.h2('Amy')
        bob = self.h1('Bob')
        mal = self.h1('Mallory')
        amy.expect(JOINED, lambda f: f.name == 'Mallory')
        bob.packets_within(0.2)
        mal.send_raw(h1_message('Amy', 'All', 'I am Amy, honest'))
        mal.send_raw(h1_message('Amy', 'Bob', 'whisper as Amy'))
        mal.send_raw(h1_message('Bob', 'Amy', 'whisper as Bob'))
        self.assertEqual([f for f in amy.frames_within() if f.type == MESSAGE], [])
        self.assertEqual([p for p in bob.packets_within(0.1) if p.type == 5], [])
        self.assertTrue(self.wait_log(r"sender 'Amy' is not that connection's name"))
        # Mallory's own name still works
        mal.say('hi, it is Mallory')
        self.assertEqual(amy.expect(MESSAGE).sender, 'Mallory')
        self.assert_still_serving()

    def test_type5_from_unnamed_connection_not_delivered(self):
        amy = self.h2('Amy')
        bob = self.h1('Bob')
        amy.expect(JOINED, lambda f: f.name == 'Bob')
        anon = self.raw()
        anon.send_raw(h1_message('Amy', 'All', 'anonymous as Amy') + h1_message('Ghost', 'Bob', 'anonymous'))
        self.assertEqual([f for f in amy.frames_within() if f.type == MESSAGE], [])
        self.assertEqual([p for p in bob.packets_within(0.1) if p.type == 5], [])
        self.assertEqual(anon.recv_available(0.05), b'')
        self.assertTrue(self.wait_log(r'message from a connection without a name'))
        self.assert_still_serving()

    def test_hcp1_cannot_take_a_hcp2_name(self):
        self.h2('Amy')
        c = self.h1()
        c.propose('Amy')
        self.assertEqual(c.recv_packet().type, 3)


class SlowConsumer(ServerTestCase):
    server_args = ('--outbox-bytes', '1048576')

    N = 2000
    SIZE = 10000                      # 2000 x 10 kB = 20 MB of broadcasts
    WINDOW = 50                       # the publisher waits for the fast readers every 50 messages

    def test_slow_reader_disconnected_others_receive_everything(self):
        slow = H2Client(self.port, sock=connect(self.port, rcvbuf=4096))
        self._clients.append(slow)
        slow.register('slow')
        fast2 = self.h2('fast2')
        fast1 = self.h1('fast1')
        pub = self.h2('pub')
        fast2.drain()
        fast1.packets_within(0.2)
        slow.sock.settimeout(None)

        counts = {'fast2': 0, 'fast1': 0}
        cond = threading.Condition()
        errors = []
        left_seen = []

        def read_h2():
            try:
                for i in range(self.N):
                    f = fast2.expect(MESSAGE, timeout=10)
                    if f.text[:8] != '%08d' % i or len(f.text) != self.SIZE:
                        errors.append('fast2 #%d: %r' % (i, f.text[:10]))
                        return
                    with cond:
                        counts['fast2'] += 1
                        cond.notify_all()
            except Exception as e:  # noqa: BLE001
                errors.append('fast2: %r' % e)
                with cond:
                    cond.notify_all()

        def read_h1():
            try:
                i = 0
                while i < self.N:
                    p = fast1.recv_packet(timeout=10)
                    if p.type == 4:
                        left_seen.append(p.users)
                        continue
                    if p.type != 5 or p.text[:8] != '%08d' % i or len(p.text) != self.SIZE:
                        errors.append('fast1 #%d: %r' % (i, p))
                        return
                    i += 1
                    with cond:
                        counts['fast1'] += 1
                        cond.notify_all()
            except Exception as e:  # noqa: BLE001
                errors.append('fast1: %r' % e)
                with cond:
                    cond.notify_all()

        readers = [threading.Thread(target=read_h2, daemon=True), threading.Thread(target=read_h1, daemon=True)]
        for t in readers:
            t.start()
        t0 = time.monotonic()
        pad = 'x' * (self.SIZE - 8)
        for i in range(self.N):
            pub.send_raw(h2_send('%08d' % i + pad, ref=i + 1))
            if (i + 1) % self.WINDOW == 0:
                with cond:
                    ok = cond.wait_for(lambda: errors or min(counts.values()) >= i + 1 - self.WINDOW, 10)
                self.assertTrue(ok and not errors, 'fast readers stalled at %r: %r' % (counts, errors))
        for t in readers:
            t.join(15)
        self.assertEqual(errors, [])
        self.assertEqual(counts, {'fast2': self.N, 'fast1': self.N})
        self.assertLess(time.monotonic() - t0, 15)
        # the publisher got a SENT for each message
        refs = set()
        while len(refs) < self.N:
            refs.add(pub.expect(SENT, timeout=5).ref)
        # the slow one was disconnected, and everyone heard it leave
        self.assertEqual(fast2.expect(LEFT, lambda f: f.name == 'slow').name, 'slow')
        if not any('slow' not in users for users in left_seen):
            fast1.expect(lambda p: p.type == 4 and 'slow' not in p.users, what='update without slow')
        self.assertTrue(self.wait_log(r'disconnected: the receiver fell too far behind'), self.server_log()[-2000:])
        slow.sock.settimeout(5)
        got = 0
        try:
            while True:
                f = slow.recv_frame(5)
                got += f.type == MESSAGE
        except (Closed, TimeoutError):
            pass
        self.assertTrue(slow.eof, 'the slow reader must find its connection closed')
        self.assertLess(got, self.N)
        self.assert_still_serving()


class SlowConsumerDrop(ServerTestCase):
    server_args = ('--outbox-bytes', '65536', '--slow-consumer', 'drop')

    def test_drop_policy_keeps_slow_reader_and_reports_dropped(self):
        slow = H2Client(self.port, sock=connect(self.port, rcvbuf=4096))
        self._clients.append(slow)
        slow.register('slow')
        pub = self.h2('pub')
        fast = self.h2('fast')
        n, pad = 600, 'y' * 10000
        for i in range(n):
            pub.send_raw(h2_send('%08d' % i + pad))
            if i % 50 == 49:
                while True:
                    f = fast.expect(MESSAGE, timeout=10)
                    if f.text.startswith('%08d' % i):
                        break
        got, dropped, last = 0, 0, None
        slow.sock.settimeout(5)
        while last != '%08d' % (n - 1):
            f = slow.recv_frame(5)
            if f.type == MESSAGE:
                got += 1
                last = f.text[:8]
            elif f.type == 0x8A:
                dropped += f.count
        self.assertFalse(slow.eof)
        self.assertGreater(dropped, 0, 'a DROPPED frame must report the dropped messages')
        self.assertGreaterEqual(got + dropped, n)
        self.assertLess(got, n)
        slow.ping(5)
        self.assertEqual(slow.expect(0x8B).token, 5)
        self.assert_still_serving()


if __name__ == '__main__':
    unittest.main()
