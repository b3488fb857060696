"""D. HCP/2 end to end (docs/protocol.md section 2)."""

import time
import unittest

from harness import (BYE, ERROR, JOINED, LEFT, MESSAGE, NAME, NAME_OK, NAME_REFUSED, PONG, SENT, USERS,
                     WELCOME, Closed, ServerTestCase, h2_frame, h2_hello, h2_name, h2_send)


class Hcp2Protocol(ServerTestCase):

    def assert_open(self, c):
        """The connection is still served: a PING gets its PONG."""
        token = int(time.monotonic_ns()) & 0xFFFFFFFFFFFF
        c.ping(token)
        self.assertEqual(c.expect(PONG).token, token)

    def assert_error_then_close(self, c, code):
        e = c.expect(ERROR)
        self.assertEqual(e.code, code, e)
        self.assertTrue(c.wait_closed(), 'the server must close after ERROR %d' % code)
        return e

    # -- handshake ------------------------------------------------------
    def test_hello_welcome(self):
        c = self.h2()
        w = c.hello()
        self.assertEqual(w.version, 2)
        self.assertEqual(w.max_frame, 65536)
        self.assertIsInstance(w.info, str)
        self.assertEqual(c.frames_within(0.2), [], 'nothing but WELCOME after HELLO')

    def test_hello_with_unknown_flags_accepted(self):
        c = self.h2()
        c.send_raw(h2_hello(flags=0xFFFFFFFF))
        self.assertEqual(c.expect(WELCOME).version, 2)

    def test_hello_wrong_version_error_106(self):
        c = self.h2()
        c.send_raw(h2_hello(version=3))
        self.assert_error_then_close(c, 106)

    def test_first_frame_not_hello_error_106(self):
        c = self.h2()
        c.send_frame(NAME, h2_name('Jon'))
        self.assert_error_then_close(c, 106)

    # -- names ----------------------------------------------------------
    def test_name_ok_then_users(self):
        a = self.h2('Amy')
        c = self.h2()
        c.hello()
        c.propose('Jon')
        ok = c.recv_frame()
        self.assertEqual((ok.type, ok.name), (NAME_OK, 'Jon'))
        users = c.recv_frame()
        self.assertEqual((users.type, users.users), (USERS, ['Amy', 'Jon']))
        self.assertEqual(a.expect(JOINED, lambda f: f.name != 'Amy').name, 'Jon')

    def test_new_user_gets_name_ok_users_and_at_most_its_own_joined(self):
        """Spec 2.4 / 2.14: NAME_OK, then USERS (itself included); joins are batched per tick and a
        batch is the same buffer for everyone, so the new user may also get a JOINED for its own
        name (issue 12: it used to be left out). It changes nothing for a client that applies it
        as set membership, which 2.14 asks of clients."""
        c = self.h2()
        c.hello()
        c.propose('Jon')
        frames = [c.recv_frame(), c.recv_frame()] + c.frames_within()
        self.assertEqual([f.type for f in frames[:2]], [NAME_OK, USERS], frames)
        self.assertEqual(frames[1].users, ['Jon'])
        self.assertEqual([(f.type, f.name) for f in frames[2:]], [(JOINED, 'Jon')][:len(frames) - 2],
                         'nothing but (at most) our own JOINED, got %r' % (frames,))

    def test_name_refused_taken_104(self):
        self.h2('Jon')
        c = self.h2()
        c.hello()
        c.propose('Jon')
        r = c.expect(NAME_REFUSED)
        self.assertEqual((r.code, r.name), (104, 'Jon'))
        self.assertTrue(r.reason)
        c.propose('Jon2')
        self.assertEqual(c.expect(NAME_OK).name, 'Jon2')

    def test_name_refused_reserved_105(self):
        c = self.h2()
        c.hello()
        for reserved in ('All', 'Server'):
            c.propose(reserved)
            r = c.expect(NAME_REFUSED)
            self.assertEqual((r.code, r.name), (105, reserved))
        for reserved in ('all', 'ALL', 'server', '\uff21\uff4c\uff4c'):   # by NFKC case folding (fullwidth Ａｌｌ too)
            c.propose(reserved)
            r = c.expect(NAME_REFUSED)
            self.assertEqual((r.code, r.name), (105, reserved))
        c.propose('Allan')
        self.assertEqual(c.expect(NAME_OK).name, 'Allan')

    def test_name_refused_malformed_100(self):
        c = self.h2()
        c.hello()
        for bad in (b'', b'\xff\xfe', b'a\x00b', b'a\x01b', b'\xc0\xaf', b'\xed\xa0\x80'):
            c.send_frame(NAME, h2_name(bad))
            r = c.expect(NAME_REFUSED)
            self.assertEqual(r.code, 100, 'name %r: %r' % (bad, r))
        self.assert_open(c)
        c.propose('x' * 64)                    # 64 bytes is the limit, and fine
        self.assertEqual(c.expect(NAME_OK).name, 'x' * 64)

    def test_name_longer_than_64_is_malformed_frame_103(self):
        c = self.h2()
        c.hello()
        c.send_frame(NAME, bytes([65]) + b'y' * 65)
        self.assert_error_then_close(c, 103)

    def test_second_name_error_113(self):
        c = self.h2('Jon')
        c.propose('Jonathan')
        self.assertEqual(c.expect(ERROR).code, 113)
        self.assert_open(c)
        c.who()
        self.assertEqual(c.expect(USERS).users, ['Jon'])

    # -- presence -------------------------------------------------------
    def test_joined_and_left(self):
        a = self.h2('Amy')
        b = self.h2('Bob')
        self.assertEqual(a.expect(JOINED, lambda f: f.name == 'Bob').name, 'Bob')
        b.close()
        self.assertEqual(a.expect(LEFT).name, 'Bob')
        c = self.h2()
        c.hello()
        c.close()                              # an unnamed connection leaves silently
        self.assertEqual([f for f in a.frames_within() if f.type in (JOINED, LEFT) and f.name != 'Amy'], [])

    def test_who(self):
        a = self.h2()
        a.hello()
        a.who()                                # allowed before NAME
        self.assertEqual(a.expect(USERS).users, [])
        a.propose('Amy')
        a.expect(NAME_OK)
        a.expect(USERS)
        self.h2('Bob')
        a.who()
        self.assertEqual(a.expect(USERS).users, ['Amy', 'Bob'])

    # -- messages -------------------------------------------------------
    def test_send_all_message_to_others_and_sent_to_sender(self):
        a, b, c = self.h2('Amy'), self.h2('Bob'), self.h2('Cid')
        ref = a.say('hello all', ref=77)
        sent = a.expect(SENT)
        self.assertEqual(sent.ref, 77)
        self.assertGreater(sent.id, 0)
        for x in (b, c):
            m = x.expect(MESSAGE)
            self.assertEqual((m.id, m.kind, m.sender, m.target, m.text), (sent.id, 0, 'Amy', '', 'hello all'))
        self.assertEqual([f for f in a.frames_within() if f.type == MESSAGE], [], 'no echo to the sender')
        self.assertEqual(ref, 77)

    def test_whisper_only_to_target(self):
        a, b, c = self.h2('Amy'), self.h2('Bob'), self.h2('Cid')
        a.say('psst', to='Bob', ref=5)
        sent = a.expect(SENT)
        self.assertEqual(sent.ref, 5)
        m = b.expect(MESSAGE)
        self.assertEqual((m.id, m.kind, m.sender, m.target, m.text), (sent.id, 1, 'Amy', 'Bob', 'psst'))
        self.assertEqual([f for f in c.frames_within() if f.type == MESSAGE], [])

    def test_message_ids_increase(self):
        a, b = self.h2('Amy'), self.h2('Bob')
        ids = [a.say_ok('m%d' % i).id for i in range(5)]
        self.assertEqual(ids, sorted(set(ids)))
        self.assertEqual([b.expect(MESSAGE).id for _ in range(5)], ids)

    def test_unknown_recipient_error_102_with_ref(self):
        a = self.h2('Amy')
        a.say('hello?', to='Nobody', ref=0xDEADBEEF)
        e = a.expect(ERROR)
        self.assertEqual((e.code, e.ref), (102, 0xDEADBEEF))
        self.assert_open(a)

    def test_room_target_not_joined_error_120(self):
        a = self.h2('Amy')
        self.h2('Bob')
        a.say('to a room', to='lobby', kind=2, ref=9)
        e = a.expect(ERROR)
        self.assertEqual((e.code, e.ref), (120, 9))
        self.assert_open(a)

    def test_send_before_name_error_101(self):
        b = self.h2('Bob')
        a = self.h2()
        a.hello()
        a.say('too early', ref=3)
        e = a.expect(ERROR)
        self.assertEqual((e.code, e.ref), (101, 3))
        self.assertEqual([f for f in b.frames_within() if f.type == MESSAGE], [])
        a.propose('Amy')
        self.assertEqual(a.expect(NAME_OK).name, 'Amy')

    def test_send_malformed_empty_text_error_103(self):
        a = self.h2('Amy')
        a.send_raw(h2_send(b'', ref=4))
        self.assert_error_then_close(a, 103)

    def test_send_malformed_invalid_utf8_error_103(self):
        a = self.h2('Amy')
        a.send_raw(h2_send(b'\xff\xfe bad', ref=4))
        self.assert_error_then_close(a, 103)

    def test_send_all_with_target_is_malformed_103(self):
        self.h2('Bob')
        a = self.h2('Amy')
        a.send_raw(h2_send('hi', target='Bob', kind=0, ref=4))
        self.assert_error_then_close(a, 103)

    def test_truncated_payload_is_malformed_103(self):
        a = self.h2('Amy')
        a.send_frame(0x04, b'\x01\x02')        # PING with 2 of 8 token bytes
        self.assert_error_then_close(a, 103)

    def test_largest_send_fits_max_frame(self):
        a, b = self.h2('Amy'), self.h2('Bob')
        text = 'z' * (65536 - 7 - 3)           # max frame - 7 - len('Bob')
        a.send_raw(h2_send(text, 'Bob', 1, ref=1))
        self.assertEqual(a.expect(SENT).ref, 1)
        self.assertEqual(len(b.expect(MESSAGE).text), len(text))

    def test_utf8_text_round_trip(self):
        a, b = self.h2('Åsa'), self.h2('Борис')
        text = 'Grüße, 世界 😀 — \u200b ok'
        a.say(text, to='Борис')
        m = b.expect(MESSAGE)
        self.assertEqual((m.sender, m.text), ('Åsa', text))

    # -- misc -----------------------------------------------------------
    def test_ping_pong(self):
        c = self.h2()
        c.hello()
        c.ping(0x0102030405060708)            # before NAME
        self.assertEqual(c.expect(PONG).token, 0x0102030405060708)
        c.propose('Amy')
        c.expect(NAME_OK)
        for token in (0, 2 ** 64 - 1, 42):
            c.ping(token)
            self.assertEqual(c.expect(PONG).token, token)

    def test_bye_closes_and_others_get_left(self):
        a = self.h2('Amy')
        b = self.h2('Bob')
        b.say('last words', to='Amy')
        b.bye()
        self.assertEqual(b.expect(SENT).ref, 1, 'what is queued is flushed before closing')
        self.assertTrue(b.wait_closed(), 'BYE closes the connection')
        self.assertEqual(a.expect(MESSAGE).text, 'last words')
        self.assertEqual(a.expect(LEFT).name, 'Bob')
        self.assertTrue(self.wait_log(r'Bob said goodbye'))

    def test_unknown_frame_type_error_108_stays_connected(self):
        a = self.h2()
        a.hello()
        a.send_frame(0x50, b'future frame')                # before NAME
        self.assertEqual(a.expect(ERROR).code, 108)
        a.propose('Amy')
        self.assertEqual(a.expect(NAME_OK).name, 'Amy')
        for t in (0x00, 0x07, 0x13, 0x21, 0x3F, 0x7F, 0x80, 0x89, 0x8C, 0xFF):
            a.send_frame(t, b'\x00' * 10)
            e = a.expect(ERROR)
            self.assertEqual(e.code, 108, 'type 0x%02x: %r' % (t, e))
        a.send_frame(0x8B, b'\x00' * 8)                # a well-formed server frame (PONG)
        self.assertEqual(a.expect(ERROR).code, 108)
        self.assert_open(a)
        b = self.h2('Bob')
        a.say('still chatting', to='Bob')
        self.assertEqual(b.expect(MESSAGE).text, 'still chatting')

    def test_server_frame_types_from_client_error_108(self):   # as that server frame gets 103 + close
        """Spec 2.4: any type the server does not handle as a client frame, including
        0x80..0xFF, gets ERROR 108 and is skipped, whatever its payload."""
        a = self.h2('Amy')
        for t in (0x81, 0x84, 0x87, 0x8F):
            a.send_frame(t, b'\x00')
            e = a.expect(ERROR)
            self.assertEqual(e.code, 108, 'type 0x%02x: %r' % (t, e))
        self.assert_open(a)

    def test_frames_split_byte_by_byte(self):
        a = self.h2('Amy')
        b = self.h2()
        data = h2_hello() + h2_frame(NAME, h2_name('Bob')) + h2_send('slowly', 'Amy', 1, ref=2)
        for i in range(len(data)):
            b.send_raw(data[i:i + 1])
        self.assertEqual(b.expect(SENT).ref, 2)
        self.assertEqual(a.expect(MESSAGE).text, 'slowly')

    def test_frames_coalesced(self):
        a = self.h2('Amy')
        b = self.h2()
        b.send_raw(h2_hello() + h2_frame(NAME, h2_name('Bob'))
                   + b''.join(h2_send('m%d' % i, 'Amy', 1, ref=i + 1) for i in range(100)) + h2_frame(BYE))
        self.assertEqual([a.expect(MESSAGE).text for _ in range(100)], ['m%d' % i for i in range(100)])
        self.assertTrue(b.wait_closed())
        refs = [f.ref for f in b.frames_within(0) if f.type == SENT]
        self.assertEqual(refs, list(range(1, 101)))


