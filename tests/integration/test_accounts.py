"""H. Accounts (issue 6, .spec-issue6.md B and D): REGISTER / LOGIN over HCP/2, names
that belong to an account, the login rate limit, --auth off|optional|required, and
known-user presence (ROSTER). HCP/1 clients keep working next to all of it."""

import struct
import unittest

from harness import (DELIVERED, E_SIGNED_IN_ELSEWHERE, E_AUTH_DISABLED, E_AUTH_REQUIRED, E_INVALID_PASSWORD, E_MALFORMED_NAME,
                     E_NAME_REGISTERED, E_NAME_TAKEN, E_TOO_MANY_ATTEMPTS, E_UNKNOWN_ACCOUNT, E_WRONG_PASSWORD,
                     ERROR, HISTORY_END, JOINED, LEFT, MESSAGE, NAME_OK, NAME_REFUSED, NOT_DELIVERED, ROSTER, ST_ONLINE,
                     ST_REGISTERED, USERS, ChatTestCase, H2Frame, h2_history_request, h2_join, h2_leave, h2_login,
                     h2_members_request, h2_received, h2_register, h2_rooms_request, h2_roster_request, h2_send)

PW = 'correct horse ✓'


class HarnessFrameLayouts(unittest.TestCase):
    """The harness's own encoders and decoders against the byte layouts of the spec
    (no server needed): the tests below are only as right as these."""

    def test_client_frames(self):
        self.assertEqual(h2_register('Amy', 'pw'), bytes.fromhex('00000007' '10' '03416d79' '7077'))
        self.assertEqual(h2_login('Amy', 'pw'), bytes.fromhex('00000007' '11' '03416d79' '7077'))
        self.assertEqual(h2_roster_request(), bytes.fromhex('0000000112'))
        self.assertEqual(h2_received(42), bytes.fromhex('00000009' '20' '000000000000002a'))
        self.assertEqual(h2_join('dev'), bytes.fromhex('00000005' '30' '03646576'))
        self.assertEqual(h2_leave('dev'), bytes.fromhex('00000005' '31' '03646576'))
        self.assertEqual(h2_rooms_request(), bytes.fromhex('0000000132'))
        self.assertEqual(h2_members_request('dev'), bytes.fromhex('00000005' '33' '03646576'))
        self.assertEqual(h2_history_request(7), bytes.fromhex('00000009' '40' '0000000000000007'))
        self.assertEqual(h2_send('hi', 'dev', 2, ref=7), bytes.fromhex('0000000c' '03' '00000007' '02' '03646576'
                                                                       '6869'))

    def test_server_frames(self):
        f = H2Frame(0x91, struct.pack('>H', 2) + b'\x03\x03Amy' + b'\x02\x03Bob')
        self.assertEqual(f.entries, [(3, 'Amy'), (2, 'Bob')])
        self.assertEqual(f.status, {'Amy': 3, 'Bob': 2})
        f = H2Frame(0xA0, struct.pack('>Q', 9) + b'\x03Bob')
        self.assertEqual((f.id, f.recipient), (9, 'Bob'))
        f = H2Frame(0xA1, struct.pack('>QH', 9, 122) + b'\x03Bob')
        self.assertEqual((f.id, f.code, f.recipient), (9, 122, 'Bob'))
        f = H2Frame(0xB0, b'\x03dev\x03Amy')
        self.assertEqual((f.room, f.user), ('dev', 'Amy'))
        f = H2Frame(0xB2, struct.pack('>H', 1) + b'\x03dev' + struct.pack('>I', 5))
        self.assertEqual(f.rooms, [('dev', 5)])
        f = H2Frame(0xB3, b'\x03dev' + struct.pack('>H', 1) + b'\x01\x03Amy')
        self.assertEqual((f.room, f.entries), ('dev', [(1, 'Amy')]))
        f = H2Frame(0xC0, struct.pack('>QB', 12, 1))
        self.assertEqual((f.last_id, f.more), (12, 1))
        # left-over bytes and short payloads are decode errors
        self.assertIn('decode_error', H2Frame(0xC0, struct.pack('>QB', 12, 1) + b'x').f)
        self.assertIn('decode_error', H2Frame(0xA0, struct.pack('>Q', 9)).f)


