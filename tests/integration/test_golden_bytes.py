"""B. Golden byte vectors: the exact bytes the server sends, compared with bytes built
independently here (not with the harness encoders), and packets built by the original
client's own functions accepted byte for byte."""

import struct
import time
import unittest

from harness import (ERROR, JOINED, NAME_OK, NAME_REFUSED, PONG, QUIET_WINDOW, USERS, WELCOME,
                     ServerTestCase, reference_core, requires_reference)

NUL = b'\x00'


def field(name_bytes):
    return name_bytes + NUL * (64 - len(name_bytes))


class GoldenHcp1(ServerTestCase):

    def test_ack_and_update_bytes(self):
        c = self.raw()
        c.send_raw(b'\x01Jon Stewart' + NUL * 53)
        self.assertEqual(c.recv_exact(65), b'\x02Jon Stewart' + NUL * 53)
        self.assertEqual(c.recv_exact(65), b'\x04Jon Stewart' + NUL * 53)
        self.assertEqual(c.recv_available(), b'')
        d = self.raw()
        d.send_raw(b'\x01Stephen Colbert' + NUL * 49)
        both = b'\x04Jon Stewart' + NUL * 53 + b'Stephen Colbert' + NUL * 49
        self.assertEqual(d.recv_exact(65), b'\x02Stephen Colbert' + NUL * 49)
        self.assertEqual(d.recv_exact(129), both)
        self.assertEqual(c.recv_exact(129), both)
        # the doc's example, byte for byte (docs/protocol.md 1.1 "update")
        self.assertEqual(both.hex(), '044a6f6e2053746577617274' + '00' * 53 + '5374657068656e20436f6c62657274' + '00' * 49)
        d.close()
        self.assertEqual(c.recv_exact(65), b'\x04Jon Stewart' + NUL * 53)

    def test_nak_bytes(self):
        c = self.raw()
        c.send_raw(b'\x01Jon' + NUL * 61)
        self.assertEqual(c.recv_exact(130)[:65], b'\x02Jon' + NUL * 61)
        d = self.raw()
        d.send_raw(b'\x01Jon' + NUL * 61)
        self.assertEqual(d.recv_exact(65), b'\x03Jon' + NUL * 61)
        d.send_raw(b'\x01All' + NUL * 61)
        self.assertEqual(d.recv_exact(65).hex(), '03416c6c' + '00' * 61)   # the doc's "nak 'All'"
        d.send_raw(b'\x01Server' + NUL * 58)
        self.assertEqual(d.recv_exact(65), b'\x03Server' + NUL * 58)
        d.send_raw(b'\x01' + NUL * 64)                                       # empty name
        self.assertEqual(d.recv_exact(65), b'\x03' + NUL * 64)
        d.send_raw(b'\x01\xff\xfe' + NUL * 62)                               # not UTF-8
        self.assertEqual(d.recv_exact(65), b'\x03\xff\xfe' + NUL * 62)
        self.assertEqual(d.recv_available(0.2), b'', 'no update after a nak')
        self.assertEqual(c.recv_available(0.05), b'', 'others hear nothing of a nak')

    def test_second_proposal_on_a_named_connection_is_refused(self):
        c = self.raw()
        c.send_raw(b'\x01Jon' + NUL * 61)
        c.recv_exact(130)
        c.send_raw(b'\x01Jonathan' + NUL * 56)
        self.assertEqual(c.recv_exact(65), b'\x03Jonathan' + NUL * 56)
        self.h2('Amy')
        self.assertEqual(c.recv_exact(129), b'\x04' + field(b'Jon') + field(b'Amy'))

    def test_non_ascii_name_padded_by_bytes(self):
        name = 'José 名前'.encode('utf-8')      # 12 bytes, 7 characters
        c = self.raw()
        c.send_raw(b'\x01' + field(name))
        self.assertEqual(c.recv_exact(65), b'\x02' + field(name))
        self.assertEqual(c.recv_exact(65), b'\x04' + field(name))
        h = self.h2('Zoë')
        self.assertEqual(c.recv_exact(129), b'\x04' + field(name) + field('Zoë'.encode()))
        h.say('¡hola!', to='José 名前')
        self.assertEqual(c.recv_exact(129 + 7), b'\x05' + field('Zoë'.encode()) + field(name) + '¡hola!'.encode())
        h.say('to all')
        self.assertEqual(c.recv_exact(135), b'\x05' + field('Zoë'.encode()) + field(b'All') + b'to all')

    def test_message_bytes_broadcast_and_whisper(self):
        a = self.raw()
        a.send_raw(b'\x01Jon Stewart' + NUL * 53)
        a.recv_exact(130)
        b = self.raw()
        b.send_raw(b'\x01Amy' + NUL * 61)
        b.recv_exact(65 + 129)
        a.recv_exact(129)
        b.send_raw(b'\x05Amy' + NUL * 61 + b'All' + NUL * 61 + b'Hi')
        self.assertEqual(a.recv_exact(131), b'\x05Amy' + NUL * 61 + b'All' + NUL * 61 + b'Hi')
        b.send_raw(b'\x05Amy' + NUL * 61 + b'Jon Stewart' + NUL * 53 + b'psst')
        self.assertEqual(a.recv_exact(133), b'\x05Amy' + NUL * 61 + b'Jon Stewart' + NUL * 53 + b'psst')
        self.assertEqual(a.recv_available(), b'')
        self.assertEqual(b.recv_available(0.05), b'', 'no echo to the sender')

    def test_hcp2_text_with_control_bytes_is_substituted_for_hcp1(self):
        a = self.raw()
        a.send_raw(b'\x01Jon' + NUL * 61)
        a.recv_exact(130)
        h = self.h2('Amy')
        a.recv_exact(129)
        h.say('a\x01b\x02c\x03d\x04e\x05f')
        self.assertEqual(a.recv_exact(129 + 11), b'\x05' + field(b'Amy') + field(b'All') + b'a\x1ab\x1ac\x1ad\x1ae\x1af')
        self.assertEqual(a.recv_available(0.2), b'')


