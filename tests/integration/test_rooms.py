"""K. Rooms with presence (issue 6, .spec-issue6.md B): JOIN creates a room and tells every
online member (ROOM_JOINED), ROOMS lists rooms, MEMBERS lists members with their status,
SEND to a room reaches its other online members only, LEAVE tells members and the
leaver (ROOM_LEFT), guests leave their rooms when they disconnect, registered users stay
members while offline. Rooms are HCP/2-only."""

import unittest

from harness import (E_INVALID_ROOM, E_NOT_IN_ROOM, E_ROOM_LIMIT, ERROR, KIND_ROOM, LEFT, MESSAGE, PONG, ROOM_JOINED, ROOM_LEFT,
                     SENT, ST_ONLINE, ST_REGISTERED, ChatTestCase, h2_join, h2_leave, h2_send)

PW = 'pw-rooms-test'


class Rooms(ChatTestCase):

    def test_join_creates_room_and_notifies_members(self):
        a, b, c = self.h2('amy'), self.h2('bob'), self.h2('cid')
        a.join('lobby')
        j = a.expect(ROOM_JOINED)
        self.assertEqual((j.room, j.user), ('lobby', 'amy'), 'the joiner gets ROOM_JOINED too')
        b.join('lobby')
        for x in (a, b):
            j = x.expect(ROOM_JOINED, lambda f: f.user == 'bob')
            self.assertEqual((j.room, j.user), ('lobby', 'bob'))
        self.assertEqual(self.quiet(c, (ROOM_JOINED, ROOM_LEFT)), [], 'non-members hear nothing')

    def test_rooms_list(self):
        a, b = self.h2('amy'), self.h2('bob')
        self.assertEqual(a.rooms(), [], 'no rooms yet')
        a.join_ok('lobby')
        b.join_ok('lobby')
        b.join_ok('dev')
        self.assertEqual(dict(a.rooms()), {'lobby': 2, 'dev': 1})
        c = self.h2('cid')                          # anyone may list, member or not
        self.assertEqual(dict(c.rooms()), {'lobby': 2, 'dev': 1})

    def test_rooms_sorted_members_in_join_order(self):
        """docs/protocol.md 2.12: ROOM_LIST sorted by name, ROOM_MEMBERS in join order,
        an unknown room has no members."""
        a, b, c = self.h2('amy'), self.h2('bob'), self.h2('cid')
        for room in ('tea', 'news', 'zoo', 'art'):
            b.join_ok(room)
        self.assertEqual(a.rooms(), [('art', 1), ('news', 1), ('tea', 1), ('zoo', 1)])
        c.join_ok('news')
        a.join_ok('news')
        m = a.members('news')
        self.assertEqual(m.entries, [(ST_ONLINE, 'bob'), (ST_ONLINE, 'cid'), (ST_ONLINE, 'amy')])
        self.assertEqual(a.members('nowhere').entries, [])

    def test_join_before_name_101_and_join_twice(self):
        c = self.h2()
        c.hello()
        c.join('lobby')
        self.assertEqual(c.expect(ERROR).code, 101)
        self.assertEqual(c.rooms(), [], 'ROOMS is answered before NAME too')
        c.register('amy')
        b = self.h2('bob')
        c.join_ok('lobby')
        b.join_ok('lobby')
        c.expect(ROOM_JOINED, lambda f: f.user == 'bob')
        # bob hears the batch with his own join (and amy's, if it was in the same tick) first.
        b.expect(ROOM_JOINED, lambda f: f.user == 'bob')
        b.take_backlog(ROOM_JOINED)
        c.join('lobby')                             # again: not an error, only the joiner hears
        j = c.expect(ROOM_JOINED)
        self.assertEqual((j.room, j.user), ('lobby', 'amy'))
        self.assertEqual(self.quiet(b, (ROOM_JOINED, ERROR)), [])
        self.assertEqual(self.quiet(c, ERROR), [])
        self.assertEqual(dict(b.rooms()), {'lobby': 2})

    def test_members_with_status(self):
        a = self.h2('amy')
        r = self.account('rita', PW)
        a.join_ok('lobby')
        r.join_ok('lobby')
        m = a.members('lobby')
        self.assertEqual(m.room, 'lobby')
        self.assertEqual(m.status, {'amy': ST_ONLINE, 'rita': ST_ONLINE | ST_REGISTERED})
        r.close()
        a.expect(LEFT, lambda f: f.name == 'rita')
        self.assertEqual(self.quiet(a, ROOM_LEFT), [], 'a registered user stays a member while offline')
        self.assertEqual(a.members('lobby').status, {'amy': ST_ONLINE, 'rita': ST_REGISTERED})
        self.assertEqual(dict(a.rooms()), {'lobby': 2})

    def test_send_to_room_reaches_members_only(self):
        a, b, c = self.h2('amy'), self.h2('bob'), self.h2('cid')
        h = self.h1('hal')
        a.join_ok('lobby')
        b.join_ok('lobby')
        ref = a.say_room('hello lobby', 'lobby', ref=17)
        sent = a.expect(SENT, lambda f: f.ref == ref)
        m = b.expect(MESSAGE)
        self.assertEqual((m.id, m.kind, m.sender, m.target, m.text), (sent.id, KIND_ROOM, 'amy', 'lobby', 'hello lobby'))
        self.assertEqual(self.quiet(c, MESSAGE), [], 'not a member')
        self.assertEqual(self.quiet(a, MESSAGE), [], 'no echo to the sender')
        self.assertEqual([p for p in h.packets_within() if p.type == 5], [], 'rooms are HCP/2-only')

    def test_send_to_room_not_member_120(self):
        a, c = self.h2('amy'), self.h2('cid')
        a.join_ok('lobby')
        c.say_room('let me in', 'lobby', ref=33)
        e = c.expect(ERROR)
        self.assertEqual((e.code, e.ref), (E_NOT_IN_ROOM, 33))
        self.assertEqual(self.quiet(a, MESSAGE), [])
        c.ping(1)
        c.expect(PONG)                              # the connection stays

    def test_leave(self):
        a, b = self.h2('amy'), self.h2('bob')
        a.join_ok('lobby')
        b.join_ok('lobby')
        a.expect(ROOM_JOINED, lambda f: f.user == 'bob')
        b.leave('lobby')
        for x in (a, b):
            left = x.expect(ROOM_LEFT)
            self.assertEqual((left.room, left.user), ('lobby', 'bob'), 'ROOM_LEFT to members and the leaver')
        a.say_room_ok('bob is gone', 'lobby')
        self.assertEqual(self.quiet(b, MESSAGE), [])
        self.assertEqual(a.members('lobby').status, {'amy': ST_ONLINE})
        b.say_room('back?', 'lobby', ref=4)
        e = b.expect(ERROR)
        self.assertEqual((e.code, e.ref), (E_NOT_IN_ROOM, 4))

    def test_leave_when_not_a_member_120(self):
        a = self.h2('amy')
        a.join_ok('lobby')
        b = self.h2('bob')
        b.leave('lobby')
        self.assertEqual(b.expect(ERROR).code, E_NOT_IN_ROOM)
        self.assertEqual(self.quiet(a, ROOM_LEFT), [])

    def test_room_disappears_when_last_member_leaves(self):
        a = self.h2('amy')
        a.join_ok('solo')
        a.leave('solo')
        a.expect(ROOM_LEFT)
        self.assertEqual(a.rooms(), [])

    def test_room_emptied_while_its_messages_are_queued(self):
        # JOIN, SEND and LEAVE in one segment empty the room (and free its hub)
        # before the SEND's delivery runs; then the same with a disconnect.
        watcher = self.h2('watcher')
        for close in (False, True):
            a = self.h2('amy-%d' % close)
            a.send_raw(h2_join('brief') + h2_send('gone soon', 'brief', KIND_ROOM, 1) +
                       (b'' if close else h2_leave('brief')))
            if close:
                a.close()
            else:
                self.assertEqual(a.expect(ROOM_LEFT).room, 'brief')
                a.close()
            self.assertEqual(watcher.expect(LEFT).name, 'amy-%d' % close)
        self.assertEqual(dict(watcher.rooms()), {}, 'the room went with its member; the server is still serving')

    def test_a_pipelined_burst_waits_for_the_store_and_loses_nothing(self):
        # More room messages in one write than a session may have waiting for
        # the store: the server stops reading until commits catch up, then goes on.
        a, b = self.h2('amy'), self.h2('bob')
        a.join_ok('burst')
        b.join_ok('burst')
        count = 600
        a.send_raw(b''.join(h2_send('m%d' % i, 'burst', KIND_ROOM, i + 1) for i in range(count)))
        sent = [a.expect(SENT, timeout=30) for _ in range(count)]
        self.assertEqual([f.ref for f in sent], list(range(1, count + 1)))
        got = [b.expect(MESSAGE, timeout=30).text for _ in range(count)]
        self.assertEqual(got, ['m%d' % i for i in range(count)])

    def test_guest_leaves_rooms_on_disconnect(self):
        a, b = self.h2('amy'), self.h2('bob')
        a.join_ok('lobby')
        a.join_ok('dev')
        b.join_ok('lobby')
        b.join_ok('dev')
        b.close()
        gone = [a.expect(ROOM_LEFT, lambda f: f.user == 'bob') for _ in range(2)]
        self.assertEqual(sorted(f.room for f in gone), ['dev', 'lobby'])
        self.assertEqual(a.members('lobby').status, {'amy': ST_ONLINE})
        self.assertEqual(dict(a.rooms()), {'lobby': 1, 'dev': 1})

    def test_registered_member_back_online_gets_room_messages(self):
        a = self.h2('amy')
        r = self.account('rita', PW)
        a.join_ok('lobby')
        r.join_ok('lobby')
        r.close()
        a.expect(LEFT, lambda f: f.name == 'rita')
        r2, _, _ = self.signed_in('rita', PW)
        self.assertEqual(r2.members('lobby').status, {'amy': ST_ONLINE, 'rita': ST_ONLINE | ST_REGISTERED})
        sent = a.say_room_ok('welcome back', 'lobby')
        m = r2.expect(MESSAGE)
        self.assertEqual((m.id, m.kind, m.target, m.text), (sent.id, KIND_ROOM, 'lobby', 'welcome back'))

    def test_invalid_room_name_121(self):
        a = self.h2('amy')
        for bad in (b'', b'\xff\xfe', b'a\x00b'):
            with self.subTest(room=bad):
                a.join(bad)
                self.assertEqual(a.expect(ERROR).code, E_INVALID_ROOM)
        self.assertEqual(a.rooms(), [])

    def test_room_limit_125(self):
        """A member may be in at most 64 rooms (room_options.max_rooms_per_member default)."""
        a = self.h2('amy')
        for i in range(64):
            a.join_ok('r%02d' % i)
        a.join('one-too-many')
        e = a.expect(ERROR)
        self.assertEqual(e.code, E_ROOM_LIMIT, e)
        self.assertEqual(len(a.rooms()), 64)

    def test_many_rooms_many_members(self):
        users = [self.h2('u%d' % i) for i in range(5)]
        for i, u in enumerate(users):
            for r in range(i + 1):
                u.join_ok('room%d' % r)
        self.assertEqual(dict(users[0].rooms()), {'room%d' % r: 5 - r for r in range(5)})
        sent = users[4].say_room_ok('to room3', 'room3')
        for u in users[3:4]:
            self.assertEqual(u.expect(MESSAGE, lambda f: f.target == 'room3').id, sent.id)
        for u in users[:3]:
            self.assertEqual(self.quiet(u, MESSAGE, pred=lambda f: f.target == 'room3'), [])


if __name__ == '__main__':
    unittest.main()
