"""Flood control on every protocol (docs/protocol.md 2.8, issue 13 item 3): a sender over
--message-rate / --message-burst gets an error for each refused message (HCP/2 ERROR 127,
text `ERROR 127 Rate limited`, HCP/1 one notice from "Server" per flood), and one that
stays over its rate for --flood-disconnect-after seconds is disconnected, while a
well-behaved user on the same server keeps chatting; connections per client address
(--max-connections-per-address) are refused at accept. Each limit is logged and counted
(the "limits:" line at shutdown)."""

import re
import time

from harness import ERROR, MESSAGE, SENT, Closed, H2Client, ServerTestCase, h1_message, h2_send, text_send

RATE, BURST, AFTER = 5, 10, 1
LIMITS = ('--message-rate', str(RATE), '--message-burst', str(BURST), '--flood-disconnect-after', str(AFTER))
FLOOD_BOUND = 8.0  # seconds: far above AFTER, so a slow machine still sees the disconnect


class FloodCase(ServerTestCase):
    server_args = LIMITS

    def calm_pair(self):
        """Two well-behaved HCP/2 users: one talks, the other must hear it."""
        return self.h2('calm-a'), self.h2('calm-b')

    def calm_exchange(self, a, b, n):
        text = 'calm %d' % n
        a.say_ok(text)
        b.expect(MESSAGE, lambda f: f.text == text)

    def flood_until_closed(self, client, one, a, b, period=0.01):
        """Sends `one` (bytes) every `period` s (far over RATE) and reads what comes back,
        until the server closes the connection; the calm pair chats every 0.3 s meanwhile.
        Returns the seconds it took."""
        t0 = time.monotonic()
        next_calm, n = t0, 0
        while not client.eof:
            now = time.monotonic()
            self.assertLess(now - t0, FLOOD_BOUND, 'a persistent flooder must be disconnected')
            try:
                client.send_raw(one)
            except (BrokenPipeError, ConnectionResetError):
                client.wait_closed()
                break
            client._fill(now + period)
            if now >= next_calm:
                self.calm_exchange(a, b, n)
                n, next_calm = n + 1, now + 0.3
        self.calm_exchange(a, b, n)   # and after the flooder is gone
        return time.monotonic() - t0

    def assert_logged_and_counted(self, flood_disconnects=1):
        self.wait_log(r'over the message rate \(%d/s, bursts of %d\): messages refused' % (RATE, BURST))
        self.wait_log(r'disconnected: flooding', count=flood_disconnects)
        self.server.stop()
        m = re.search(r'limits: (\d+) message\(s\) refused over the rate, (\d+) sender\(s\) disconnected for flooding',
                      self.server_log())
        self.assertIsNotNone(m, 'no limits line at shutdown')
        self.assertGreater(int(m.group(1)), 0)
        self.assertEqual(int(m.group(2)), flood_disconnects)


class Hcp2Flood(FloodCase):

    def test_burst_then_errors_127_then_disconnect(self):
        a, b = self.calm_pair()
        f = self.h2('flooder')
        count = BURST + 20
        f.send_raw(b''.join(h2_send('f%d' % i, ref=i + 1) for i in range(count)))
        replies = [f.expect((SENT, ERROR)) for _ in range(count)]
        self.assertEqual(sorted(r.ref for r in replies), list(range(1, count + 1)), 'one reply per SEND')
        sent = [r for r in replies if r.type == SENT]
        refused = [r for r in replies if r.type == ERROR]
        self.assertGreaterEqual(len(sent), BURST)
        self.assertLessEqual(len(sent), BURST + 2, 'the burst is %d, refilled at %d/s' % (BURST, RATE))
        self.assertEqual({r.code for r in refused}, {127}, refused[:3])
        self.assertTrue(all('too many messages' in r.message for r in refused), refused[:1])
        # Only what was accepted reached the others.
        got = [m.text for m in b.frames_within(0.3) if m.type == MESSAGE and m.sender == 'flooder']
        self.assertEqual(len(got), len(sent))
        self.calm_exchange(a, b, -1)
        self.assertFalse(f.eof, 'a burst alone is no reason to disconnect')
        self.flood_until_closed(f, h2_send('more', ref=99), a, b)
        last = [fr for fr in f.frames_within(0) if fr.type == ERROR][-1]
        self.assertEqual((last.code, last.ref), (127, 99))
        self.assertIn('disconnected for flooding', last.message)
        self.assert_still_serving()
        self.assert_logged_and_counted()

    def test_a_sender_under_the_rate_is_never_refused(self):
        a, b = self.calm_pair()
        for i in range(BURST + 2 * RATE):   # the burst at once, then below the rate
            if i >= BURST:
                time.sleep(1.5 / RATE)      # pacing a sender, not a synchronisation
            self.calm_exchange(a, b, i)


