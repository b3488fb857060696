"""howdy-client (line mode) with accounts, rooms, receipts and history (issue 6),
against the real server.

The client is driven through pipes (LineProcess): one input line in, one event
line out. What is checked is what a user reads: "[#room] alice: text", the
[sent] / [delivered] marks of a whisper, the "history: N messages" block after
/login, and that a typed password never comes back out.
"""

import re
import subprocess
import time
import unittest

from harness import (DELIVERED, HOST, KIND_ROOM, KIND_USER, MESSAGE, SENT, ClientMixin, ServerTestCase,
                     client_path, free_port, requires_client)

TIME = r'(\d{4}-\d\d-\d\d )?\d\d:\d\d:\d\d'  # history lines start with the server time (a date if not today)


def esc(s):
    return re.escape(s)


class ClientLines(ClientMixin):
    """ClientMixin with this file's defaults: HCP/2 on the test's server."""

    def client(self, name=None, protocol='hcp2', port=None):
        return self.howdy_client(port or self.port, protocol, name)

    def signed_in_client(self, command, name, password):
        """A client that typed `/login` or `/register` NAME PASSWORD and got its name."""
        p = self.client()
        self.line(p, r'^Connected to ')
        p.send_line('%s %s %s' % (command, name, password))
        self.line(p, r'^Your name is %s$' % esc(name))
        return p

    def guest_client(self, name):
        p = self.client(name)
        self.line(p, r'^Your name is %s$' % esc(name))
        self.line(p, r'^Online: ')
        return p

    def assert_never_printed(self, p, secret):
        self.assertNotIn(secret, p.out.text(), 'the password came back on stdout\n' + p.describe())
        self.assertNotIn(secret, p.stderr_text(), 'the password came back on stderr\n' + p.describe())


