"""L. Offline history (issue 6, .spec-issue6.md B and D): whispers to registered users and
room messages are stored; a registered user who logs in gets exactly what they missed,
oldest first, once (the cursor is the highest RECEIVED id); HISTORY fetches stored
messages by id; retention limits; and durability: what was acknowledged with SENT
survives a SIGKILL of the server and a restart on the same database."""

import os
import shutil
import signal
import tempfile
import unittest

from harness import (DELIVERED, ERROR, KIND_ROOM, KIND_USER, LEFT, MESSAGE, NAME_OK, NAME_REFUSED, SENT, ChatTestCase,
                     H2Client, ServerProcess, h2_login, server_path)

PW = 'pw-history'


def summary(messages):
    return [(m.id, m.kind, m.sender, m.target, m.text) for m in messages]


class HistoryMixin:

    def assert_replay(self, messages, expected, end):
        """messages (replayed MESSAGE frames) are exactly `expected` (SENT frames or ids),
        oldest first, and HISTORY_END names the last one."""
        ids = [getattr(e, 'id', e) for e in expected]
        self.assertEqual([m.id for m in messages], ids, 'replay: %r' % (summary(messages),))
        self.assertEqual(end.last_id, ids[-1] if ids else 0, end)
        self.assertEqual(end.more, 0, end)

    def bye(self, c):
        """BYE and wait until the server closed: everything the client sent before was handled."""
        c.bye()
        self.assertTrue(c.wait_closed(), 'BYE must close the connection')


class History(HistoryMixin, ChatTestCase):

    def test_comes_back_to_exactly_what_was_missed_in_order_once(self):
        amy = self.h2('amy')
        cid = self.h2('cid')                        # a room member who stays online (sees the timestamps)
        rita = self.account('rita', PW)
        for c in (amy, cid, rita):
            c.join_ok('club')
        # live and confirmed while online: not part of the history later
        w0 = amy.say_ok('seen live', to='rita')
        self.assertEqual(rita.expect(MESSAGE).id, w0.id)
        rita.received(w0.id)
        amy.expect(DELIVERED, lambda f: f.id == w0.id)
        self.bye(rita)
        amy.expect(LEFT, lambda f: f.name == 'rita')

        sent = [amy.say_ok('w1', to='rita'), amy.say_room_ok('r1', 'club'), amy.say_ok('w2', to='rita'),
                amy.say_room_ok('r2', 'club'), cid.say_room_ok('r3 from cid', 'club')]
        live_ts = {m.id: m.ts for m in (cid.expect(MESSAGE) for _ in range(2))}
        amy_ts = amy.expect(MESSAGE).ts

        r2, messages, end = self.signed_in('rita', PW)
        self.assert_replay(messages, sent, end)
        self.assertEqual([(m.kind, m.sender, m.target, m.text) for m in messages],
                         [(KIND_USER, 'amy', 'rita', 'w1'), (KIND_ROOM, 'amy', 'club', 'r1'),
                          (KIND_USER, 'amy', 'rita', 'w2'), (KIND_ROOM, 'amy', 'club', 'r2'),
                          (KIND_ROOM, 'cid', 'club', 'r3 from cid')])
        for m in messages:
            if m.id in live_ts:
                self.assertEqual(m.ts, live_ts[m.id], 'a replayed message keeps its original timestamp')
        self.assertEqual(messages[-1].ts, amy_ts)
        self.assertEqual(self.quiet(r2, MESSAGE), [], 'each missed message exactly once')

        r2.received(messages[-1].id)
        self.bye(r2)
        r3, messages, end = self.signed_in('rita', PW)
        self.assertEqual(summary(messages), [], 'everything was acknowledged: nothing again')
        self.assertEqual((end.last_id, end.more), (0, 0))

    def test_partial_ack_resumes_after_the_acked_id(self):
        self.account('rita', PW).close()
        amy = self.h2('amy')
        sent = [amy.say_ok('m%d' % i, to='rita') for i in range(4)]
        r, messages, end = self.signed_in('rita', PW)
        self.assert_replay(messages, sent, end)
        r.received(sent[1].id)                      # acknowledges m0 and m1 for history
        self.bye(r)
        r, messages, end = self.signed_in('rita', PW)
        self.assert_replay(messages, sent[2:], end)
        self.assertEqual([m.text for m in messages], ['m2', 'm3'])
        r.received(sent[3].id)
        r.received(sent[0].id)                      # an older id does not move the cursor back
        self.bye(r)
        r, messages, end = self.signed_in('rita', PW)
        self.assert_replay(messages, [], end)

    def test_live_message_during_login_neither_lost_nor_duplicated(self):
        self.account('rita', PW).close()
        amy = self.h2('amy')
        stored = [amy.say_ok('stored %d' % i, to='rita').id for i in range(30)]
        r = self.h2()
        r.hello()
        r.send_raw(h2_login('rita', PW))
        live = amy.say_ok('live', to='rita').id     # stored or live: either way exactly once, after the rest
        self.assertEqual(r.account_reply().type, NAME_OK)
        replay, end = r.read_history()
        got = [m.id for m in replay]
        if live not in got:                         # it came live: after HISTORY_END
            got.append(r.expect(MESSAGE).id)
        self.assertEqual(got, stored + [live], 'replay then live, each once, in id order')
        self.assertEqual(self.quiet(r, MESSAGE), [], 'nothing twice')
        self.assertEqual(end.last_id, replay[-1].id)

    def test_only_rooms_of_the_user_are_replayed(self):
        rita = self.account('rita', PW)
        rita.join_ok('club')
        self.bye(rita)
        amy = self.h2('amy')
        amy.join_ok('club')
        amy.join_ok('elsewhere')
        s1 = amy.say_room_ok('not for rita', 'elsewhere')
        s2 = amy.say_room_ok('for rita', 'club')
        _, messages, end = self.signed_in('rita', PW)
        self.assert_replay(messages, [s2], end)
        self.assertNotIn(s1.id, [m.id for m in messages])

    def test_guest_whispers_are_not_stored(self):
        """Only whispers to registered users are stored: a guest's whisper to another guest
        is not replayed to anyone later."""
        self.account('rita', PW).close()
        amy, bob = self.h2('amy'), self.h2('bob')
        amy.say_ok('guest to guest', to='bob')
        bob.expect(MESSAGE)
        _, messages, end = self.signed_in('rita', PW)
        self.assert_replay(messages, [], end)

    def test_guest_history_is_empty(self):
        amy = self.h2('amy')
        amy.join_ok('club')
        amy.say_room_ok('something stored', 'club')
        g = self.h2('gus')
        g.request_history(0)
        messages, end = g.read_history()
        self.assert_replay(messages, [], end)

    def test_history_request_by_id(self):
        self.account('rita', PW).close()
        amy = self.h2('amy')
        sent = [amy.say_ok('h%d' % i, to='rita') for i in range(3)]
        r, messages, end = self.signed_in('rita', PW)
        self.assert_replay(messages, sent, end)
        r.request_history(sent[0].id)
        messages, end = r.read_history()
        self.assert_replay(messages, sent[1:], end)
        r.request_history(sent[2].id)
        messages, end = r.read_history()
        self.assert_replay(messages, [], end)
        r.received(sent[2].id)                      # acknowledged messages stay stored
        r.request_history(0)
        messages, end = r.read_history()
        self.assert_replay(messages, sent, end)
        self.assertEqual([m.text for m in messages], ['h0', 'h1', 'h2'])


