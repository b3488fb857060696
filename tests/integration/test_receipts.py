"""I. Delivery receipts (issue 6, .spec-issue6.md B): a whisper gets SENT when the server
accepts it, then DELIVERED when the recipient's client confirms it with RECEIVED, or
NOT_DELIVERED 122 when a guest recipient leaves first; unknown recipients get ERROR 102;
HCP/1 recipients cannot confirm (SENT only)."""

import unittest

from harness import (DELIVERED, E_RECIPIENT_LEFT, E_UNKNOWN_RECIPIENT, ERROR, LEFT, MESSAGE, NOT_DELIVERED, SENT,
                     ChatTestCase)

PW = 'pw-for-receipts'


class Receipts(ChatTestCase):

    def test_whisper_sent_then_delivered_after_received(self):
        a, b = self.h2('amy'), self.h2('bob')
        ref = a.say('are you there?', to='bob', ref=41)
        sent = a.expect(SENT, lambda f: f.ref == ref)
        self.assertEqual(sent.ref, 41)
        m = b.expect(MESSAGE)
        self.assertEqual((m.id, m.kind, m.sender, m.target, m.text), (sent.id, 1, 'amy', 'bob', 'are you there?'))
        self.assertEqual(self.quiet(a, (DELIVERED, NOT_DELIVERED)), [],
                         'no DELIVERED before the recipient sent RECEIVED')
        b.received(m.id)
        d = a.expect(DELIVERED)
        self.assertEqual((d.id, d.recipient), (sent.id, 'bob'))
        self.assertEqual(self.quiet(b, (DELIVERED, NOT_DELIVERED)), [], 'receipts go to the sender only')

    def test_each_whisper_confirmed_separately(self):
        a, b = self.h2('amy'), self.h2('bob')
        ids = [a.say_ok('m%d' % i, to='bob').id for i in range(3)]
        got = [b.expect(MESSAGE).id for _ in range(3)]
        self.assertEqual(got, ids)
        b.received(ids[1])
        d = a.expect(DELIVERED)
        self.assertEqual((d.id, d.recipient), (ids[1], 'bob'))
        self.assertEqual(self.quiet(a, DELIVERED), [], 'RECEIVED %d confirms that message only' % ids[1])
        b.received(ids[0])
        b.received(ids[2])
        self.assertEqual(sorted(a.expect(DELIVERED).id for _ in range(2)), [ids[0], ids[2]])

    def test_received_from_someone_else_is_not_a_receipt(self):
        a, b, c = self.h2('amy'), self.h2('bob'), self.h2('cid')
        sent = a.say_ok('for bob only', to='bob')
        b.expect(MESSAGE)
        c.received(sent.id)                         # cid never got it
        self.assertEqual(self.quiet(a, (DELIVERED, NOT_DELIVERED)), [],
                         'only the recipient can confirm a message')
        b.received(sent.id)
        self.assertEqual(a.expect(DELIVERED).recipient, 'bob')

    def test_duplicate_received_gives_one_delivered(self):
        a, b = self.h2('amy'), self.h2('bob')
        sent = a.say_ok('once', to='bob')
        b.expect(MESSAGE)
        b.received(sent.id)
        b.received(sent.id)
        self.assertEqual(a.expect(DELIVERED).id, sent.id)
        self.assertEqual(self.quiet(a, (DELIVERED, NOT_DELIVERED)), [], 'a confirmed message is confirmed once')

    def test_broadcast_gets_sent_only(self):
        a, b = self.h2('amy'), self.h2('bob')
        sent = a.say_ok('to everyone')
        m = b.expect(MESSAGE)
        self.assertEqual((m.id, m.kind), (sent.id, 0))
        b.received(m.id)
        b.close()
        a.expect(LEFT, lambda f: f.name == 'bob')
        self.assertEqual(self.quiet(a, (DELIVERED, NOT_DELIVERED)), [], 'broadcasts get SENT only')

    def test_unknown_recipient_error_102(self):
        a = self.h2('amy')
        a.say('hello?', to='nobody', ref=0xBEEF)
        e = a.expect(ERROR)
        self.assertEqual((e.code, e.ref), (E_UNKNOWN_RECIPIENT, 0xBEEF))
        self.assertEqual(self.quiet(a, (SENT, DELIVERED, NOT_DELIVERED)), [])

    def test_unknown_recipient_102_even_if_they_were_here_before(self):
        a, b = self.h2('amy'), self.h2('bob')
        b.close()
        a.expect(LEFT, lambda f: f.name == 'bob')
        a.say('gone?', to='bob', ref=5)
        e = a.expect(ERROR)
        self.assertEqual((e.code, e.ref), (E_UNKNOWN_RECIPIENT, 5), 'a guest who left is an unknown user')

    def test_guest_recipient_leaves_without_confirming_122(self):
        a, b = self.h2('amy'), self.h2('bob')
        sent = a.say_ok('you will not confirm this', to='bob')
        self.assertEqual(b.expect(MESSAGE).id, sent.id)
        b.close()
        nd = a.expect(NOT_DELIVERED)
        self.assertEqual((nd.id, nd.code, nd.recipient), (sent.id, E_RECIPIENT_LEFT, 'bob'))
        self.assertEqual(self.quiet(a, DELIVERED), [])

    def test_guest_leaves_after_confirming_some(self):
        a, b = self.h2('amy'), self.h2('bob')
        s1 = a.say_ok('one', to='bob')
        s2 = a.say_ok('two', to='bob')
        b.expect(MESSAGE)
        b.expect(MESSAGE)
        b.received(s1.id)
        self.assertEqual(a.expect(DELIVERED).id, s1.id)
        b.close()
        nd = a.expect(NOT_DELIVERED)
        self.assertEqual((nd.id, nd.code, nd.recipient), (s2.id, E_RECIPIENT_LEFT, 'bob'))
        self.assertEqual(self.quiet(a, NOT_DELIVERED), [], 'only the unconfirmed one is NOT_DELIVERED')

    def test_hcp1_recipient_sent_only(self):
        a = self.h2('amy')
        h = self.h1('carl')
        sent = a.say_ok('to an HCP/1 user', to='carl')
        p = h.expect(lambda p: p.type == 5)
        self.assertEqual(p.text, 'to an HCP/1 user')
        h.close()
        a.expect(LEFT, lambda f: f.name == 'carl')
        self.assertEqual(self.quiet(a, (DELIVERED, NOT_DELIVERED), pred=lambda f: f.id == sent.id), [],
                         'HCP/1 cannot confirm: SENT only')

    def test_registered_recipient_online_delivered(self):
        a = self.h2('amy')
        r = self.account('rita', PW)
        sent = a.say_ok('stored and delivered', to='rita')
        m = r.expect(MESSAGE)
        self.assertEqual((m.id, m.sender, m.text), (sent.id, 'amy', 'stored and delivered'))
        r.received(m.id)
        d = a.expect(DELIVERED)
        self.assertEqual((d.id, d.recipient), (sent.id, 'rita'))

    def test_registered_recipient_offline_delivered_after_login(self):
        self.account('rita', PW).close()
        a = self.h2('amy')
        sent = a.say_ok('while you were away', to='rita')
        self.assertEqual(self.quiet(a, (DELIVERED, NOT_DELIVERED)), [])
        r = self.h2()
        messages, end = r.log_in('rita', PW)
        self.assertEqual([(m.id, m.sender, m.text) for m in messages], [(sent.id, 'amy', 'while you were away')])
        self.assertEqual(self.quiet(a, DELIVERED), [], 'not confirmed yet')
        r.received(sent.id)
        d = a.expect(DELIVERED)
        self.assertEqual((d.id, d.recipient), (sent.id, 'rita'))

    def test_registered_recipient_leaving_unconfirmed_is_not_122(self):
        """An account's whispers are stored: leaving without confirming is not NOT_DELIVERED;
        the message comes back at the next login and is confirmed then."""
        a = self.h2('amy')
        r = self.account('rita', PW)
        sent = a.say_ok('confirm me later', to='rita')
        r.expect(MESSAGE)
        r.close()
        a.expect(LEFT, lambda f: f.name == 'rita')
        self.assertEqual(self.quiet(a, NOT_DELIVERED), [])
        r2 = self.h2()
        messages, _ = r2.log_in('rita', PW)
        self.assertEqual([m.id for m in messages], [sent.id])
        r2.received(sent.id)
        self.assertEqual(a.expect(DELIVERED).id, sent.id)


if __name__ == '__main__':
    unittest.main()
