"""A. The test cases of the seed report (003, "Test Cases and Results"), end to end.

HCP/1 tests drive the ORIGINAL client core (shared/reference/hcp1/howdy_client_core.py,
split_frames=True) against our server; the HCP/2 twins use harness.H2Client. The
report's "Client GUI" case is covered by the howdy-client tests (test_interop.py)
and "Server Configuration" by test_server_cli.py."""

import threading
import unittest

from harness import (JOINED, LEFT, MESSAGE, NAME_OK, NAME_REFUSED, QUIET_WINDOW, SENT,
                     USERS, ServerTestCase, core_wait, requires_reference)

JON, STEPHEN, JIMMY = 'Jon Stewart', 'Stephen Colbert', 'Jimmy Fallon'
BROADCAST_TEXT = 'If we amplify everything, we hear nothing.'
WHISPER_TEXT = 'I always knew I should not have said that.'


def quiet(core, start, within=QUIET_WINDOW):
    """Events the original client got from index start within a bounded window (nothing is awaited
    but the window: the caller asserts it is empty)."""
    core.wait_for(lambda e: True, within, start)
    return [{k: v for k, v in e.items() if k not in ('raw', 't')} for e in core.events[start:]]


@requires_reference
class SeedCasesHcp1(ServerTestCase):
    """The report's cases over HCP/1 with the original client."""

    def three(self):
        a = self.core(JON)
        b = self.core(STEPHEN)
        c = self.core(JIMMY)
        for x in (a, b):
            core_wait(self, x, lambda e: e['kind'] == 'update' and JIMMY in e['users'], 'update with Jimmy')
        return a, b, c

    def test_seed03_single_client_connection(self):
        c = self.core()
        self.assertTrue(c.connected)
        # the server reports the new connection in its log
        ok = self.wait_log(r'new client connected: 127\.0\.0\.1:\d+')
        self.assertTrue(ok, 'no connection event in the server log:\n' + self.server_log()[-2000:])

    def test_seed04_single_client_register(self):
        c = self.core()
        c.propose(JON)
        ack = core_wait(self, c, lambda e: e['kind'] in ('ack', 'nak'), 'ack')
        self.assertEqual(ack['kind'], 'ack')
        self.assertEqual(ack['name'], JON)
        upd = core_wait(self, c, lambda e: e['kind'] == 'update', 'update')
        self.assertEqual(upd['users'], [JON])
        self.assertLess(c.events.index(ack), c.events.index(upd), 'ack must precede the update')
        self.assertEqual(c.myname, JON)
        self.assertIn('Your username is accepted', c.transcript)
        self.assertTrue(self.wait_log(r'username accepted: Jon Stewart'), self.server_log()[-2000:])

    def test_seed05_multiple_client_connection(self):
        clients = [self.core() for _ in range(3)]
        ok = self.wait_log(r'new client connected', count=3)
        self.assertTrue(ok, self.server_log()[-2000:])
        self.assertTrue(all(c.connected for c in clients))

    def test_seed06_multiple_client_name_negotiation_with_duplicate(self):
        a = self.core(JON)
        b = self.core(STEPHEN)
        core_wait(self, a, lambda e: e['kind'] == 'update' and e['users'] == [JON, STEPHEN], 'update [Jon, Stephen]')
        c = self.core()
        ma, mb = len(a.events), len(b.events)
        c.propose(STEPHEN)
        nak = core_wait(self, c, lambda e: e['kind'] in ('ack', 'nak'), 'nak')
        self.assertEqual(nak['kind'], 'nak')
        self.assertEqual(nak['name'], STEPHEN)
        self.assertEqual(quiet(a, ma), [], 'a refused proposal must not reach other users')
        self.assertEqual(quiet(b, mb, 0.05), [])
        # the original client keeps no name after a nak: it may propose again
        self.assertEqual(c.myname, '')
        self.core_register(c, JIMMY)
        for x in (a, b, c):
            upd = core_wait(self, x, lambda e: e['kind'] == 'update' and JIMMY in e['users'], 'update with Jimmy')
            self.assertEqual(upd['users'], [JON, STEPHEN, JIMMY])
        upd = core_wait(self, a, lambda e: e['kind'] == 'update' and JIMMY in e['users'], 'update')
        self.assertEqual(upd['joined'], [JIMMY])

    def test_seed06b_reserved_names_refused(self):
        c = self.core()
        for reserved in ('All', 'Server'):
            start = len(c.events)
            c.propose(reserved)
            ev = core_wait(self, c, lambda e: e['kind'] in ('ack', 'nak'), 'nak for ' + reserved, start=start)
            self.assertEqual((ev['kind'], ev['name']), ('nak', reserved))
        self.core_register(c, JON)

    def test_seed07_list_updates_on_join_and_leave(self):
        a, b, c = self.three()
        start = len(a.events)
        starts = {id(a): start, id(b): len(b.events)}
        c.close()
        for x in (a, b):
            upd = core_wait(self, x, lambda e: e['kind'] == 'update' and JIMMY not in e['users'], 'leave update',
                            start=starts[id(x)])
            self.assertEqual(upd['users'], [JON, STEPHEN])
            self.assertEqual(upd['left'], [JIMMY])
        self.assertIn(JIMMY, a.transcript[start:])
        self.assertIn('left this conversation.', a.transcript[start:])

    def test_seed08_broadcast(self):
        a, b, c = self.three()
        sa = len(a.events)
        a.broadcast(BROADCAST_TEXT)
        for x in (b, c):
            ev = core_wait(self, x, lambda e: e['kind'] == 'says', 'broadcast')
            self.assertEqual((ev['sender'], ev['text']), (JON, BROADCAST_TEXT))
            self.assertIn(JON + ' says: ' + BROADCAST_TEXT, x.transcript)
        self.assertIn('You say: ' + BROADCAST_TEXT, a.transcript)
        self.assertEqual(quiet(a, sa), [], 'the sender must not get its broadcast back')

    def test_seed09_whisper(self):
        a, b, c = self.three()
        sa, sc = len(a.events), len(c.events)
        a.whisper(STEPHEN, WHISPER_TEXT)
        ev = core_wait(self, b, lambda e: e['kind'] in ('whisper', 'says'), 'whisper')
        self.assertEqual((ev['kind'], ev['sender'], ev['text']), ('whisper', JON, WHISPER_TEXT))
        self.assertIn(JON + ' whispers to you: ' + WHISPER_TEXT, b.transcript)
        self.assertEqual(quiet(c, sc), [], 'a third client must get nothing')
        self.assertEqual(quiet(a, sa, 0.05), [])

    def test_seed10_typing_while_receiving(self):
        a, b, c = self.three()
        n = 150
        a_texts = ['Being a superpower is like being a Santa Claus %d that everyone hates.' % i for i in range(n)]
        b_texts = ["Don't cry over spilled milk. By this time tomorrow, it'll be free yogurt. %d" % i
                   for i in range(n)]
        errors = []

        def pump(sender, to, texts):
            try:
                for t in texts:
                    sender.whisper(to, t) if to != 'All' else sender.broadcast(t)
            except Exception as e:  # noqa: BLE001
                errors.append(e)

        for to_b, to_a in ((STEPHEN, JON), ('All', 'All')):
            sa, sb, sc = len(a.events), len(b.events), len(c.events)
            ta = threading.Thread(target=pump, args=(a, to_b, a_texts))
            tb = threading.Thread(target=pump, args=(b, to_a, b_texts))
            ta.start(), tb.start()
            ta.join(10), tb.join(10)
            self.assertFalse(errors)
            kind = 'whisper' if to_b != 'All' else 'says'
            core_wait(self, b, lambda e: e['kind'] == kind and e['text'] == a_texts[-1], 'last of a', 10, sb)
            core_wait(self, a, lambda e: e['kind'] == kind and e['text'] == b_texts[-1], 'last of b', 10, sa)
            got_b = [e['text'] for e in b.events[sb:] if e['kind'] == kind]
            got_a = [e['text'] for e in a.events[sa:] if e['kind'] == kind]
            self.assertEqual(got_b, a_texts, 'a -> b (%s) stream damaged' % to_b)
            self.assertEqual(got_a, b_texts, 'b -> a (%s) stream damaged' % to_a)
            self.assertFalse([e for e in a.events[sa:] + b.events[sb:] if e['kind'] in ('error', 'dropped')])
            if to_b == 'All':
                for last in (a_texts[-1], b_texts[-1]):
                    core_wait(self, c, lambda e: e['kind'] == 'says' and e['text'] == last, 'c gets all', 10, sc)
                got_c = [e['text'] for e in c.events[sc:] if e['kind'] == 'says']
                self.assertEqual(sorted(got_c), sorted(a_texts + b_texts))
            else:
                self.assertEqual(quiet(c, sc, 0.2), [])

    def test_seed11_single_user_offline(self):
        a, b, c = self.three()
        c.close()
        for x in (a, b):
            core_wait(self, x, lambda e: e['kind'] == 'update' and e['left'] == [JIMMY], 'Jimmy left')
        self.assertEqual(a.users, [JON, STEPHEN])
        a.whisper(STEPHEN, 'still there?')
        ev = core_wait(self, b, lambda e: e['kind'] == 'whisper', 'whisper after leave')
        self.assertEqual(ev['text'], 'still there?')
        b.broadcast('yes')
        ev = core_wait(self, a, lambda e: e['kind'] == 'says', 'broadcast after leave')
        self.assertEqual((ev['sender'], ev['text']), (STEPHEN, 'yes'))

    def test_seed12_all_users_offline_server_still_serving(self):
        a, b, c = self.three()
        b.close()
        core_wait(self, a, lambda e: e['kind'] == 'update' and STEPHEN in e['left'], 'Stephen left')
        c.close()
        core_wait(self, a, lambda e: e['kind'] == 'update' and JIMMY in e['left'], 'Jimmy left')
        self.assertEqual(a.users, [JON])
        sa = len(a.events)
        a.broadcast('anyone?')
        self.assertEqual(quiet(a, sa, 0.2), [])
        a.close()
        self.assertTrue(self.wait_log(r'no user online now'),
                        'server did not log "no user online now":\n' + self.server_log()[-2000:])
        # the server still serves: new clients register (the old names are free again) and chat
        d = self.core(JON)
        e = self.core(STEPHEN)
        core_wait(self, d, lambda ev: ev['kind'] == 'update' and ev['users'] == [JON, STEPHEN], 'both')
        e.whisper(JON, 'back again')
        ev = core_wait(self, d, lambda ev: ev['kind'] == 'whisper', 'whisper')
        self.assertEqual(ev['text'], 'back again')