class Accounts(ChatTestCase):

    def test_register_then_login(self):
        gus = self.h2('gus')
        a = self.h2()
        reply = a.send_register('alice', PW)
        self.assertEqual((reply.type, reply.name), (NAME_OK, 'alice'), reply)
        self.assertEqual(gus.expect(JOINED, lambda f: f.name == 'alice').name, 'alice',
                         'REGISTER signs in: the others see the new user')
        a.say_ok('registered and chatting', to='gus')
        self.assertEqual(gus.expect(MESSAGE).sender, 'alice')
        a.close()
        gus.expect(LEFT, lambda f: f.name == 'alice')

        b = self.h2()
        reply = b.send_login('alice', PW)
        self.assertEqual((reply.type, reply.name), (NAME_OK, 'alice'), reply)
        messages, end = b.read_history()
        self.assertEqual(messages, [], 'nothing was stored for alice')
        self.assertEqual((end.last_id, end.more), (0, 0))
        gus.expect(JOINED, lambda f: f.name == 'alice')
        b.say_ok('logged in', to='gus')
        m = gus.expect(MESSAGE)
        self.assertEqual((m.sender, m.text), ('alice', 'logged in'))

    def test_register_existing_account_117(self):
        self.account('alice', PW)
        c = self.h2()
        self.assert_refused(c.send_register('alice', 'another password'), E_NAME_REGISTERED, 'alice')
        reply = c.send_register('alice2', PW)
        self.assertEqual(reply.type, NAME_OK, 'the connection stays usable after NAME_REFUSED: %r' % reply)

    def test_register_existing_offline_account_117(self):
        a = self.account('alice', PW)
        a.close()
        c = self.h2()
        self.assert_refused(c.send_register('alice', 'another password'), E_NAME_REGISTERED, 'alice')
        # the first password still works: the second REGISTER changed nothing
        d = self.h2()
        d.log_in('alice', PW)

    def test_wrong_password_114_then_right_one(self):
        self.account('alice', PW).close()
        c = self.h2()
        self.assert_refused(c.send_login('alice', 'not the password'), E_WRONG_PASSWORD, 'alice')
        self.assert_refused(c.send_login('alice', PW[:-1]), E_WRONG_PASSWORD, 'alice')
        messages, end = c.log_in('alice', PW)
        self.assertEqual(messages, [])

    def test_unknown_account_115(self):
        c = self.h2()
        self.assert_refused(c.send_login('nobody', PW), E_UNKNOWN_ACCOUNT, 'nobody')
        c.propose('guest')                         # still usable as a guest
        self.assertEqual(c.expect(NAME_OK).name, 'guest')

    def test_invalid_password_124(self):
        c = self.h2()
        self.assert_refused(c.send_register('alice', ''), E_INVALID_PASSWORD, 'alice')
        self.assert_refused(c.send_register('alice', 'x' * 1025), E_INVALID_PASSWORD, 'alice')
        self.assertEqual(c.send_register('alice', 'x' * 1024).type, NAME_OK, '1024 bytes is the limit, and fine')
        c.close()
        d = self.h2()
        self.assert_refused(d.send_login('alice', ''), E_INVALID_PASSWORD, 'alice')
        d.log_in('alice', 'x' * 1024)

    def test_register_invalid_or_reserved_name_refused(self):
        c = self.h2()
        self.assert_refused(c.send_register('All', PW), 105, 'All')
        for bad in (b'\xff\xfe', b'', b'a\x00b'):
            r = c.send_register(bad, PW)            # (the refusal may echo the invalid bytes: check the code)
            self.assertEqual((r.type, r.code), (NAME_REFUSED, E_MALFORMED_NAME), 'REGISTER %r: %r' % (bad, r))

    def test_register_name_of_online_guest_104(self):
        self.h2('gus')
        c = self.h2()
        self.assert_refused(c.send_register('gus', PW), E_NAME_TAKEN, 'gus')

    def test_register_reply_is_name_ok_users_history_end(self):
        """docs/protocol.md 2.10: NAME_OK, USERS, then the (empty) history: HISTORY_END 0, 0."""
        self.h2('gus')
        c = self.h2()
        c.hello()
        c.send_raw(h2_register('alice', PW))
        frames = [c.recv_frame() for _ in range(3)]
        self.assertEqual([f.type for f in frames], [NAME_OK, USERS, HISTORY_END], frames)
        self.assertEqual(sorted(frames[1].users), ['alice', 'gus'])
        self.assertEqual((frames[2].last_id, frames[2].more), (0, 0))

    def test_named_connection_register_or_login_113(self):
        self.account('alice', PW).close()
        c = self.h2('gus')
        c.send_raw(h2_register('other', PW))
        self.assertEqual(c.expect(ERROR).code, 113)
        c.send_raw(h2_login('alice', PW))
        self.assertEqual(c.expect(ERROR).code, 113)
        self.assertEqual(c.roster()['gus'], ST_ONLINE, 'still gus')

    def test_roster_before_name(self):
        self.account('alice', PW).close()
        c = self.h2()
        c.hello()
        self.assertEqual(c.roster(), {'alice': ST_REGISTERED})

    def test_login_while_already_online_126(self):
        a = self.account('alice', PW)
        c = self.h2()
        self.assert_refused(c.send_login('alice', PW), E_SIGNED_IN_ELSEWHERE, 'alice')
        self.assert_refused(c.send_login('ALICE', PW), E_SIGNED_IN_ELSEWHERE, 'alice')  # the same account
        g = self.h2('gus')                         # the first session is untouched
        a.say_ok('still me', to='gus')
        self.assertEqual(g.expect(MESSAGE).sender, 'alice')

    def test_too_many_attempts_116_per_name(self):
        self.account('alice', PW).close()
        self.account('bob', PW).close()
        codes = []
        for _ in range(6):
            c = self.h2()
            r = c.send_login('alice', 'wrong guess')
            self.assertEqual(r.type, NAME_REFUSED, r)
            codes.append(r.code)
            c.close()
        self.assertEqual(codes[:4], [E_WRONG_PASSWORD] * 4, 'burst of 5 per name: %r' % codes)
        self.assertIn(E_TOO_MANY_ATTEMPTS, codes, 'no 116 after 6 wrong passwords: %r' % codes)
        first = codes.index(E_TOO_MANY_ATTEMPTS)
        self.assertEqual(codes[first:], [E_TOO_MANY_ATTEMPTS] * (len(codes) - first), codes)
        # the limit is on attempts, not on wrong passwords: the right one is refused too
        c = self.h2()
        self.assert_refused(c.send_login('alice', PW), E_TOO_MANY_ATTEMPTS, 'alice')
        # ... and it is per name: bob logs in
        d = self.h2()
        d.log_in('bob', PW)

    def test_too_many_attempts_116_unknown_name(self):
        codes = []
        c = self.h2()
        for _ in range(6):
            r = c.send_login('ghost', 'anything')
            self.assertEqual(r.type, NAME_REFUSED, r)
            codes.append(r.code)
        self.assertEqual(codes[:4], [E_UNKNOWN_ACCOUNT] * 4, codes)
        self.assertIn(E_TOO_MANY_ATTEMPTS, codes, 'no 116 after 6 attempts: %r' % codes)

    def test_guest_name_of_offline_account_refused_117(self):
        self.account('alice', PW).close()
        c = self.h2()
        c.hello()
        c.propose('alice')
        self.assert_refused(c.expect(NAME_REFUSED), E_NAME_REGISTERED, 'alice')
        c.propose('alicia')
        self.assertEqual(c.expect(NAME_OK).name, 'alicia')

    def test_guest_name_of_online_account_refused_117(self):
        self.account('alice', PW)
        c = self.h2()
        c.hello()
        c.propose('alice')
        self.assert_refused(c.expect(NAME_REFUSED), E_NAME_REGISTERED, 'alice')

    def test_hcp1_proposal_of_registered_name_nak(self):
        self.account('alice', PW).close()
        h = self.h1()
        h.propose('alice')
        p = h.recv_packet()
        self.assertEqual((p.type, p.name), (3, 'alice'), 'HCP/1 proposal of an account name: nak')
        self.assertEqual(h.register('carl'), ['carl'], 'a free name still works after the nak')
        a = self.h2()
        a.log_in('alice', PW)                      # the account holder still gets the name
        upd = h.expect(lambda p: p.type == 4 and 'alice' in p.users, what='update with alice')
        self.assertEqual(sorted(upd.users), ['alice', 'carl'])

    def test_hcp1_proposal_of_online_account_nak(self):
        self.account('alice', PW)
        h = self.h1()
        h.propose('alice')
        p = h.recv_packet()
        self.assertEqual((p.type, p.name), (3, 'alice'))

    def test_account_and_hcp1_user_chat(self):
        a = self.account('alice', PW)
        h = self.h1()
        users = h.register('carl')
        self.assertEqual(sorted(users), ['alice', 'carl'])
        a.expect(JOINED, lambda f: f.name == 'carl')
        sent = a.say_ok('hello carl', to='carl')
        p = h.expect(lambda p: p.type == 5)
        self.assertEqual((p.sender, p.receiver, p.text), ('alice', 'carl', 'hello carl'))
        h.say('hello alice', to='alice')
        m = a.expect(MESSAGE)
        self.assertEqual((m.sender, m.target, m.text), ('carl', 'alice', 'hello alice'))
        h.say('hi all')
        self.assertEqual(a.expect(MESSAGE, lambda f: f.kind == 0).text, 'hi all')
        # an HCP/1 recipient cannot confirm: SENT only, never DELIVERED / NOT_DELIVERED
        h.close()
        a.expect(LEFT, lambda f: f.name == 'carl')
        self.assertEqual(self.quiet(a, (DELIVERED, NOT_DELIVERED), pred=lambda f: f.id == sent.id), [])

    def test_hcp1_and_hcp2_guests_keep_working(self):
        self.account('alice', PW).close()
        self.assert_still_serving()

    # -- known-user presence --------------------------------------------
    def test_roster_registered_offline_and_online_guests_only_while_online(self):
        a = self.account('alice', PW)
        self.account('bob', PW).close()
        gus = self.h2('gus')
        carl = self.h1('carl')
        a.expect(JOINED, lambda f: f.name == 'carl')
        self.assertEqual(gus.roster(), {'alice': ST_ONLINE | ST_REGISTERED, 'bob': ST_REGISTERED,
                                        'gus': ST_ONLINE, 'carl': ST_ONLINE})
        gus.close()
        carl.close()
        a.expect(LEFT, lambda f: f.name == 'gus')
        a.expect(LEFT, lambda f: f.name == 'carl')
        self.assertEqual(a.roster(), {'alice': ST_ONLINE | ST_REGISTERED, 'bob': ST_REGISTERED},
                         'guests are listed only while online')
        b, _, _ = self.signed_in('bob', PW)
        a.expect(JOINED, lambda f: f.name == 'bob')
        self.assertEqual(a.roster(), {'alice': ST_ONLINE | ST_REGISTERED, 'bob': ST_ONLINE | ST_REGISTERED})
        b.close()
        a.expect(LEFT, lambda f: f.name == 'bob')
        self.assertEqual(a.roster()['bob'], ST_REGISTERED, 'bob is offline again')

    def test_roster_lists_each_name_once(self):
        self.account('alice', PW)
        g = self.h2('gus')
        r = (g.request_roster(), g.expect(ROSTER))[1]
        names = [n for _, n in r.entries]
        self.assertEqual(sorted(names), sorted(set(names)), r)