@requires_client
class ClientAccounts(ClientLines, ServerTestCase):

    def test_register_then_login_in_another_client(self):
        secret = 'pw-Register-1'
        a = self.signed_in_client('/register', 'alice', secret)
        self.line(a, r'^Account alice created$')
        self.line(a, r'^Signed in as alice$')
        self.line(a, r'^Online: alice$')
        # A guest cannot take the name while alice is online, nor after: it belongs to the account.
        a.send_line('/quit')
        self.assertEqual(a.wait_exit(5), 0, a.describe())
        self.assert_never_printed(a, secret)

        g = self.client()
        self.line(g, r'^Connected to ')
        g.send_line('alice')
        self.line(g, r'^Name refused: ')
        g.send_line('/quit')

        wrong = self.client()
        self.line(wrong, r'^Connected to ')
        wrong.send_line('/login alice not-the-password')
        self.line(wrong, r'^Sign-in refused: wrong password$')
        wrong.send_line('/login nobody %s' % secret)
        self.line(wrong, r'^Sign-in refused: no account with that name$')
        wrong.send_line('/register alice other-pw')
        self.line(wrong, r'^Registration refused: ')
        wrong.send_line('guest-after-refusals')  # the client asks again: a plain name still works
        self.line(wrong, r'^Your name is guest-after-refusals$')
        self.assert_never_printed(wrong, 'not-the-password')
        self.assert_never_printed(wrong, 'other-pw')

        b = self.signed_in_client('/login', 'alice', secret)
        self.line(b, r'^Signed in as alice$')
        self.line(b, r'^history: no new messages$')
        b.send_line('/users')
        _, m = self.line(b, r'^Users \(\d+\): ')
        self.assertIn('alice (online)', m.string)
        self.assertIn('guest-after-refusals (guest)', m.string)
        b.send_line('/quit')
        self.assertEqual(b.wait_exit(5), 0, b.describe())
        self.assert_never_printed(b, secret)
        self.assertNotIn(secret, self.server_log(), 'the server logged the password')

        # Offline accounts are listed too.
        c = self.guest_client('carol')
        c.send_line('/users')
        _, m = self.line(c, r'^Users \(\d+\): ')
        self.assertIn('alice (offline)', m.string)
        self.assertIn('carol (guest)', m.string)

    def test_login_line_needs_name_and_password(self):
        p = self.client()
        self.line(p, r'^Connected to ')
        self.line(p, r'^Type a name to chat as a guest, or sign in: /login NAME PASSWORD, /register NAME PASSWORD$')
        p.send_line('/login justaname')
        self.line(p, r'^Usage: /login NAME PASSWORD$')
        p.send_line('Named')
        self.line(p, r'^Your name is Named$')
        start = p.line_count()
        p.send_line('/login Named pw-late')
        self.line(p, r'^You are Named already: /login comes instead of choosing a name', start=start)
        self.assert_never_printed(p, 'pw-late')

    def test_join_and_room_message_reaches_the_other_member(self):
        alice = self.guest_client('alice')
        bob = self.guest_client('bob')
        outsider = self.h2('outsider')
        alice.send_line('/join #general')
        self.line(alice, r'^You joined #general$')
        bob.send_line('/join general')
        self.line(bob, r'^You joined #general$')
        self.line(alice, r'^\[#general\] bob joined$')

        alice.send_line('/msg general hello room')
        self.line(alice, r'^\[#general\] You: hello room$')
        self.line(alice, r'^\[#general\] You: hello room \[sent\]$')
        self.line(bob, r'^\[#general\] alice: hello room$')
        self.assertEqual([f for f in outsider.frames_within(0.3) if f.type == MESSAGE], [],
                         'a room message reached a non-member')

        bob.send_line('/rooms')
        self.line(bob, r'^Rooms \(1\): #general \(2 members\)$')
        bob.send_line('/members #general')
        self.line(bob, r'^Members of #general \(2\): alice \(guest\), bob \(guest\)$')

        # Not a member: the message is marked, clearly.
        start = alice.line_count()
        alice.send_line('/msg elsewhere hi')
        self.line(alice, r'^\[#elsewhere\] You: hi \[NOT SENT: .*\(error 120\)\]$', start=start)

        bob.send_line('/leave general')
        self.line(bob, r'^You left #general$')
        self.line(alice, r'^\[#general\] bob left$')
        bob.send_line('/members general')
        self.line(bob, r'^Members of #general \(1\): alice \(guest\)$')

    def test_room_message_from_raw_member_shown_and_confirmed(self):
        alice = self.guest_client('alice')
        alice.send_line('/join lounge')
        self.line(alice, r'^You joined #lounge$')
        dan = self.h2('dan')
        dan.join_ok('lounge')
        self.line(alice, r'^\[#lounge\] dan joined$')
        ref = dan.say('from a raw client', to='lounge', kind=KIND_ROOM)
        sent = dan.expect(SENT, lambda f: f.ref == ref)
        self.line(alice, r'^\[#lounge\] dan: from a raw client$')
        alice.send_line('/msg lounge and back')
        m = dan.expect(MESSAGE, lambda f: f.kind == KIND_ROOM)
        self.assertEqual((m.sender, m.target, m.text), ('alice', 'lounge', 'and back'))
        self.assertGreater(m.id, sent.id)

    def test_whisper_marked_sent_then_delivered(self):
        alice = self.guest_client('alice')
        bob = self.guest_client('bob')
        alice.send_line('@bob psst')
        self.line(alice, r'^You whisper to bob: psst$')
        self.line(alice, r'^You whisper to bob: psst \[sent\]$')
        self.line(bob, r'^alice whispers to you: psst$')
        # bob's client confirmed it (RECEIVED), so the mark changes.
        self.line(alice, r'^You whisper to bob: psst \[delivered\]$')

        # The same for a whisper from a raw client: it gets DELIVERED with its id.
        eve = self.h2('eve')
        ref = eve.say('from eve', to='bob')
        sent = eve.expect(SENT, lambda f: f.ref == ref)
        self.line(bob, r'^eve whispers to you: from eve$')
        d = eve.expect(DELIVERED, lambda f: f.id == sent.id)
        self.assertEqual(d.recipient, 'bob')

    def test_whisper_not_delivered_and_unknown_recipient(self):
        alice = self.guest_client('alice')
        quiet = self.h2('quiet')  # gets the whisper, never confirms, then leaves
        self.line(alice, r'^quiet joined$')
        alice.send_line('@quiet are you there')
        self.line(alice, r'^You whisper to quiet: are you there \[sent\]$')
        m = quiet.expect(MESSAGE, lambda f: f.kind == KIND_USER)
        self.assertEqual(m.text, 'are you there')
        quiet.close()
        self.line(alice, r'^You whisper to quiet: are you there \[NOT DELIVERED: the recipient left before '
                         r'confirming\]$')

        alice.send_line('@nobody hello?')
        self.line(alice, r'^You whisper to nobody: hello\? \[NOT SENT: .*\(error 102\)\]$')

    def test_history_shown_on_login(self):
        secret = 'pw-history'
        carol = self.account('carol', secret)
        carol.join_ok('club')
        carol.close()
        time.sleep(0.2)  # carol's session has ended: what follows is stored for her
        sender = self.h2('sender')
        sender.join_ok('club')
        refs = [sender.say('first', to='carol'), sender.say('second', to='carol')]
        sent = [sender.expect(SENT, lambda f, r=r: f.ref == r) for r in refs]
        room_ref = sender.say('to the club', to='club', kind=KIND_ROOM)
        sender.expect(SENT, lambda f: f.ref == room_ref)

        p = self.signed_in_client('/login', 'carol', secret)
        i_head, _ = self.line(p, r'^history: 3 messages$')
        i1, _ = self.line(p, r'^%s sender whispers to you: first$' % TIME)
        i2, _ = self.line(p, r'^%s sender whispers to you: second$' % TIME)
        i3, _ = self.line(p, r'^%s \[#club\] sender: to the club$' % TIME)
        self.assertTrue(i_head < i1 < i2 < i3, p.describe())
        # The client confirmed both whispers: their sender (online) hears DELIVERED.
        for s in sent:
            sender.expect(DELIVERED, lambda f, s=s: f.id == s.id)

        # Live after the history: shown at once, no timestamp in line mode.
        sender.say_ok('live now', to='carol')
        self.line(p, r'^sender whispers to you: live now$')
        p.send_line('/quit')
        self.assertEqual(p.wait_exit(5), 0, p.describe())

        # The cursor moved: nothing is replayed twice.
        again = self.signed_in_client('/login', 'carol', secret)
        self.line(again, r'^history: no new messages$')
        self.no_line(again, r'whispers to you: first')

    def test_new_commands_over_hcp1(self):
        p = self.client(protocol='hcp1')
        self.line(p, r'^Connected to ')
        p.send_line('/login someone pw-hcp1')
        self.line(p, r'^/login is not available over HCP/1 \(connect with --protocol hcp2\)$')
        p.send_line('Old Timer')
        self.line(p, r'^Your name is Old Timer$')
        self.line(p, r'^Online: ')
        for cmd in ('/join x', '/leave x', '/rooms', '/members x', '/users', '/msg x hi', '/register a b'):
            start = p.line_count()
            p.send_line(cmd)
            self.line(p, r'^%s is not available over HCP/1' % esc(cmd.split()[0]), start=start)
        self.assert_never_printed(p, 'pw-hcp1')
        p.send_line('/quit')
        self.assertEqual(p.wait_exit(5), 0, p.describe())

    def test_help_lists_the_commands(self):
        p = self.guest_client('helpme')
        p.send_line('/help')
        self.line(p, r'^  /quit ')
        text = p.out.text()
        for cmd in ('/register NAME PASSWORD', '/login NAME PASSWORD', '/join ROOM', '/leave ROOM', '/rooms',
                    '/members ROOM', '/users', '/msg ROOM text', '/who', '@name text'):
            self.assertIn('  ' + cmd, text)