class Hcp2Limits(ServerTestCase):
    server_args = ('--max-frame', '1024')

    def test_welcome_announces_max_frame(self):
        c = self.h2()
        self.assertEqual(c.hello().max_frame, 1024)

    def test_frame_over_max_error_107(self):
        a = self.h2('Amy')
        b = self.h2('Bob')
        a.send_raw(h2_send('x' * 1100, 'Bob', 1, ref=1))
        e = a.expect(ERROR)
        self.assertEqual(e.code, 107)
        self.assertTrue(a.wait_closed())
        self.assertEqual([f for f in b.frames_within() if f.type == MESSAGE], [])

    def test_frame_at_max_accepted(self):
        a = self.h2('Amy')
        b = self.h2('Bob')
        a.send_raw(h2_send('x' * (1024 - 7 - 3), 'Bob', 1, ref=1))
        self.assertEqual(a.expect(SENT).ref, 1)
        self.assertEqual(len(b.expect(MESSAGE).text), 1024 - 10)


class Hcp2Timeouts(ServerTestCase):
    server_args = ('--handshake-timeout', '1', '--idle-timeout', '2')

    def test_no_hello_in_time_closed(self):
        c = self.h2()
        c.send_raw(b'\x00')                    # looks like HCP/2, then nothing
        t0 = time.monotonic()
        self.assertTrue(c.wait_closed(6), 'a silent connection must be closed after the handshake timeout')
        self.assertLess(time.monotonic() - t0, 5)

    def test_no_hello_in_time_error_111(self):
        """Spec 2.4: 'no HELLO in time --> ERROR 111, close'."""
        c = self.h2()
        c.send_raw(b'\x00\x00')
        try:
            e = c.expect(ERROR, timeout=6)
        except Closed:
            self.fail('closed without ERROR 111')
        self.assertEqual(e.code, 111)

    def test_idle_timeout_error_112(self):
        """Spec 2.4: idle timeout (ERROR 112) then close."""
        c = self.h2('Amy')
        try:
            e = c.expect(ERROR, timeout=8)
        except Closed:
            self.fail('closed without ERROR 112')
        self.assertEqual(e.code, 112)
        self.assertTrue(c.wait_closed())

    def test_idle_connection_closed(self):
        a = self.h2('Amy')
        b = self.h2('Bob')
        t0 = time.monotonic()
        for _ in range(4):                     # Bob stays active, Amy does not
            time.sleep(0.6)
            b.ping(1)
            b.expect(PONG)
        self.assertTrue(a.wait_closed(6), 'an idle named connection must be closed after --idle-timeout')
        self.assertGreater(time.monotonic() - t0, 1.5)
        self.assertEqual(b.expect(LEFT, lambda f: f.name == 'Amy').name, 'Amy')
        b.ping(2)
        self.assertEqual(b.expect(PONG).token, 2, 'an active client is not idle')


if __name__ == '__main__':
    unittest.main()
