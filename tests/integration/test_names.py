"""People's names on every protocol (docs/protocol.md 2.15, server/names.hpp): no blank
names, no white space at either end, no control or invisible characters, no leading
/ or @; one name per NFKC case folding for everyone online; accounts also keep away
look-alikes (confusable skeletons); minimum password length; LOGIN while signed in
elsewhere (126); an HCP/1 name over 64 bytes gets a nak (issue 13). Real server,
real sockets; the original HCP/1 client where it applies."""

import os
import shutil
import sqlite3
import tempfile
import unittest

from harness import (E_INVALID_PASSWORD, E_MALFORMED_NAME, E_NAME_REGISTERED, E_NAME_TAKEN,
                     E_SIGNED_IN_ELSEWHERE, MESSAGE, NAME_OK, NAME_REFUSED, H2Client, ServerProcess,
                     ServerTestCase, h1_message, h1_proposal, requires_reference, server_path)

PW = 'names-password'
CYRILLIC_A = '\u0430'
DAVE_LOOKALIKE = 'd' + CYRILLIC_A + 've'   # dаve: looks like dave, another NFKC case folding
FULLWIDTH_DAVE = '\uff44\uff41\uff56\uff45'  # ｄａｖｅ: NFKC folds it to dave

# Names no protocol accepts, and the rule each breaks (the reason HCP/2 gets).
BAD_NAMES = [
    ('   ', 'blank'),
    ('\u00a0', 'blank'),                     # NBSP alone
    ('\u3000\u3000', 'blank'),               # ideographic spaces
    (' bob', 'start or end with a space'),
    ('bob ', 'start or end with a space'),
    ('\u00a0bob', 'start or end with a space'),
    ('bob\u2003', 'start or end with a space'),
    ('b\u200dob', 'invisible'),              # zero-width joiner
    ('b\u200bob', 'invisible'),              # zero-width space
    ('bo\u00adb', 'invisible'),              # soft hyphen
    ('a\u202eb', 'invisible'),               # right-to-left override
    ('bob\ufe0f', 'invisible'),              # variation selector (default ignorable)
    ('a\u2028b', 'invisible'),               # line separator
    ('a\tb', 'invisible'),                   # control
    ('a\x7fb', 'invisible'),
    ('\u0378x', 'invisible'),                # unassigned
    ('/nick', 'start with / or @'),
    ('@bob', 'start with / or @'),
    ('\uff0fnick', 'start with / or @'),     # fullwidth solidus
    ('\ufe6bbob', 'start with / or @'),      # small commercial at
]
GOOD_NAMES = ['Bob Smith', 'b/o@b', 'Zo\u00eb', '\u5f20\u4f1f', 'Jos\u00e9 Mar\u00eda', 'x' * 64]


def utf8(s):
    return s.encode('utf-8')


