"""E. Interop: the original client on our server, our howdy-client on the original
server, and HCP/1 + HCP/2 clients (ours and the test's) chatting on one server.

howdy-client in line mode (stdin a pipe) prints one event per line: "Connected to H:P",
"Your name is N", "Online: a, b", "N joined", "N left", "N says: t",
"N whispers to you: t", "You say: t", "You whisper to N: t", "Name refused: ...",
"Server closed the connection". Input: a line is a proposal until a name is accepted,
then a chat line; "@name text" whispers; end of input quits."""

import re
import unittest

from harness import (HOST, JOINED, LEFT, MESSAGE, USERS, ClientMixin, ReferenceServer,
                     ServerTestCase, client_path, core_wait, reference_core, requires_client, requires_reference)

JON, STEPHEN, JIMMY = 'Jon Stewart', 'Stephen Colbert', 'Jimmy Fallon'


def esc(s):
    return re.escape(s)


# ---------------------------------------------------------------------------

@requires_reference
class OriginalClientOnOurServer(ServerTestCase):

    def test_original_client_registers_chats_and_whispers(self):
        a = self.core(JON)
        b = self.core(STEPHEN)
        self.assertEqual(core_wait(self, a, lambda e: e['kind'] == 'update' and STEPHEN in e['users'],
                                   'update')['users'], [JON, STEPHEN])
        a.broadcast('Howdy!')
        ev = core_wait(self, b, lambda e: e['kind'] == 'says', 'broadcast')
        self.assertEqual((ev['sender'], ev['text']), (JON, 'Howdy!'))
        b.whisper(JON, 'psst')
        ev = core_wait(self, a, lambda e: e['kind'] == 'whisper', 'whisper')
        self.assertEqual((ev['sender'], ev['text']), (STEPHEN, 'psst'))
        self.assertFalse([e for e in a.events + b.events if e['kind'] in ('error', 'dropped', 'unknown')])

    def test_original_client_and_hcp2_client_chat_both_ways(self):
        a = self.core(JON)
        h = self.h2()
        self.assertEqual(h.register('Amy'), [JON, 'Amy'])
        upd = core_wait(self, a, lambda e: e['kind'] == 'update' and 'Amy' in e['users'], 'update with Amy')
        self.assertEqual(upd['users'], [JON, 'Amy'])
        # original -> HCP/2
        a.broadcast('to everyone')
        m = h.expect(MESSAGE)
        self.assertEqual((m.sender, m.kind, m.target, m.text), (JON, 0, '', 'to everyone'))
        a.whisper('Amy', 'just you')
        m = h.expect(MESSAGE)
        self.assertEqual((m.sender, m.kind, m.target, m.text), (JON, 1, 'Amy', 'just you'))
        # HCP/2 -> original
        h.say_ok('hello Jon', to=JON)
        ev = core_wait(self, a, lambda e: e['kind'] == 'whisper', 'whisper from Amy')
        self.assertEqual((ev['sender'], ev['text']), ('Amy', 'hello Jon'))
        h.say_ok('hello all ✓')
        ev = core_wait(self, a, lambda e: e['kind'] == 'says', 'broadcast from Amy')
        self.assertEqual((ev['sender'], ev['text']), ('Amy', 'hello all ✓'))
        h.close()
        upd = core_wait(self, a, lambda e: e['kind'] == 'update' and e['left'] == ['Amy'], 'Amy left')
        self.assertEqual(upd['users'], [JON])

    def test_original_client_unmodified_recv_mode(self):
        """The original's one-recv-one-packet reading (split_frames=False) still works for
        events that arrive one at a time (the ack and the first update may arrive together:
        see docs/protocol.md 1.5, interop note)."""
        mod = reference_core()
        a = mod.HowdyClientCore(split_frames=False)
        a.connect(HOST, self.port)
        self._clients.append(a)
        a.propose(JON)
        core_wait(self, a, lambda e: e['kind'] == 'ack', 'ack')
        self.assertEqual(a.myname, JON)
        b = self.h2('Amy')
        core_wait(self, a, lambda e: e['kind'] == 'update' and 'Amy' in e['users'], 'update with Amy')
        b.say_ok('one')
        ev = core_wait(self, a, lambda e: e['kind'] == 'says', 'broadcast')
        self.assertEqual(ev['text'], 'one')
        a.whisper('Amy', 'back')
        self.assertEqual(b.expect(MESSAGE).text, 'back')