class Hcp1Flood(FloodCase):

    def test_burst_then_one_notice_then_disconnect(self):
        a, b = self.calm_pair()
        f = self.h1('flooder')
        count = BURST + 20
        f.send_raw(b''.join(h1_message('flooder', 'All', 'f%d' % i) for i in range(count)))
        notice = f.expect(lambda p: p.type == 5)
        self.assertEqual((notice.sender, notice.receiver), ('Server', 'flooder'))
        self.assertIn('rate limited', notice.text)
        got = [m.text for m in b.frames_within(0.3) if m.type == MESSAGE and m.sender == 'flooder']
        self.assertGreaterEqual(len(got), BURST)
        self.assertLessEqual(len(got), BURST + 2)
        self.assertEqual([p for p in f.packets_within(0.2) if p.type == 5], [], 'one notice per flood')
        self.calm_exchange(a, b, -1)
        self.flood_until_closed(f, h1_message('flooder', 'All', 'more'), a, b)
        texts = []
        while True:
            try:
                texts.append(f.recv_packet(0.5).text)
            except (Closed, TimeoutError):
                break
        self.assertTrue(any('disconnected: flooding' in t for t in texts), texts[-3:])
        self.assert_still_serving()
        self.assert_logged_and_counted()


class TextFlood(FloodCase):

    def test_burst_then_error_127_then_disconnect(self):
        a, b = self.calm_pair()
        f = self.text('flooder')
        count = BURST + 20
        f.tx.send_raw(b''.join(text_send('ALL', 'f%d' % i) for i in range(count)))
        replies = [f.reply() for _ in range(count)]
        sent = [r for r in replies if r.kind == 'SENT']
        refused = [r for r in replies if r.kind == 'ERROR']
        self.assertEqual(len(sent) + len(refused), count)
        self.assertGreaterEqual(len(sent), BURST)
        self.assertLessEqual(len(sent), BURST + 2)
        self.assertEqual({r.raw for r in refused}, {b'ERROR 127 Rate limited\n\n'})
        got = [m.text for m in b.frames_within(0.3) if m.type == MESSAGE and m.sender == 'flooder']
        self.assertEqual(len(got), len(sent))
        self.calm_exchange(a, b, -1)
        self.flood_until_closed(f.tx, text_send('ALL', 'more'), a, b)
        last = [m for m in f.tx.msgs_within(0) if m.kind == 'ERROR'][-1]
        self.assertEqual(last.raw, b'ERROR 127 Rate limited: disconnected for flooding\n\n')
        self.assert_still_serving()
        self.assert_logged_and_counted()


class NoDisconnect(FloodCase):
    server_args = ('--message-rate', str(RATE), '--message-burst', str(BURST), '--flood-disconnect-after', '0')

    def test_zero_refuses_but_never_disconnects(self):
        a, b = self.calm_pair()
        f = self.h2('flooder')
        t0 = time.monotonic()
        refused = 0
        while time.monotonic() - t0 < AFTER + 1.0:   # longer than a disconnect would take
            ref = f.say('x')
            r = f.expect((SENT, ERROR), lambda fr: fr.ref == ref)
            refused += r.type == ERROR
        self.assertGreater(refused, 0)
        self.assertFalse(f.eof)
        self.calm_exchange(a, b, 0)


class NoRateLimit(FloodCase):
    server_args = ('--message-rate', '0', '--message-burst', '1')

    def test_zero_rate_is_no_limit(self):
        a = self.h2('pub')
        count = 300
        a.send_raw(b''.join(h2_send('m%d' % i, ref=i + 1) for i in range(count)))
        self.assertEqual({a.expect((SENT, ERROR)).type for _ in range(count)}, {SENT})