class AuthRequired(ChatTestCase):
    server_args = ('--auth', 'required')

    def test_guest_name_refused_118_accounts_work(self):
        c = self.h2()
        c.hello()
        c.propose('gus')
        self.assert_refused(c.expect(NAME_REFUSED), E_AUTH_REQUIRED, 'gus')
        self.assertEqual(c.send_register('gus', PW).type, NAME_OK, 'REGISTER works on the same connection')
        c.close()
        d = self.h2()
        d.log_in('gus', PW)
        e = self.account('amy', PW)
        e.say_ok('hi gus', to='gus')
        self.assertEqual(d.expect(MESSAGE).text, 'hi gus')


class AuthOff(ChatTestCase):
    server_args = ('--auth', 'off')

    def test_register_and_login_refused_119(self):
        c = self.h2()
        self.assert_refused(c.send_register('alice', PW), E_AUTH_DISABLED, 'alice')
        self.assert_refused(c.send_login('alice', PW), E_AUTH_DISABLED, 'alice')
        c.propose('alice')
        self.assertEqual(c.expect(NAME_OK).name, 'alice', 'guests work as before')
        self.assert_still_serving()


class LoginAttemptsOption(ChatTestCase):
    server_args = ('--login-attempts', '2')

    def test_login_attempts_burst_is_configurable(self):
        self.account('alice', PW).close()
        codes = []
        for _ in range(3):
            c = self.h2()
            codes.append(c.send_login('alice', 'wrong').code)
            c.close()
        self.assertEqual(codes[0], E_WRONG_PASSWORD, codes)
        self.assertEqual(codes[-1], E_TOO_MANY_ATTEMPTS, '--login-attempts 2: the third attempt is limited: %r'
                         % codes)


if __name__ == '__main__':
    unittest.main()