class MixedProtocols(ServerTestCase):

    def test_hcp1_and_hcp2_users_see_each_other_and_chat(self):
        h2a = self.h2('Amy')
        h1b = self.h1('Bob')
        self.assertEqual(h2a.expect(JOINED, lambda f: f.name == 'Bob').name, 'Bob')
        h2c = self.h2('Cid')
        upd = h1b.expect(lambda p: p.type == 4)
        self.assertEqual(upd.users, ['Amy', 'Bob', 'Cid'])
        h2c.who()
        self.assertEqual(h2c.expect(USERS, lambda f: len(f.users) == 3).users, ['Amy', 'Bob', 'Cid'])
        h1b.say('from HCP/1 to all')
        for x in (h2a, h2c):
            m = x.expect(MESSAGE, lambda f: f.sender == 'Bob')
            self.assertEqual((m.kind, m.text), (0, 'from HCP/1 to all'))
        h1b.say('only Cid', to='Cid')
        self.assertEqual(h2c.expect(MESSAGE, lambda f: f.text == 'only Cid').kind, 1)
        h2a.say_ok('to Bob', to='Bob')
        p = h1b.expect(lambda p: p.type == 5)
        self.assertEqual((p.sender, p.receiver, p.text), ('Amy', 'Bob', 'to Bob'))
        h2c.say_ok('to all from HCP/2')
        p = h1b.expect(lambda p: p.type == 5)
        self.assertEqual((p.sender, p.receiver, p.text), ('Cid', 'All', 'to all from HCP/2'))
        self.assertEqual([f for f in h2c.frames_within(0.2) if f.type == MESSAGE], [])
        h1b.close()
        for x in (h2a, h2c):
            self.assertEqual(x.expect(LEFT).name, 'Bob')


# ---------------------------------------------------------------------------

@requires_client
class OurClientOnOurServer(ClientMixin, ServerTestCase):

    def test_seed01_client_shows_name_list_and_own_messages(self):
        for proto in ('hcp2', 'hcp1'):
            with self.subTest(protocol=proto):
                other = self.h2('Other-' + proto)
                p = self.howdy_client(self.port, proto, 'Me-' + proto)
                self.line(p, r'^Connected to 127\.0\.0\.1:%d$' % self.port)
                self.line(p, r'^Your name is Me-%s$' % proto)
                _, m = self.line(p, r'^Online: ')
                self.assertIn('Me-' + proto, m.string)
                self.assertIn('Other-' + proto, m.string)
                p.send_line('hello from the client')
                self.line(p, r'^You say: hello from the client$')
                self.assertEqual(other.expect(MESSAGE, lambda f: f.sender == 'Me-' + proto).text,
                                 'hello from the client')
                p.close_stdin()
                self.assertEqual(p.wait_exit(5), 0, p.describe())
                other.close()

    def test_howdy_clients_hcp1_and_hcp2_chat(self):
        amy = self.howdy_client(self.port, 'hcp2', 'Amy')
        self.line(amy, r'^Online: Amy$')
        bob = self.howdy_client(self.port, 'hcp1', 'Bob Two')
        self.line(bob, r'^Online: Amy, Bob Two$')
        self.line(amy, r'^Bob Two joined$')
        cid = self.h2('Cid')
        dan = self.h1('Dan')
        for p in (amy, bob):
            self.line(p, r'^Dan joined$')
        amy.send_line('hi everyone')
        self.line(bob, r'^Amy says: hi everyone$')
        self.assertEqual(cid.expect(MESSAGE, lambda f: f.sender == 'Amy').text, 'hi everyone')
        self.assertEqual(dan.expect(lambda p: p.type == 5).text, 'hi everyone')
        self.no_line(amy, r'^Amy says:')
        bob.send_line('@Amy just for you')
        self.line(bob, r'^You whisper to Amy: just for you$')
        self.line(amy, r'^Bob Two whispers to you: just for you$')
        amy.send_line('@Bob Two and back')
        self.line(bob, r'^Amy whispers to you: and back$')
        cid.say_ok('from Cid', to='Bob Two')
        self.line(bob, r'^Cid whispers to you: from Cid$')
        dan.say('from Dan')
        self.line(amy, r'^Dan says: from Dan$')
        self.line(bob, r'^Dan says: from Dan$')
        dan.close()
        self.line(amy, r'^Dan left$')
        self.line(bob, r'^Dan left$')
        self.assertEqual([f for f in cid.frames_within(0.2) if f.type == MESSAGE and f.kind == 1 and
                          f.target != 'Cid'], [])
        bob.close_stdin()
        self.assertEqual(bob.wait_exit(5), 0, bob.describe())
        self.line(amy, r'^Bob Two left$')

    def test_client_name_refused_then_accepted(self):
        self.h2('Taken')
        for proto in ('hcp2', 'hcp1'):
            with self.subTest(protocol=proto):
                p = self.howdy_client(self.port, proto)
                self.line(p, r'^Connected to ')
                for bad in ('All', 'Taken'):
                    start = p.line_count()
                    p.send_line(bad)
                    self.line(p, r'^Name refused', start=start)
                p.send_line('Fine-' + proto)
                self.line(p, r'^Your name is Fine-%s$' % proto)
                p.send_line('/quit')
                self.assertEqual(p.wait_exit(5), 0, p.describe())

    def test_client_sees_server_shutdown(self):
        p2 = self.howdy_client(self.port, 'hcp2', 'Amy')
        p1 = self.howdy_client(self.port, 'hcp1', 'Bob')
        self.line(p2, r'^Your name is Amy$')
        self.line(p1, r'^Your name is Bob$')
        self.assertEqual(self.server.stop(), 0)
        self.line(p2, r'^(error 110|Server closed the connection)')
        self.line(p1, r'^Server closed the connection$')
        self.assertEqual(p2.wait_exit(5), 1, p2.describe())
        self.assertEqual(p1.wait_exit(5), 1, p1.describe())