class DefaultsAllowABigBurst(ServerTestCase):
    # The defaults (--message-burst 5000) let a pasted or scripted burst through.

    def test_default_burst(self):
        a, b = self.h2('pub'), self.h2('sub')
        count = 3000
        a.send_raw(b''.join(h2_send('m%d' % i, ref=i + 1) for i in range(count)))
        self.assertEqual({a.expect((SENT, ERROR), timeout=20).type for _ in range(count)}, {SENT})
        self.assertEqual(len([b.expect(MESSAGE, timeout=20) for _ in range(count)]), count)


class PerAddress(ServerTestCase):
    LIMIT = 5
    server_args = ('--max-connections-per-address', str(LIMIT))

    def test_connections_beyond_the_limit_are_refused_at_accept(self):
        held = [self.h2('held-%d' % i) if i % 2 else self.h1('held-%d' % i) for i in range(self.LIMIT)]
        extra = self.raw()
        self.assertTrue(extra.wait_closed(), 'connection %d from one address must be closed' % (self.LIMIT + 1))
        self.assertEqual(extra.recv_available(0), b'')
        self.wait_log(r'connection refused: %d connections from 127\.0\.0\.1 already' % self.LIMIT)
        # The held ones are untouched.
        held[1].say_ok('still fine')
        # One leaves: one more may come.
        held[0].close()
        self.wait_log(r'held-0 is offline now')
        again = None
        deadline = time.monotonic() + 5
        while again is None:   # the slot is freed as the session ends, just after its last log line
            c = H2Client(self.port)
            self._clients.append(c)
            try:
                c.register('again')
                again = c
            except (Closed, ConnectionResetError, BrokenPipeError):
                c.close()
                self.assertLess(time.monotonic() - deadline, 0, 'a freed slot must be usable again')
                time.sleep(0.02)  # polls a slot freed on another thread, bounded by the deadline
        again.say_ok('in again')
        for c in held[1:] + [again]:
            c.close()
        self.wait_log(r'no user online now')
        self.assert_still_serving()
        self.server.stop()
        m = re.search(r'(\d+) connection\(s\) refused \(per address\)', self.server_log())
        self.assertIsNotNone(m)
        self.assertGreaterEqual(int(m.group(1)), 1)


class HelpListsTheLimits(ServerTestCase):

    def test_help(self):
        import subprocess
        from harness import server_path
        out = subprocess.run([server_path(), '--help'], capture_output=True, text=True, timeout=10).stdout
        for opt, default in (('--message-rate', '1000'), ('--message-burst', '5000'),
                             ('--flood-disconnect-after', '10'), ('--max-connections-per-address', '256')):
            self.assertRegex(out, re.escape(opt) + r'[\s\S]*?\(default: ' + default + r'\)')


class ReadBackpressure(ServerTestCase):
    """HCP/1 and text senders, like HCP/2 ones, are not read further while 256 of their
    whispers wait for the store: nothing is lost, and the pauses are counted."""
    COUNT = 700

    def pauses(self):
        self.server.stop()
        m = re.search(r'(\d+) read pause\(s\) for the store', self.server_log())
        self.assertIsNotNone(m, 'no limits line at shutdown')
        return int(m.group(1))

    def replayed_to(self, name, count):
        c, messages, _ = self.signed_in(name)
        texts = [m.text for m in messages]
        while len(texts) < count:   # committed after the login's cut: they come live
            texts.append(c.expect(MESSAGE, timeout=10).text)
        return texts

    def test_hcp1_sender(self):
        self.account('carol').close()
        self.wait_log(r'carol is offline now')
        s = self.h1('sender')
        s.send_raw(b''.join(h1_message('sender', 'carol', 'w%d' % i) for i in range(self.COUNT)))
        self.assertEqual(self.replayed_to('carol', self.COUNT), ['w%d' % i for i in range(self.COUNT)])
        self.assert_still_serving()
        self.assertGreater(self.pauses(), 0)

    def test_text_sender(self):
        self.account('carol').close()
        self.wait_log(r'carol is offline now')
        s = self.text('sender')
        s.tx.send_raw(b''.join(text_send('carol', 'w%d' % i) for i in range(self.COUNT)))
        self.assertEqual({s.reply(timeout=20).raw for _ in range(self.COUNT)}, {b'SENT carol\n\n'})
        self.assertEqual(self.replayed_to('carol', self.COUNT), ['w%d' % i for i in range(self.COUNT)])
        self.assert_still_serving()
        self.assertGreater(self.pauses(), 0)