class GuestNameRules(ServerTestCase):
    """The rules for names, on HCP/2, HCP/1 and the text protocol."""

    def test_hcp2_refuses_each_bad_name_with_its_reason(self):
        c = self.h2()
        c.hello()
        for bad, why in BAD_NAMES:
            c.propose(bad)
            r = c.expect(NAME_REFUSED)
            self.assertEqual(r.code, E_MALFORMED_NAME, '%r: %r' % (bad, r))
            self.assertIn(why, r.reason, '%r: %r' % (bad, r))
        for good in GOOD_NAMES:                # one per connection
            g = self.h2()
            g.hello()
            g.propose(good)
            self.assertEqual(g.expect(NAME_OK).name, good)

    def test_hcp1_naks_each_bad_name(self):
        c = self.h1()
        for bad, _ in BAD_NAMES:
            c.send_raw(h1_proposal(bad))
            p = c.recv_packet()
            self.assertEqual(p.type, 3, '%r: %r' % (bad, p))
        c.register('Bob Smith')                # the connection is still usable

    def test_hcp2_register_refuses_bad_names(self):
        c = self.h2()
        c.hello()
        for bad, why in BAD_NAMES[:4] + BAD_NAMES[7:8] + BAD_NAMES[16:18]:
            r = c.send_register(bad, PW)
            self.assertEqual((r.type, r.code), (NAME_REFUSED, E_MALFORMED_NAME), '%r: %r' % (bad, r))
            self.assertIn(why, r.reason)

    def test_one_name_per_nfkc_case_folding(self):
        self.h2('Dave')
        c = self.h2()
        c.hello()
        for same in ('DAVE', 'dave', 'dAvE', FULLWIDTH_DAVE):
            c.propose(same)
            r = c.expect(NAME_REFUSED)
            self.assertEqual((r.code, r.name), (E_NAME_TAKEN, same))
        h1 = self.h1()
        h1.propose('dave')
        self.assertEqual(h1.recv_packet().type, 3)
        t = self.text_conn()
        self.assertEqual(t.request(b'REGISTER TORECV DAVE\n\n').code, E_NAME_TAKEN)
        # Guests beside guests: case folding only; a look-alike is another name.
        c.propose(DAVE_LOOKALIKE)
        self.assertEqual(c.expect(NAME_OK).name, DAVE_LOOKALIKE)

    def test_nbsp_inside_a_name_is_the_same_as_a_space(self):
        self.h2('Jon Stewart')
        c = self.h2()
        c.hello()
        c.propose('Jon\u00a0Stewart')
        self.assertEqual(c.expect(NAME_REFUSED).code, E_NAME_TAKEN)
        c.propose('jon \uff33tewart')         # fullwidth S, other case
        self.assertEqual(c.expect(NAME_REFUSED).code, E_NAME_TAKEN)

    def test_text_user_and_hcp1_user_collide_by_case(self):
        self.text('Carol')
        for proto in ('h1', 'h2'):
            if proto == 'h1':
                c = self.h1()
                c.propose('CAROL')
                self.assertEqual(c.recv_packet().type, 3)
            else:
                c = self.h2()
                c.hello()
                c.propose('carol')
                self.assertEqual(c.expect(NAME_REFUSED).code, E_NAME_TAKEN)
        self.h1('Ed')
        t = self.text_conn()
        self.assertEqual(t.request(b'REGISTER TOSEND ED\n\n').code, E_NAME_TAKEN)

    def test_text_sender_of_another_case_sends_as_its_receiver(self):
        amy = self.h2('amy')
        t = self.text_conn()                   # TORECV first, as bob
        self.assertEqual(t.request(b'REGISTER TORECV bob\n\n').raw, b'REGISTERED TORECV bob\n\n')
        s = self.text_conn()
        self.assertEqual(s.request(b'REGISTER TOSEND BOB\n\n').kind, 'REGISTERED')
        s.send_raw(b'SEND ALL\nContent-length: 2\n\nhi')
        self.assertEqual(amy.expect(MESSAGE, lambda f: f.text == 'hi').sender, 'bob')

    def test_whisper_by_another_case_reaches_the_name_as_claimed(self):
        amy = self.h2('Amy')
        bob = self.h2('bob')
        bob.say_ok('hi', to='AMY')
        m = amy.expect(MESSAGE, lambda f: f.text == 'hi')
        self.assertEqual((m.sender, m.target), ('bob', 'Amy'))