@requires_reference
class GoldenOriginalBuilders(ServerTestCase):
    """Packets built by the original client's own functions are accepted as they are."""

    def test_original_build_proposal_accepted(self):
        mod = reference_core()
        pkt = mod.build_proposal('Jon Stewart')
        self.assertEqual(pkt, b'\x01Jon Stewart' + NUL * 53)
        c = self.raw()
        c.send_raw(pkt)
        self.assertEqual(c.recv_exact(65), b'\x02Jon Stewart' + NUL * 53)

    def test_original_build_broadcast_and_whisper_relayed_byte_for_byte(self):
        mod = reference_core()
        a = self.raw()
        a.send_raw(mod.build_proposal('Jon Stewart'))
        a.recv_exact(130)
        b = self.raw()
        b.send_raw(mod.build_proposal('Stephen Colbert'))
        b.recv_exact(65 + 129)
        a.recv_exact(129)
        pkt = mod.build_broadcast('Jon Stewart', 'If we amplify everything, we hear nothing.')
        a.send_raw(pkt)
        self.assertEqual(b.recv_exact(len(pkt)), pkt)
        pkt = mod.build_whisper('Stephen Colbert', 'Jon Stewart', 'I always knew I should not have said that.')
        b.send_raw(pkt)
        self.assertEqual(a.recv_exact(len(pkt)), pkt)
        self.assertEqual(a.recv_available(QUIET_WINDOW), b'')