@requires_reference
@requires_client
class OurClientOnOriginalServer(ClientMixin, unittest.TestCase):
    """howdy-client --protocol hcp1 against the ORIGINAL howdy_server.py."""

    def setUp(self):
        self.ref = ReferenceServer().start()
        self.addCleanup(self.ref.stop, grace=3)
        self.cores = []
        self.addCleanup(lambda: [c.close() for c in self.cores])

    def core(self, name):
        mod = reference_core()
        c = mod.HowdyClientCore(split_frames=True)
        c.connect(HOST, self.ref.port)
        self.cores.append(c)
        c.propose(name)
        ev = self.ref_wait(c, lambda e: e['kind'] in ('ack', 'nak'), 'ack')
        self.assertEqual(ev['kind'], 'ack')
        self.ref_wait(c, lambda e: e['kind'] == 'update' and name in e['users'], 'update')
        return c

    def ref_wait(self, core, pred, what, timeout=5, start=0):
        ev = core.wait_for(pred, timeout, start)
        if ev is None:
            self.fail('original client: no %s within %ss; events %r\n--- original server log:\n%s\n%s'
                      % (what, timeout, [{k: v for k, v in e.items() if k not in ('raw', 't')} for e in core.events],
                         self.ref.stdout.text()[-3000:], self.ref.stderr_text()[-2000:]))
        return ev

    def test_howdy_client_on_original_server(self):
        p = self.howdy_client(self.ref.port, 'hcp1', JON)
        self.line(p, r'^Your name is %s$' % esc(JON))
        self.line(p, r'^Online: %s$' % esc(JON))
        b = self.core(STEPHEN)
        self.line(p, r'^%s joined$' % esc(STEPHEN))
        # our client broadcasts
        p.send_line('If we amplify everything, we hear nothing.')
        self.line(p, r'^You say: If we amplify everything, we hear nothing\.$')
        ev = self.ref_wait(b, lambda e: e['kind'] == 'says', 'broadcast from howdy-client')
        self.assertEqual((ev['sender'], ev['text']), (JON, 'If we amplify everything, we hear nothing.'))
        # our client receives a broadcast and a whisper from the original client
        b.broadcast('Howdy from the original')
        self.line(p, r'^%s says: Howdy from the original$' % esc(STEPHEN))
        b.whisper(JON, 'I always knew I should not have said that.')
        self.line(p, r'^%s whispers to you: I always knew I should not have said that\.$' % esc(STEPHEN))
        # our client whispers to a name with a space
        p.send_line('@%s psst' % STEPHEN)
        ev = self.ref_wait(b, lambda e: e['kind'] == 'whisper', 'whisper from howdy-client')
        self.assertEqual((ev['sender'], ev['text']), (JON, 'psst'))
        # a third user joins and leaves
        c = self.core(JIMMY)
        self.line(p, r'^%s joined$' % esc(JIMMY))
        c.close()
        self.line(p, r'^%s left$' % esc(JIMMY))
        # our client leaves; the original client sees it
        start = len(b.events)
        p.close_stdin()
        self.assertEqual(p.wait_exit(5), 0, p.describe())
        upd = self.ref_wait(b, lambda e: e['kind'] == 'update' and JON not in e['users'], 'Jon left', start=start)
        self.assertEqual(upd['users'], [STEPHEN])

    def test_howdy_client_name_refused_by_original_server(self):
        self.core(STEPHEN)
        p = self.howdy_client(self.ref.port, 'hcp1')
        self.line(p, r'^Connected to ')
        p.send_line(STEPHEN)
        self.line(p, r'^Name refused')
        p.send_line(JON)
        self.line(p, r'^Your name is %s$' % esc(JON))


@requires_client
class ClientCommandLine(ClientMixin, unittest.TestCase):

    def test_help_and_bad_options(self):
        import subprocess
        r = subprocess.run([client_path(), '--help'], capture_output=True, timeout=10, stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 0)
        self.assertIn(b'--protocol', r.stdout)
        for args, word in ((['--protocol', 'hcp3'], b'--protocol'), (['--port', '70000'], b'--port'),
                           (['--name', 'x' * 65], b'--name')):
            r = subprocess.run([client_path(), *args], capture_output=True, timeout=10, stdin=subprocess.DEVNULL)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn(word, r.stderr)


if __name__ == '__main__':
    unittest.main()