def others(client, frames):
    """Frames minus a JOINED for the client's own name: the server sends one (a bug pinned
    by test_hcp2.Hcp2Protocol.test_joined_not_sent_to_the_new_user); not what these cases test."""
    return [f for f in frames if not (f.type == JOINED and f.name == client.name)]


class SeedCasesHcp2(ServerTestCase):
    """The same cases over HCP/2."""

    def three(self):
        a = self.h2(JON)
        b = self.h2(STEPHEN)
        c = self.h2(JIMMY)
        for x in (a, b):
            x.expect(JOINED, lambda f: f.name == JIMMY)
        c.drain()
        return a, b, c

    def test_seed04_single_client_register(self):
        c = self.h2()
        w = c.hello()
        self.assertEqual(w.version, 2)
        c.propose(JON)
        ok = c.recv_frame()
        self.assertEqual((ok.type, ok.name), (NAME_OK, JON))
        users = c.recv_frame()
        self.assertEqual((users.type, users.users), (USERS, [JON]))

    def test_seed06_multiple_client_name_negotiation_with_duplicate(self):
        a = self.h2(JON)
        b = self.h2(STEPHEN)
        self.assertEqual(a.expect(JOINED, lambda f: f.name != JON).name, STEPHEN)
        a.drain()
        b.drain()
        c = self.h2()
        c.hello()
        c.propose(STEPHEN)
        r = c.recv_frame()
        self.assertEqual((r.type, r.code, r.name), (NAME_REFUSED, 104, STEPHEN))
        self.assertEqual(others(a, a.frames_within()), [])
        self.assertEqual(others(b, b.frames_within(0.05)), [])
        c.propose(JIMMY)
        self.assertEqual(c.recv_frame().type, NAME_OK)
        self.assertEqual(c.expect(USERS).users, [JON, STEPHEN, JIMMY])
        for x in (a, b):
            self.assertEqual(x.expect(JOINED, lambda f: f.name == JIMMY).name, JIMMY)

    def test_seed07_list_updates_on_join_and_leave(self):
        a, b, c = self.three()
        c.close()
        for x in (a, b):
            self.assertEqual(x.expect(LEFT).name, JIMMY)
            x.who()
            self.assertEqual(x.expect(USERS).users, [JON, STEPHEN])

    def test_seed08_broadcast(self):
        a, b, c = self.three()
        ref = a.say(BROADCAST_TEXT)
        sent = a.expect(SENT)
        self.assertEqual(sent.ref, ref)
        for x in (b, c):
            m = x.expect(MESSAGE)
            self.assertEqual((m.sender, m.kind, m.target, m.text, m.id), (JON, 0, '', BROADCAST_TEXT, sent.id))
        self.assertEqual([f for f in a.frames_within() if f.type == MESSAGE], [], 'sender must not be echoed')

    def test_seed09_whisper(self):
        a, b, c = self.three()
        a.say(WHISPER_TEXT, to=STEPHEN)
        sent = a.expect(SENT)
        m = b.expect(MESSAGE)
        self.assertEqual((m.sender, m.kind, m.target, m.text, m.id), (JON, 1, STEPHEN, WHISPER_TEXT, sent.id))
        self.assertEqual(others(c, c.frames_within()), [], 'a third client must get nothing')
        self.assertEqual([f for f in a.frames_within(0.05) if f.type == MESSAGE], [])

    def test_seed10_typing_while_receiving(self):
        a, b, c = self.three()
        n = 300
        a_texts = ['a%d' % i for i in range(n)]
        b_texts = ['b%d' % i for i in range(n)]

        def pump(x, to, texts):
            for t in texts:
                x.say(t, to=to)
        ta = threading.Thread(target=pump, args=(a, STEPHEN, a_texts))
        tb = threading.Thread(target=pump, args=(b, JON, b_texts))
        ta.start(), tb.start()
        ta.join(10), tb.join(10)
        got_b = [b.expect(MESSAGE, timeout=10).text for _ in range(n)]
        got_a = [a.expect(MESSAGE, timeout=10).text for _ in range(n)]
        self.assertEqual(got_b, a_texts)
        self.assertEqual(got_a, b_texts)
        self.assertEqual(len([a.expect(SENT) for _ in range(n)]), n)
        self.assertEqual(others(c, c.frames_within(0.2)), [])

    def test_seed11_single_user_offline(self):
        a, b, c = self.three()
        c.bye()
        self.assertTrue(c.wait_closed())
        for x in (a, b):
            self.assertEqual(x.expect(LEFT).name, JIMMY)
        a.say('still there?', to=STEPHEN)
        self.assertEqual(b.expect(MESSAGE).text, 'still there?')

    def test_seed12_all_users_offline_server_still_serving(self):
        a, b, c = self.three()
        for x in (c, b, a):
            x.close()
        # no event to await on the server side but its log line
        self.assertTrue(self.wait_log(r'is offline now', count=3) and self.wait_log(r'no user online now'),
                        self.server_log()[-2000:])
        d = self.h2(JON)
        e = self.h2(STEPHEN)
        e.say('back again', to=JON)
        self.assertEqual(d.expect(MESSAGE).text, 'back again')


if __name__ == '__main__':
    unittest.main()