class Retention(HistoryMixin, ChatTestCase):
    server_args = ('--history-per-user', '3', '--history-per-room', '2')

    def test_retention_per_user_and_per_room(self):
        rita = self.account('rita', PW)
        rita.join_ok('club')
        self.bye(rita)
        amy = self.h2('amy')
        amy.join_ok('club')
        whispers = [amy.say_ok('w%d' % i, to='rita') for i in range(5)]
        room = [amy.say_room_ok('r%d' % i, 'club') for i in range(4)]
        _, messages, end = self.signed_in('rita', PW)
        expected = sorted([s.id for s in whispers[-3:]] + [s.id for s in room[-2:]])
        self.assert_replay(messages, expected, end)


class HistoryOff(ChatTestCase):
    server_args = ('--history', 'off')

    def test_no_replay_with_history_off(self):
        rita = self.account('rita', PW)
        rita.join_ok('club')
        amy = self.h2('amy')
        amy.join_ok('club')
        sent = amy.say_room_ok('live only', 'club')
        self.assertEqual(rita.expect(MESSAGE).id, sent.id)
        rita.bye()
        self.assertTrue(rita.wait_closed())
        amy.say_room_ok('nobody stores this', 'club')
        r = self.h2()
        reply = r.send_login('rita', PW)
        self.assertEqual(reply.name, 'rita')
        frames = r.frames_within()
        self.assertEqual([f for f in frames if f.type == MESSAGE], [], 'history off: nothing replayed')

    def test_whisper_to_offline_account_is_refused_with_history_off(self):
        amy = self.h2('amy')
        self.account('rita', PW).close()
        self.assertEqual(amy.expect(LEFT).name, 'rita')
        amy.say('nobody could keep this', to='rita', kind=1, ref=5)
        e = amy.expect(ERROR)
        self.assertEqual((e.code, e.ref), (102, 5), 'not stored, so not sent: a clear error, not a SENT')


