"""C. HCP/1 framing robustness (docs/protocol.md 1.4): coalesced packets are split,
split packets are reassembled once, long packets are not cut.

The receiving side is an HCP/2 client where exact message boundaries matter: each
MESSAGE frame is one HCP/1 packet as the server understood it."""

import time
import unittest

from harness import MESSAGE, QUIET_WINDOW, ServerTestCase, h1_message, h1_proposal, h1_update

PAUSE = 0.3   # longer than any "nothing more to read at that moment" check on loopback


class Hcp1Framing(ServerTestCase):
    # -v: one case checks the debug line that says the whole split message was forwarded.
    server_args = ('-v',)

    def pair(self):
        """An HCP/1 raw sender 'Jon' and an HCP/2 receiver 'Amy'."""
        amy = self.h2('Amy')
        jon = self.h1('Jon')
        amy.expect(0x85, lambda f: f.name == 'Jon')          # JOINED Jon
        amy.drain()
        return jon, amy

    def messages(self, client, within=QUIET_WINDOW):
        return [(f.sender, f.target, f.text) for f in client.frames_within(within) if f.type == MESSAGE]

    def test_two_type5_coalesced_in_one_send(self):
        jon, amy = self.pair()
        jon.send_raw(h1_message('Jon', 'All', 'first message') + h1_message('Jon', 'Amy', 'second message'))
        first = amy.expect(MESSAGE)
        second = amy.expect(MESSAGE)
        self.assertEqual((first.sender, first.kind, first.text), ('Jon', 0, 'first message'))
        self.assertEqual((second.sender, second.kind, second.target, second.text), ('Jon', 1, 'Amy', 'second message'))
        self.assertEqual(self.messages(amy), [])

    def test_many_packets_coalesced_with_proposal(self):
        amy = self.h2('Amy')
        raw = self.raw()
        texts = ['m%03d ünïcödé' % i for i in range(200)]
        raw.send_raw(h1_proposal('Jon') + b''.join(h1_message('Jon', 'All', t) for t in texts))
        got = [amy.expect(MESSAGE, timeout=5).text for _ in texts]
        self.assertEqual(got, texts)
        self.assertEqual(raw.recv_exact(65)[:4], b'\x02Jon')

    def test_coalesced_hcp1_delivered_to_hcp1_receiver(self):
        a = self.h1('Jon')
        b = self.h1('Amy')
        a.expect(lambda p: p.type == 4 and 'Amy' in p.users)
        a.send_raw(h1_message('Jon', 'Amy', 'one') + h1_message('Jon', 'All', 'two') + h1_message('Jon', 'Amy', 'three'))
        got = [b.expect(lambda p: p.type == 5) for _ in range(3)]
        self.assertEqual([(p.receiver, p.text) for p in got], [('Amy', 'one'), ('All', 'two'), ('Amy', 'three')])

    def test_client_packets_of_type_2_3_4_are_skipped_in_step(self):
        jon, amy = self.pair()
        jon.send_raw(b'\x02' + b'x' * 64 + b'\x03' + b'y' * 64 + h1_update(['Jon', 'Amy', 'Bob'])
                     + h1_message('Jon', 'All', 'after the junk'))
        m = amy.expect(MESSAGE)
        self.assertEqual(m.text, 'after the junk')
        self.assertEqual(self.messages(amy), [])

    def split_and_check(self, packet, cut, text):
        jon, amy = self.pair()
        jon.send_raw(packet[:cut])
        self.assertEqual(self.messages(amy, PAUSE), [], 'nothing may be delivered before the rest arrives')
        jon.send_raw(packet[cut:])
        m = amy.expect(MESSAGE)
        self.assertEqual((m.sender, m.target, m.text), ('Jon', '', text))
        self.assertEqual(self.messages(amy), [], 'the packet must be delivered once')

    def test_split_inside_header(self):
        text = 'split in the header'
        self.split_and_check(h1_message('Jon', 'All', text), 50, text)

    def test_split_inside_receiver_field(self):
        text = 'split in the receiver field'
        self.split_and_check(h1_message('Jon', 'All', text), 67, text)

    def test_split_before_first_text_byte(self):
        text = 'split right after the header'
        self.split_and_check(h1_message('Jon', 'All', text), 129, text)

    def test_split_inside_multibyte_utf8_character(self):
        text = 'price: 10€ — naïve'
        packet = h1_message('Jon', 'All', text)
        cut = 129 + text.encode().index('€'.encode()) + 1        # after the first byte of the 3-byte '€'
        self.split_and_check(packet, cut, text)
        self.assertTrue(self.wait_log(r'forwarding a message from Jon to all'))

    def test_split_inside_4_byte_utf8_character(self):
        text = 'emoji 😀 here'
        packet = h1_message('Jon', 'All', text)
        cut = 129 + text.encode().index('😀'.encode()) + 2
        self.split_and_check(packet, cut, text)

    def test_long_message_not_cut(self):
        jon, amy = self.pair()
        text = ''.join(chr(0x61 + i % 26) for i in range(20000)) + ' end'
        jon.send_raw(h1_message('Jon', 'All', text))
        m = amy.expect(MESSAGE)
        self.assertEqual(len(m.text), len(text))
        self.assertEqual(m.text, text)

    def test_long_message_sent_in_slow_pieces_to_hcp1_receiver(self):
        a = self.h1('Jon')
        b = self.h1('Amy')
        a.expect(lambda p: p.type == 4 and 'Amy' in p.users)
        text = 'é' * 3000                                           # 6000 bytes, every cut inside a character
        pkt = h1_message('Jon', 'Amy', text)
        for i in range(0, len(pkt), 1000):                       # (1000 - 129) is odd: inside an 'é'
            a.send_raw(pkt[i:i + 1000])
            time.sleep(0.02)
        p = b.expect(lambda p: p.type == 5, timeout=5)
        self.assertEqual(p.text, text)
        self.assertEqual([q for q in b.packets_within() if q.type == 5], [])

    def test_packet_over_max_frame_closes_connection(self):
        jon, amy = self.pair()
        pkt = h1_message('Jon', 'All', 'x' * 70000)                 # default max frame 65536
        try:
            jon.send_raw(pkt)
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.assertTrue(jon.wait_closed(), 'an HCP/1 packet over the max frame must close the connection')
        self.assertEqual(self.messages(amy, 0.2), [], 'the oversized packet must not be delivered')
        self.assert_still_serving()


if __name__ == '__main__':
    unittest.main()