class AccountNames(ServerTestCase):
    """Accounts keep away their look-alikes: live names, and other accounts."""

    def test_guests_cannot_take_an_account_name_or_a_look_alike(self):
        self.account('dave', PW).close()
        c = self.h2()
        c.hello()
        for other in ('DAVE', FULLWIDTH_DAVE, DAVE_LOOKALIKE, 'DAV\u0415'):   # last: Cyrillic Е
            c.propose(other)
            r = c.expect(NAME_REFUSED)
            self.assertEqual((r.code, r.name), (E_NAME_REGISTERED, other))
        h1 = self.h1()
        for other in ('Dave', DAVE_LOOKALIKE):
            h1.send_raw(h1_proposal(other))
            self.assertEqual(h1.recv_packet().type, 3, other)
        t = self.text_conn()
        self.assertEqual(t.request(b'REGISTER TORECV DAVE\n\n').code, E_NAME_REGISTERED)
        t2 = self.text_conn()
        self.assertEqual(t2.request(b'REGISTER TOSEND Dave\n\n').code, E_NAME_REGISTERED)
        c.propose('davey')                     # a different name is fine
        self.assertEqual(c.expect(NAME_OK).name, 'davey')

    def test_no_account_beside_a_look_alike_account(self):
        self.account('dave', PW).close()
        c = self.h2()
        c.hello()
        r = c.send_register('DAVE', PW)
        self.assertEqual((r.type, r.code), (NAME_REFUSED, E_NAME_REGISTERED), r)
        for other in (DAVE_LOOKALIKE, FULLWIDTH_DAVE):
            r = c.send_register(other, PW)
            self.assertEqual((r.type, r.code), (NAME_REFUSED, E_NAME_REGISTERED), '%r: %r' % (other, r))
        r = c.send_register(DAVE_LOOKALIKE, PW)
        self.assertIn('looks like the registered name dave', r.reason)
        # The other way round: rn and m look alike too.
        self.account('modern', PW).close()
        r = c.send_register('rnodern', PW)
        self.assertEqual((r.code, r.reason), (E_NAME_REGISTERED, 'that name looks like the registered name modern'))

    def test_no_account_beside_an_online_look_alike(self):
        self.h2(DAVE_LOOKALIKE)
        self.h2('Eve')
        c = self.h2()
        c.hello()
        r = c.send_register('dave', PW)
        self.assertEqual((r.type, r.code), (NAME_REFUSED, E_NAME_TAKEN), r)
        self.assertIn(DAVE_LOOKALIKE + ', who is online', r.reason)
        r = c.send_register('EVE', PW)
        self.assertEqual((r.type, r.code), (NAME_REFUSED, E_NAME_TAKEN), r)
        c.create_account('dave2', PW)          # nothing was left protected by the refusals
        g = self.h2()
        g.hello()
        g.propose('dave')
        self.assertEqual(g.expect(NAME_OK).name, 'dave')

    def test_login_by_another_case_signs_in_to_the_account(self):
        self.account('dave', PW).close()
        amy = self.h2('amy')
        amy.say_ok('while you were away', to='DAVE')   # stored for dave, by its key
        c = self.h2()
        self.assertEqual(c.send_login('DAVE', PW).name, 'dave')   # NAME_OK with the account's name
        messages, _ = c.read_history()
        self.assertEqual([(m.sender, m.target, m.text) for m in messages],
                         [('amy', 'dave', 'while you were away')])
        other = self.h2()
        r = other.send_login(FULLWIDTH_DAVE, PW)
        self.assertEqual((r.code, r.name), (E_SIGNED_IN_ELSEWHERE, 'dave'))
        self.assertEqual(r.reason, 'that account is signed in elsewhere')


class Passwords(ServerTestCase):

    def test_register_needs_eight_bytes_by_default(self):
        c = self.h2()
        c.hello()
        for short in ('', 'a', '1234567', '\u00e9\u00e9\u00e9'):  # the last is 6 bytes
            r = c.send_register('pat', short)
            self.assertEqual((r.type, r.code), (NAME_REFUSED, E_INVALID_PASSWORD), '%r: %r' % (short, r))
            self.assertEqual(r.reason, 'password must be 8 to 1024 bytes')
        self.assertEqual(c.send_register('pat', '12345678').type, NAME_OK)


class PasswordOption(ServerTestCase):
    server_args = ('--min-password-length', '12')

    def test_min_password_length_option(self):
        c = self.h2()
        c.hello()
        r = c.send_register('pat', 'x' * 11)
        self.assertEqual((r.code, r.reason), (E_INVALID_PASSWORD, 'password must be 12 to 1024 bytes'))
        self.assertEqual(c.send_register('pat', 'x' * 12).type, NAME_OK)


class SignedInElsewhere(ServerTestCase):

    def test_login_while_signed_in_is_126_and_a_guest_name_is_still_104(self):
        a = self.account('alice', PW)
        c = self.h2()
        c.hello()
        r = c.send_login('alice', PW)
        self.assertEqual((r.type, r.code, r.name), (NAME_REFUSED, E_SIGNED_IN_ELSEWHERE, 'alice'))
        self.h2('gus')
        r = c.send_register('gus', PW)
        self.assertEqual(r.code, E_NAME_TAKEN)
        a.say_ok('still signed in', to='gus')


