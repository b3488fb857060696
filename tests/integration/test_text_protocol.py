"""J. The seed-002 text protocol on the server's port (issue 6, .spec-issue6.md C;
shared/seeds/002): a scripted client with two sockets (TOSEND, TORECV), the exact bytes
of the document, talking to HCP/2 and HCP/1 users both ways."""

import unittest

from harness import (DELIVERED, JOINED, LEFT, MESSAGE, NOT_DELIVERED, SENT,
                     TORECV, TOSEND, USERS, ChatTestCase, Closed, text_error, text_forward,
                     text_register, text_registered, text_send, text_sent)

PW = 'pw-text-test'


class TextProtocol(ChatTestCase):

    def exact(self, conn, expected, what=''):
        """The next message on conn is exactly these bytes."""
        msg = conn.recv_msg()
        self.assertEqual(msg.raw, expected, what)
        return msg

    # -- registration ---------------------------------------------------
    def test_register_both_sockets_exact_bytes(self):
        alice = self.h2('alice')
        tx, rx = self.text_conn(), self.text_conn()
        tx.send_raw(b'REGISTER TOSEND bob\n\n')
        self.exact(tx, b'REGISTERED TOSEND bob\n\n')
        rx.send_raw(b'REGISTER TORECV bob\n\n')
        self.exact(rx, b'REGISTERED TORECV bob\n\n')
        # (the batch may also repeat alice's own join: docs/protocol.md 2.14)
        self.assertEqual(alice.expect(JOINED, lambda f: f.name != 'alice').name, 'bob',
                         'the TORECV socket puts bob in the shared name table')
        alice.who()
        self.assertEqual(sorted(alice.expect(USERS).users), ['alice', 'bob'])

    def test_registration_split_and_coalesced(self):
        alice = self.h2('alice')
        tx, rx = self.text_conn(), self.text_conn()
        data = b'REGISTER TOSEND bob\n\n'
        for i in range(len(data)):
            tx.send_raw(data[i:i + 1])
        self.exact(tx, text_registered(TOSEND, 'bob'))
        rx.send_raw(b'REGISTER TORECV bob\n\n')
        self.exact(rx, text_registered(TORECV, 'bob'))
        # two SENDs in one write
        tx.send_raw(text_send('alice', 'one') + text_send('alice', 'two'))
        self.assertEqual([alice.expect(MESSAGE).text for _ in range(2)], ['one', 'two'])

    def test_error_100_malformed_username(self):
        for bad in (b'', b'bo b', b'bob!', b'ALL', b'all', b'All', b'b\xc3\xb6b', b'x' * 65, b'b_o'):
            for direction in (TOSEND, TORECV):
                with self.subTest(name=bad, direction=direction):
                    c = self.text_conn()
                    c.send_raw(b'REGISTER ' + direction.encode() + b' ' + bad + b'\n\n')
                    self.exact(c, b'ERROR 100 Malformed username\n\n', 'REGISTER %s %r' % (direction, bad))
                    c.close()
        ok = self.text('Bob64' + 'x' * 59)        # 64 ASCII letters/digits: fine
        self.assertEqual(len(ok.name), 64)

    def test_error_101_before_registration(self):
        alice = self.h2('alice')
        c = self.text_conn()
        c.send_raw(b'RECEIVED alice\n\n')           # first byte 'R': a text connection, not registered
        self.exact(c, b'ERROR 101 No user registered\n\n')
        # TOSEND registered, TORECV not yet: still 101, and the SEND (with its body) is skipped
        tx = self.text_conn()
        tx.send_raw(b'REGISTER TOSEND bob\n\n')
        self.exact(tx, b'REGISTERED TOSEND bob\n\n')
        tx.send_raw(b'SEND alice\nContent-length: 5\n\nhello')
        self.exact(tx, b'ERROR 101 No user registered\n\n')
        self.assertEqual(self.quiet(alice, MESSAGE), [], 'nothing is sent before both sockets are registered')
        rx = self.text_conn()
        rx.send_raw(b'REGISTER TORECV bob\n\n')
        self.exact(rx, b'REGISTERED TORECV bob\n\n')
        tx.send_raw(b'SEND alice\nContent-length: 5\n\nhello')
        m = alice.expect(MESSAGE)
        self.assertEqual((m.sender, m.kind, m.target, m.text), ('bob', 1, 'alice', 'hello'))

    def test_error_102_unknown_recipient(self):
        bob = self.text('bob')
        bob.tx.send_raw(b'SEND nobody\nContent-length: 5\n\nhello')
        self.exact(bob.tx, b'ERROR 102 Unable to send\n\n')
        alice = self.h2('alice')                    # the connection stays usable
        bob.send('alice', 'now?')
        self.assertEqual(alice.expect(MESSAGE).text, 'now?')

    def test_error_103_missing_content_length_then_close(self):
        alice = self.h2('alice')
        bob = self.text('bob')
        bob.tx.send_raw(b'SEND alice\n\nhello')
        self.exact(bob.tx, b'ERROR 103 Header incomplete\n\n')
        self.assertTrue(bob.tx.wait_closed(), 'the server closes the TOSEND socket after ERROR 103')
        self.assertEqual(self.quiet(alice, MESSAGE), [])

    def test_error_103_bad_content_length_then_close(self):
        self.h2('alice')
        bob = self.text('bob')
        bob.tx.send_raw(b'SEND alice\nContent-length: five\n\nhello')
        msg = bob.tx.recv_msg()
        self.assertEqual(msg.code, 103, msg)
        self.assertTrue(bob.tx.wait_closed())

    def test_name_taken_104(self):
        self.h2('alice')
        for direction in (TOSEND, TORECV):
            with self.subTest(direction=direction):
                c = self.text_conn()
                c.send_raw(text_register(direction, 'alice'))
                self.exact(c, b'ERROR 104 Username taken\n\n', 'a name held by an HCP/2 user, %s' % direction)

    def test_name_taken_by_other_text_user_104(self):
        self.text('bob')
        for direction in (TOSEND, TORECV):
            with self.subTest(direction=direction):
                c = self.text_conn()
                c.send_raw(text_register(direction, 'bob'))
                self.exact(c, b'ERROR 104 Username taken\n\n')

    def test_registered_name_117(self):
        self.account('carol', PW).close()
        for direction in (TOSEND, TORECV):
            with self.subTest(direction=direction):
                c = self.text_conn()
                c.send_raw(text_register(direction, 'carol'))
                self.exact(c, b'ERROR 117 Username registered\n\n')

    def test_unexpected_command_on_registered_connection_103_close(self):
        bob = self.text('bob')
        bob.tx.send_raw(b'RECEIVED alice\n\n')     # a TORECV command on TOSEND
        self.exact(bob.tx, text_error(103))
        self.assertTrue(bob.tx.wait_closed())

    # -- text <-> HCP/2 -------------------------------------------------
    def test_text_to_hcp2_sent_after_received(self):
        alice = self.h2('alice')
        bob = self.text('bob')
        bob.tx.send_raw(b'SEND alice\nContent-length: 5\n\nhello')
        m = alice.expect(MESSAGE)
        self.assertEqual((m.sender, m.kind, m.target, m.text), ('bob', 1, 'alice', 'hello'))
        self.assertGreater(m.id, 0)
        self.assertEqual(bob.tx.msgs_within(), [], 'no SENT before the HCP/2 recipient confirmed')
        alice.received(m.id)
        self.exact(bob.tx, b'SENT alice\n\n')

    def test_hcp2_to_text_forward_received_delivered(self):
        alice = self.h2('alice')
        bob = self.text('bob')
        ref = alice.say('hi bob ✓', to='bob')
        sent = alice.expect(SENT, lambda f: f.ref == ref)
        body = 'hi bob ✓'.encode()
        fw = self.exact(bob.rx, b'FORWARD alice\nContent-length: %d\n\n' % len(body) + body)
        self.assertEqual(fw.text, 'hi bob ✓')
        self.assertEqual(self.quiet(alice, DELIVERED), [], 'no DELIVERED before RECEIVED')
        bob.rx.send_raw(b'RECEIVED alice\n\n')
        d = alice.expect(DELIVERED)
        self.assertEqual((d.id, d.recipient), (sent.id, 'bob'))

    def test_text_and_hcp2_conversation_both_ways(self):
        alice = self.h2('alice')
        bob = self.text('bob')
        for i in range(3):
            body = 'ping %d\n\nwith blank lines' % i
            bob.send('alice', body)
            m = alice.expect(MESSAGE)
            self.assertEqual(m.text, body)
            alice.received(m.id)
            self.exact(bob.tx, text_sent('alice'))
            alice.say('pong %d' % i, to='bob')
            self.exact(bob.rx, text_forward('alice', 'pong %d' % i))
            bob.confirm('alice')
            self.assertEqual(alice.expect(DELIVERED).recipient, 'bob')

    def test_received_confirms_oldest_pending(self):
        alice = self.h2('alice')
        bob = self.text('bob')
        ids = [alice.say_ok('m%d' % i, to='bob').id for i in range(2)]
        self.assertEqual([bob.forward('alice').text for _ in range(2)], ['m0', 'm1'])
        bob.confirm('alice')
        self.assertEqual(alice.expect(DELIVERED).id, ids[0])
        bob.confirm('alice')
        self.assertEqual(alice.expect(DELIVERED).id, ids[1])

    def test_text_recipient_leaves_unconfirmed_122(self):
        alice = self.h2('alice')
        bob = self.text('bob')
        sent = alice.say_ok('never confirmed', to='bob')
        bob.forward('alice')
        bob.close()
        alice.expect(LEFT, lambda f: f.name == 'bob')
        nd = alice.expect(NOT_DELIVERED)
        self.assertEqual((nd.id, nd.code, nd.recipient), (sent.id, 122, 'bob'))

    def test_torecv_error_refuses_hcp2_whisper_122(self):
        alice = self.h2('alice')
        bob = self.text('bob')
        sent = alice.say_ok('cannot read this', to='bob')
        bob.forward('alice')
        bob.rx.send_raw(b'ERROR 103 Header Incomplete\n\n')
        nd = alice.expect(NOT_DELIVERED)
        self.assertEqual((nd.id, nd.code, nd.recipient), (sent.id, 122, 'bob'))

    def test_empty_body_102(self):
        self.h2('alice')
        bob = self.text('bob')
        bob.tx.send_raw(b'SEND alice\nContent-length: 0\n\n')
        self.exact(bob.tx, text_error(102))

    def test_torecv_error_103_forwarded_to_sender_as_102(self):
        bob = self.text('bob')
        dave = self.text('dave')
        bob.send('dave', 'garbled?')
        self.assertEqual(dave.forward('bob').text, 'garbled?')
        dave.rx.send_raw(b'ERROR 103 Header Incomplete\n\n')
        self.exact(bob.tx, b'ERROR 102 Unable to send\n\n')

    def test_text_to_text(self):
        bob = self.text('bob')
        dave = self.text('dave')
        bob.send('dave', 'hello dave')
        self.exact(dave.rx, b'FORWARD bob\nContent-length: 10\n\nhello dave')
        dave.rx.send_raw(b'RECEIVED bob\n\n')
        self.exact(bob.tx, b'SENT dave\n\n')

    def test_all_broadcast_reaches_every_protocol(self):
        alice = self.h2('alice')
        carl = self.h1('carl')
        dave = self.text('dave')
        bob = self.text('bob')
        bob.tx.send_raw(b'SEND ALL\nContent-length: 9\n\nhi there!')
        self.exact(bob.tx, b'SENT ALL\n\n')
        m = alice.expect(MESSAGE)
        self.assertEqual((m.sender, m.kind, m.target, m.text), ('bob', 0, '', 'hi there!'))
        p = carl.expect(lambda p: p.type == 5, what='HCP/1 message')
        self.assertEqual((p.sender, p.receiver, p.text), ('bob', 'All', 'hi there!'))
        self.exact(dave.rx, b'FORWARD bob\nContent-length: 9\n\nhi there!')
        dave.confirm('bob')
        # and the other way: HCP/2 and HCP/1 broadcasts reach text users
        alice.say_ok('from alice to all')
        self.assertEqual(bob.forward('alice').raw, text_forward('alice', 'from alice to all'))
        bob.confirm('alice')
        carl.say('from carl to all')
        self.assertEqual(bob.forward('carl').raw, text_forward('carl', 'from carl to all'))
        bob.confirm('carl')

    def test_hcp1_and_text_both_ways(self):
        carl = self.h1('carl')
        bob = self.text('bob')
        upd = carl.expect(lambda p: p.type == 4 and 'bob' in p.users, what='update with bob')
        self.assertEqual(sorted(upd.users), ['bob', 'carl'])
        bob.send('carl', 'to HCP/1')
        self.exact(bob.tx, b'SENT carl\n\n', 'an HCP/1 recipient cannot confirm: SENT at once')
        p = carl.expect(lambda p: p.type == 5)
        self.assertEqual((p.sender, p.receiver, p.text), ('bob', 'carl', 'to HCP/1'))
        carl.say('back to text', to='bob')
        self.exact(bob.rx, text_forward('carl', 'back to text'))
        bob.confirm('carl')

    def test_to_offline_registered_user_sent_when_stored(self):
        self.account('carol', PW).close()
        bob = self.text('bob')
        bob.send('carol', 'for later')
        self.exact(bob.tx, b'SENT carol\n\n')
        c = self.h2()
        messages, _ = c.log_in('carol', PW)
        self.assertEqual([(m.sender, m.kind, m.target, m.text) for m in messages],
                         [('bob', 1, 'carol', 'for later')])

    def test_content_length_counts_bytes(self):
        alice = self.h2('alice')
        bob = self.text('bob')
        body = 'Grüße ✓ 😀'
        bob.tx.send_raw(text_send('alice', body))
        self.assertEqual(alice.expect(MESSAGE).text, body)

    def test_text_user_leaves(self):
        alice = self.h2('alice')
        bob = self.text('bob')
        alice.expect(JOINED, lambda f: f.name == 'bob')
        bob.close()
        self.assertEqual(alice.expect(LEFT).name, 'bob')
        again = self.text('bob')                    # the name is free again
        self.assertEqual(again.name, 'bob')

    def test_bad_first_line_does_not_crash(self):
        c = self.text_conn()
        c.send_raw(b'RUBBISH\n\n')
        try:
            msg = c.recv_msg()
            self.assertEqual(msg.kind, 'ERROR', msg)
        except Closed:
            pass
        self.assert_still_serving()


class TextAuthRequired(ChatTestCase):
    server_args = ('--auth', 'required')

    def test_text_register_118(self):
        c = self.text_conn()
        c.send_raw(text_register(TOSEND, 'bob'))
        self.assertEqual(c.recv_msg().raw, b'ERROR 118 Account required\n\n')


if __name__ == '__main__':
    unittest.main()