class GoldenHcp2(ServerTestCase):

    def test_welcome_name_ok_users_joined_pong_bytes(self):
        c = self.raw()
        c.send_raw(bytes.fromhex('00000009 01 484350 02 00000000'.replace(' ', '')))
        head = c.recv_exact(4)
        length, = struct.unpack('>I', head)
        body = c.recv_exact(length)
        self.assertEqual(body[:6], bytes([WELCOME, 2]) + struct.pack('>I', 65536))
        body[6:].decode('utf-8')
        c.send_raw(bytes.fromhex('0000000502034a6f6e'))                        # NAME "Jon"
        self.assertEqual(c.recv_exact(9).hex(), '00000005' + '82' + '034a6f6e')
        self.assertEqual(c.recv_exact(11).hex(), '00000007' + '84' + '0001' + '034a6f6e')
        c.recv_available(0.2)                                                   # a possible JOINED for itself
        c.send_raw(bytes.fromhex('00000009040102030405060708'))               # PING
        self.assertEqual(c.recv_exact(13).hex(), '000000098b0102030405060708')
        d = self.h2('Amy')
        self.assertEqual(c.recv_exact(9).hex(), '00000005' + '85' + '03416d79')   # JOINED Amy
        d.bye()
        self.assertEqual(c.recv_exact(9).hex(), '00000005' + '86' + '03416d79')   # LEFT Amy
        self.assertEqual((NAME_OK, USERS, JOINED, PONG), (0x82, 0x84, 0x85, 0x8B))

    def test_name_refused_and_error_prefix_bytes(self):
        self.h2('Jon')
        c = self.raw()
        c.send_raw(bytes.fromhex('00000009014843500200000000'))
        c.recv_exact(struct.unpack('>I', c.recv_exact(4))[0])
        c.send_raw(bytes.fromhex('0000000502034a6f6e'))
        length, = struct.unpack('>I', c.recv_exact(4))
        body = c.recv_exact(length)
        self.assertEqual(body[:7].hex(), '83' + '0068' + '034a6f6e')           # NAME_REFUSED 104 "Jon" ...
        body[7:].decode('utf-8')
        # SEND ref 8 to user "Amy" (unknown): ERROR 102 with ref 8
        c.send_raw(bytes.fromhex('0000000e030000000801' + '03416d79' + '70737374'))
        length, = struct.unpack('>I', c.recv_exact(4))
        body = c.recv_exact(length)
        self.assertEqual(body[:7].hex(), '8f' + '0065' + '00000008')           # not named yet: 101
        c.send_raw(bytes.fromhex('0000000502034a6f65'))                        # NAME "Joe"
        self.assertEqual(c.recv_exact(9).hex(), '00000005820' + '34a6f65')
        c.recv_available(0.2)
        c.send_raw(bytes.fromhex('0000000e030000000801' + '03416d79' + '70737374'))
        length, = struct.unpack('>I', c.recv_exact(4))
        body = c.recv_exact(length)
        self.assertEqual(body[:7].hex(), '8f' + '0066' + '00000008')           # ERROR 102 ref 8
        self.assertEqual(body[0], ERROR)
        self.assertEqual(NAME_REFUSED, 0x83)

    def test_message_and_sent_bytes(self):
        def h2_raw(name_hex, expect_after_name):
            c = self.raw()
            c.send_raw(bytes.fromhex('00000009014843500200000000'))
            c.recv_exact(struct.unpack('>I', c.recv_exact(4))[0])
            c.send_raw(bytes.fromhex(name_hex))
            c.recv_exact(expect_after_name)
            return c
        amy = h2_raw('0000000502' + '03416d79', 9 + 11)                           # NAME_OK, USERS [Amy]
        jon = h2_raw('0000000502' + '034a6f6e', 9 + 15)                           # NAME_OK, USERS [Amy, Jon]
        self.assertIn(amy.recv_available(0.2), (bytes.fromhex('0000000585034a6f6e'),
                                                bytes.fromhex('000000058503416d79' + '0000000585034a6f6e')))
        jon.recv_available(0.05)
        jon.send_raw(bytes.fromhex('00000009030000000700004869'))                # SEND ref 7, all, "Hi"
        sent = jon.recv_exact(17)
        self.assertEqual(sent[:9].hex(), '0000000d' + '88' + '00000007')        # SENT ref 7, id
        msg_id, = struct.unpack('>Q', sent[9:])
        msg = amy.recv_exact(4 + 0x19)
        ts, = struct.unpack('>Q', msg[13:21])
        self.assertEqual(msg, struct.pack('>IBQQB', 0x19, 0x87, msg_id, ts, 0) + b'\x03Jon' + b'\x00' + b'Hi')
        self.assertLess(abs(ts / 1e6 - time.time()), 60, 'timestamp_us is microseconds since the epoch')
        # whisper: SEND ref 8, user "Amy", "psst"
        jon.send_raw(bytes.fromhex('0000000e0300000008010341' + '6d79' + '70737374'))
        sent = jon.recv_exact(17)
        self.assertEqual(sent[:9].hex(), '0000000d' + '88' + '00000008')
        msg_id2, = struct.unpack('>Q', sent[9:])
        self.assertGreater(msg_id2, msg_id)
        msg = amy.recv_exact(4 + 0x1e)
        ts, = struct.unpack('>Q', msg[13:21])
        self.assertEqual(msg, struct.pack('>IBQQB', 0x1e, 0x87, msg_id2, ts, 1) + b'\x03Jon' + b'\x03Amy' + b'psst')
        self.assertEqual(jon.recv_available(0.2), b'', 'no MESSAGE echo to the sender')


if __name__ == '__main__':
    unittest.main()