@unittest.skipUnless(server_path(), 'no server executable (pass --server PATH)')
class Durability(HistoryMixin, unittest.TestCase):
    """A server on a database file in a temporary directory; SIGKILL by PID; restart on
    the same file."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix='howdy-it-db-')
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.db = os.path.join(self.dir, 'howdy.db')
        self.clients = []
        self.servers = []
        self.addCleanup(self._cleanup)

    def _cleanup(self):
        for c in self.clients:
            c.close()
        for s in self.servers:
            s.stop(grace=5)

    def start(self):
        s = ServerProcess(args=['--db', self.db]).start()
        self.servers.append(s)
        return s

    def client(self, server):
        c = H2Client(server.port)
        self.clients.append(c)
        return c

    def assert_clean(self, server, status):
        hits, text = server.sanitizer_report()
        self.assertEqual(hits, [], text[-4000:])
        self.assertEqual(status, 0, 'exit status after SIGTERM; log:\n' + text[-3000:])

    def test_everything_sent_survives_sigkill(self):
        s1 = self.start()
        rita = self.client(s1)
        rita.create_account('rita', PW)
        rita.join_ok('club')
        rita.bye()
        self.assertTrue(rita.wait_closed())
        amy = self.client(s1)
        amy.register('amy')
        amy.join_ok('club')
        # pipelined: 40 whispers and room messages in flight at once; each SENT means stored
        refs = []
        for i in range(40):
            if i % 2:
                refs.append((amy.say_room('room %d' % i, 'club'), 'room %d' % i))
            else:
                refs.append((amy.say('whisper %d' % i, to='rita'), 'whisper %d' % i))
        ids = {}
        for ref, _ in refs:
            ids[ref] = amy.expect(SENT, lambda f, r=ref: f.ref == r, timeout=15).id
        expected = [(ids[ref], text) for ref, text in refs]
        self.assertEqual([i for i, _ in expected], sorted(i for i, _ in expected), 'ids in sending order')

        os.kill(s1.proc.pid, signal.SIGKILL)
        self.assertEqual(s1.proc.wait(timeout=10), -signal.SIGKILL)
        self.assertEqual(s1.sanitizer_report()[0], [])

        s2 = self.start()
        r, messages, end = self.signed_in_at(s2)
        self.assertEqual([(m.id, m.text) for m in messages], expected, 'everything SENT, in order, once')
        self.assertEqual(end.last_id, expected[-1][0])
        # ids keep growing after the restart (the history cursor depends on it)
        r.received(end.last_id)
        amy2 = self.client(s2)
        amy2.register('amy2')
        new = amy2.say_ok('after the restart', to='rita')
        self.assertGreater(new.id, expected[-1][0], 'message ids must not restart after a restart')
        self.assertEqual(r.expect(MESSAGE).id, new.id)
        r.bye()
        self.assertTrue(r.wait_closed())
        r2, messages, end = self.signed_in_at(s2)
        self.assertEqual([m.id for m in messages], [new.id], 'the cursor is past the acknowledged messages')
        self.assert_clean(s2, s2.stop())

    def test_accounts_memberships_and_cursor_survive_a_restart(self):
        s1 = self.start()
        rita = self.client(s1)
        rita.create_account('rita', PW)
        rita.join_ok('club')
        amy = self.client(s1)
        amy.register('amy')
        amy.join_ok('club')
        first = amy.say_ok('before restart', to='rita')
        self.assertEqual(rita.expect(MESSAGE).id, first.id)
        rita.received(first.id)
        amy.expect(DELIVERED)
        rita.bye()
        self.assertTrue(rita.wait_closed())
        second = amy.say_room_ok('missed', 'club')
        self.assert_clean(s1, s1.stop())

        s2 = self.start()
        g = self.client(s2)
        g.hello()
        g.propose('rita')
        self.assertEqual(g.expect(NAME_REFUSED).code, 117, 'the account survived the restart')
        r, messages, end = self.signed_in_at(s2)
        self.assertEqual([(m.id, m.text) for m in messages], [(second.id, 'missed')])
        self.assertEqual(r.members('club').status.get('rita'), 0x03, 'membership survived the restart')
        bad = self.client(s2)
        self.assertEqual(bad.send_login('rita', 'wrong').code, 114, 'the password survived too')
        self.assert_clean(s2, s2.stop())

    def signed_in_at(self, server):
        c = self.client(server)
        messages, end = c.log_in('rita', PW, timeout=15)
        return c, messages, end


if __name__ == '__main__':
    unittest.main()
