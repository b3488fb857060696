"""Seed 002 conformance (issue 13, item 4): the server answers *any* communication before
registration with `ERROR 101 No user registered`, whatever its first byte, while HCP/1
(first byte 0x01..0x05) and HCP/2 (0x00) are still told apart on the same port
(docs/protocol.md 2.7)."""

import socket

from harness import (JOINED, MESSAGE, TORECV, TOSEND, ChatTestCase, H1Client, H2Client, h1_proposal,
                     text_error, text_register, text_registered, text_send)

E101 = b'ERROR 101 No user registered\n\n'


class AnyFirstBytes(ChatTestCase):

    def exact(self, conn, expected, what=''):
        msg = conn.recv_msg()
        self.assertEqual(msg.raw, expected, what)
        return msg

    def test_any_frame_before_registration_gets_101_and_registration_still_works(self):
        alice = self.h2('alice')
        frames = (b'HELLO\n\n', b'GET / HTTP/1.0\n\n', b'\x06x\n\n', b'\x7f\n\n', b'\xff\xfe\n\n', b'\n\n',
                  b'register torecv bob\n\n', b'\x16\x03\x01 hi\n\n',
                  b'SEND alice\nContent-length: 5\n\nhello')     # the body is skipped with its frame
        for i, data in enumerate(frames):
            with self.subTest(data=data):
                rx = self.text_conn()
                rx.send_raw(data)
                self.exact(rx, E101, 'first frame %r' % (data,))
                # the connection stays open and is the text protocol's: it can register now
                name = 'bob%d' % i
                rx.send_raw(text_register(TORECV, name))
                self.exact(rx, text_registered(TORECV, name))
                self.assertEqual(alice.expect(JOINED, lambda f, n=name: f.name == n).name, name)
                rx.close()
        self.assertEqual(self.quiet(alice, MESSAGE), [], 'nothing unregistered reached alice')

    def test_every_frame_before_registration_is_answered(self):
        c = self.text_conn()
        c.send_raw(b'ONE\n\nTWO\n\nSENT x\n\n')
        for _ in range(3):
            self.exact(c, E101)
        tx = self.text_conn()
        tx.send_raw(text_register(TOSEND, 'carl'))
        self.exact(tx, text_registered(TOSEND, 'carl'))

    def test_bytes_without_a_frame_then_eof_get_101_then_close(self):
        for data in (b'\x09garbage', b'GET / HTTP/1.1\r\nHost: x\r\n\r\n', b'\xff' * 100, b'R', b'REGISTER TOSEND'):
            with self.subTest(data=data[:16]):
                c = self.text_conn()
                c.send_raw(data)
                c.sock.shutdown(socket.SHUT_WR)
                self.exact(c, E101, 'cut frame %r' % (data[:16],))
                self.assertTrue(c.wait_closed(), 'closed after the answer')
        self.assert_still_serving()

    def test_oversized_first_frame_gets_101_then_close(self):
        c = self.text_conn()
        try:
            c.send_raw(b'A' * 70000)                # over the default max frame (65536), no delimiter
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.exact(c, E101)
        self.assertTrue(c.wait_closed())
        self.assert_still_serving()

    def test_registered_connection_keeps_error_103(self):
        """After registration the seed's other errors apply: a malformed frame is 103, not 101."""
        bob = self.text('bob')
        bob.tx.send_raw(b'SEND alice\nContent-length: x\n\n')
        self.exact(bob.tx, text_error(103))
        self.assertTrue(bob.tx.wait_closed())


class SilentPeer(ChatTestCase):
    server_args = ('--handshake-timeout', '1')

    def test_bytes_without_a_frame_get_101_at_the_handshake_timeout(self):
        c = self.text_conn()
        c.send_raw(b'GET / HTTP/1.1\r\nHost: x\r\n\r\n')   # "\r\n\r\n" is no seed-002 delimiter
        self.assertEqual(c.recv_msg(timeout=5.0).raw, E101)
        self.assertTrue(c.wait_closed())


class BinaryProtocolsStillDetected(ChatTestCase):

    def test_hcp2_first_byte_0x00(self):
        a = self.h2('amy')                      # HELLO starts with 0x00: WELCOME, NAME_OK
        b = self.h2('ben')
        a.say_ok('hi ben')
        self.assertEqual(b.expect(MESSAGE).text, 'hi ben')

    def test_hcp1_first_bytes_0x01_to_0x05(self):
        j = self.h1('jon')                      # a proposal, 0x01: ack and update
        self.assertEqual(j.sock.getpeername()[1], self.port)
        for first in (b'\x02', b'\x03', b'\x04', b'\x05'):
            with self.subTest(first=first):
                c = self.raw()
                c.send_raw(first + b'\x00' * 200)
                c.sock.shutdown(socket.SHUT_WR)
                self.assertTrue(c.wait_closed())
                self.assertNotIn(b'ERROR 101', c.recv_available(0), 'an HCP/1 byte is not the text protocol')

    def test_hcp1_proposal_split_after_first_byte(self):
        c = H1Client(self.port)
        self._clients.append(c)
        p = h1_proposal('kim')
        c.send_raw(p[:1])
        c.send_raw(p[1:])
        self.assertEqual(c.recv_packet().type, 2, 'ack')