class Hcp1LongNames(ServerTestCase):
    """Issue 13: the original client sends a name over 64 bytes unpadded, as one 1 + n
    byte proposal; it gets a nak (the first 64 bytes echoed), not an ack of a cut name
    and then a close."""

    def test_raw_overlong_proposal_gets_a_nak_and_the_connection_stays(self):
        c = self.h1()
        c.send_raw(b'\x01' + b'x' * 70)
        p = c.recv_packet()
        self.assertEqual((p.type, p.raw), (3, b'\x03' + b'x' * 64))
        self.assertEqual(c.packets_within(), [], 'nothing else: no ack, no list')
        c.register('shorter')                  # still in phase 1, and usable

    def test_overlong_proposal_then_another_in_one_write(self):
        c = self.h1()
        c.send_raw(b'\x01' + utf8('\u00e9' * 40) + h1_proposal('next one'))   # 80 bytes of name
        self.assertEqual(c.recv_packet().type, 3)
        self.assertEqual(c.recv_packet().type, 2)

    def test_64_bytes_exactly_is_still_a_name(self):
        d = self.h2('watcher')
        c = self.h1()
        # A full field, and a message right behind it in the same write: two packets.
        c.send_raw(h1_proposal('y' * 64) + h1_message('y' * 64, 'All', 'right behind'))
        self.assertEqual(c.recv_packet().type, 2)
        self.assertEqual(d.expect(MESSAGE, lambda f: f.text == 'right behind').sender, 'y' * 64)

    @requires_reference
    def test_original_client_gets_a_nak_for_a_long_name(self):
        """The original client, unsplit (one recv() per packet, as it was)."""
        from harness import reference_core
        mod = reference_core()
        c = mod.HowdyClientCore(split_frames=False)
        c.connect('127.0.0.1', self.port)
        self._clients.append(c)
        c.propose('Jon Stewart of the Daily Show, host and comedian, born in New York')   # 67 bytes
        ev = c.wait_for(lambda e: e['kind'] in ('ack', 'nak', 'closed'), 5)
        self.assertIsNotNone(ev)
        self.assertEqual(ev['kind'], 'nak', c.events)
        self.assertIn('The username is not accepted by server, please try another one.', c.transcript)
        start = len(c.events)
        c.propose('Jon Stewart')
        ev = c.wait_for(lambda e: e['kind'] in ('ack', 'nak', 'closed'), 5, start)
        self.assertEqual((ev['kind'], ev.get('name')), ('ack', 'Jon Stewart'), c.events)


@unittest.skipUnless(server_path(), 'no server executable (pass --server PATH)')
class OlderDatabase(unittest.TestCase):
    """A database from before likeness keys (schema version 1), with two accounts that
    now count as one name: both keep working, and new look-alikes are refused."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix='howdy-it-names-')
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.db = os.path.join(self.dir, 'howdy.db')
        self.clients, self.servers = [], []
        self.addCleanup(self._cleanup)

    def _cleanup(self):
        for c in self.clients:
            c.close()
        for s in self.servers:
            self.assertEqual(s.stop(grace=5), 0)

    def start(self, *args):
        s = ServerProcess(args=['--db', self.db] + list(args)).start()
        self.servers.append(s)
        return s

    def client(self, server):
        c = H2Client(server.port)
        self.clients.append(c)
        c.hello()
        return c

    def test_version_1_database(self):
        s = self.start('--min-password-length', '1')
        self.client(s).create_account('dave', 'pw')
        s.stop()
        self.servers.remove(s)
        # Back to version 1: no likeness column; and a second account, DAVE, with dave's hash.
        with sqlite3.connect(self.db) as db:
            db.execute('DROP INDEX accounts_by_likeness')
            db.execute('ALTER TABLE accounts DROP COLUMN likeness')
            db.execute("INSERT INTO accounts(name, hash, created_us) SELECT 'DAVE', hash, 1 FROM accounts")
            db.execute('PRAGMA user_version = 1')
        db.close()
        s = self.start()                       # the default minimum: LOGIN still takes 'pw'
        a = self.client(s)
        a.log_in('dave', 'pw')
        b = self.client(s)
        self.assertEqual(b.send_login('DAVE', 'pw').code, E_SIGNED_IN_ELSEWHERE, 'one of the two at a time')
        a.bye()
        self.assertTrue(a.wait_closed())
        b.log_in('DAVE', 'pw')                 # the exact account, not dave
        c = self.client(s)
        r = c.send_register(DAVE_LOOKALIKE, 'long enough')
        self.assertEqual((r.type, r.code), (NAME_REFUSED, E_NAME_REGISTERED), r)
        with sqlite3.connect(self.db) as db:
            rows = db.execute('SELECT name, likeness FROM accounts ORDER BY name').fetchall()
            version = db.execute('PRAGMA user_version').fetchone()[0]
        db.close()
        self.assertEqual(version, 2)
        self.assertEqual(len(rows), 2)
        self.assertEqual(rows[0][1], rows[1][1], 'both rekeyed to one likeness key')
        self.assertIsNotNone(rows[0][1])


if __name__ == '__main__':
    unittest.main()