@requires_client
class ClientHistoryPages(ClientLines, ServerTestCase):
    server_args = ('--history-per-user', '2000')  # keep more than one page

    def test_history_pages_are_all_shown(self):
        total = 1005  # more than one page (the server sends at most 1000 per reply)
        carol = self.account('carol', 'pw-pages-test')
        carol.close()
        time.sleep(0.2)
        sender = self.h2('sender')
        last = None
        for n in range(total):
            last = sender.say('msg %d' % n, to='carol')
        sender.expect(SENT, lambda f: f.ref == last, timeout=30)

        p = self.signed_in_client('/login', 'carol', 'pw-pages-test')
        self.line(p, r'^%s sender whispers to you: msg %d$' % (TIME, total - 1), timeout=30)
        heads = [ln for ln in p.lines() if ln.startswith('history: ')]
        counts = [int(re.match(r'history: (\d+)', h).group(1)) for h in heads]
        self.assertGreater(len(heads), 1, heads)
        self.assertEqual(sum(counts), total, heads)
        self.assertTrue(all(' more ' in h for h in heads[1:]), heads)
        shown = [ln for ln in p.lines() if 'whispers to you: msg ' in ln]
        self.assertEqual([int(ln.rsplit(' ', 1)[1]) for ln in shown], list(range(total)))


@requires_client
class ClientConnectTimeout(unittest.TestCase):

    def test_gives_up_after_the_deadline_with_a_clear_message(self):
        port = free_port()  # nothing listens there
        t0 = time.monotonic()
        r = subprocess.run([client_path(), '--host', HOST, '--port', str(port), '--connect-timeout', '1'],
                           capture_output=True, timeout=20, stdin=subprocess.DEVNULL)
        elapsed = time.monotonic() - t0
        self.assertEqual(r.returncode, 1, r)
        self.assertIn(b'retrying for up to 1 s', r.stderr)
        self.assertIn(b'cannot reach 127.0.0.1:%d' % port, r.stderr)
        self.assertIn(b'gave up after 1 s', r.stderr)
        self.assertGreaterEqual(elapsed, 0.9)
        self.assertLess(elapsed, 10)


if __name__ == '__main__':
    unittest.main()
