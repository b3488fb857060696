"""Presence at scale (issue 12; docs/protocol.md 1.3, 2.6, 2.14): joins and leaves batched per
tick (PRESENCE for clients with HELLO flag 0x2, JOINED/LEFT back to back for the others),
HCP/1's list as the latest state, paged USERS / ROSTER / ROOM_MEMBERS, rooms batched and JOIN
answered with the members, the original client's list right after its ack.

Every wait is on an event: a client applies what it receives (as set membership, as 2.14
asks) until its view equals what the test expects, or the wait times out."""

import time
import unittest

from harness import (DEFAULT_TIMEOUT, HELLO_NO_PRESENCE, HELLO_PRESENCE_BATCHES, HOST, JOINED, LEFT, PRESENCE,
                     ROOM_JOINED, ROOM_LEFT, ROOM_MEMBERS, ROOM_MEMBERS_PART, ROSTER, ROSTER_PART, ST_ONLINE, USERS,
                     USERS_PART, ClientMixin, ServerTestCase, core_wait, reference_core, requires_client,
                     requires_reference)


class PresenceView:
    """A client's view of who is online: USERS, then JOINED/LEFT or PRESENCE applied in order."""

    def __init__(self, client, users):
        self.c = client
        self.names = set(users)
        self.frames = {PRESENCE: 0, JOINED: 0, LEFT: 0}

    def apply(self, fr):
        if fr.type == PRESENCE:
            self.frames[PRESENCE] += 1
            seen = [n for _, n in fr.entries]
            assert len(seen) == len(set(seen)), 'a PRESENCE frame names a user once: %r' % (fr,)
            for status, name in fr.entries:
                (self.names.add if status & ST_ONLINE else self.names.discard)(name)
        elif fr.type in (JOINED, LEFT):
            self.frames[fr.type] += 1
            (self.names.add if fr.type == JOINED else self.names.discard)(fr.name)

    def wait_for(self, testcase, expected, timeout=DEFAULT_TIMEOUT):
        """Applies presence frames until the view is `expected`."""
        expected = set(expected)
        deadline = time.monotonic() + timeout
        while self.names != expected:
            left = deadline - time.monotonic()
            if left <= 0:
                testcase.fail('presence view of %s: %d names, expected %d; missing %r, extra %r'
                              % (self.c.name, len(self.names), len(expected), sorted(expected - self.names)[:10],
                                 sorted(self.names - expected)[:10]))
            try:
                self.apply(self.c.expect((PRESENCE, JOINED, LEFT), timeout=left))
            except TimeoutError:
                continue


def batches_client(case, name):
    c = case.h2()
    c.flags = HELLO_PRESENCE_BATCHES
    users = c.register(name)
    return c, PresenceView(c, users)


def legacy_client(case, name):
    c = case.h2()
    users = c.register(name)
    return c, PresenceView(c, users)


class PresenceBatches(ServerTestCase):

    def test_final_state_after_many_joins_and_leaves(self):
        """40 users join, 15 of them leave again, some at once: a batches client and an old-style
        client both end with exactly the users still online; the batches client gets only PRESENCE,
        the old one only JOINED/LEFT."""
        new, new_view = batches_client(self, 'watcher-new')
        old, old_view = legacy_client(self, 'watcher-old')
        users = {}
        for i in range(40):
            users['user-%02d' % i] = self.h2('user-%02d' % i)
        gone = ['user-%02d' % i for i in range(0, 40, 3)][:15]
        for name in gone:
            users.pop(name).close()
        online = set(users) | {'watcher-new', 'watcher-old'}
        new_view.wait_for(self, online)
        old_view.wait_for(self, online)
        self.assertGreater(new_view.frames[PRESENCE], 0)
        self.assertEqual((new_view.frames[JOINED], new_view.frames[LEFT]), (0, 0), 'PRESENCE only')
        self.assertEqual(old_view.frames[PRESENCE], 0, 'an old-style client never gets PRESENCE')
        self.assertEqual(old.bad_frames + new.bad_frames, [])
        # A new user's USERS agrees with everyone else's view (and WHO with it).
        late, late_view = batches_client(self, 'late')
        self.assertEqual(late_view.names, online | {'late'})
        late.who()
        self.assertEqual(set(late.expect_users()), online | {'late'})

    def test_users_lists_everyone_named_before(self):
        """USERS after NAME_OK names every user whose NAME_OK came before, even within one tick."""
        names = []
        for i in range(12):
            c = self.h2()
            users = c.register('u%d' % i)
            names.append('u%d' % i)
            self.assertEqual(users, names, 'USERS of u%d, in join order' % i)
        self.h2('u0x').close()  # joins and leaves; the next USERS must not name it
        c = self.h2()
        # u0x's leave may still be on its way when we ask: wait for a list without it.
        deadline = time.monotonic() + DEFAULT_TIMEOUT
        users = c.register('last')
        while 'u0x' in users and time.monotonic() < deadline:
            c.who()
            users = c.expect_users()
        self.assertEqual(users, names + ['last'])

    def test_no_presence_flag_gets_nothing(self):
        quiet = self.h2()
        quiet.flags = HELLO_NO_PRESENCE
        self.assertIsNone(quiet.register('quiet'))
        watcher, view = batches_client(self, 'watcher')
        for i in range(5):
            self.h2('p%d' % i)
        view.wait_for(self, {'quiet', 'watcher'} | {'p%d' % i for i in range(5)})
        quiet.who()  # answered even so; it is the marker that everything before it arrived
        quiet.expect_users()
        self.assertEqual([f for f in quiet.log if f.type in (PRESENCE, JOINED, LEFT, USERS_PART)], [])

    def test_presence_frame_bytes(self):
        """docs/protocol.md 2.14: PRESENCE u16 count, count x (u8 status, name)."""
        watcher, view = batches_client(self, 'w')
        amy = self.h2('Amy')
        fr = watcher.expect(PRESENCE, lambda f: any(n == 'Amy' for _, n in f.entries))
        self.assertIn((ST_ONLINE, 'Amy'), fr.entries)
        amy.close()
        fr = watcher.expect(PRESENCE, lambda f: any(n == 'Amy' and not st & ST_ONLINE for st, n in f.entries))
        self.assertIn((0, 'Amy'), fr.entries)


class PagedLists(ServerTestCase):
    """--max-frame 256: a page holds about 25 names, so 80 users need several."""

    server_args = ('--max-frame', '256')

    def test_users_roster_and_members_are_paged(self):
        names = ['member-%03d' % i for i in range(80)]
        clients = []
        for n in names:
            c = self.h2(n)
            c.join_ok('big')
            clients.append(c)
        c = self.h2()
        c.flags = HELLO_PRESENCE_BATCHES
        users = c.register('reader')
        self.assertEqual(users, names + ['reader'], 'USERS_PART pages then USERS, in join order')
        pages = c.last_pages
        self.assertGreater(len(pages), 2)
        self.assertEqual([p.type for p in pages], [USERS_PART] * (len(pages) - 1) + [USERS])
        for p in pages:
            self.assertLessEqual(len(p.payload) + 1, 256, 'each page fits the max frame')
        c.who()
        self.assertEqual(c.expect_users(), names + ['reader'])
        roster = c.roster()
        self.assertEqual(set(roster), set(names) | {'reader'})
        self.assertTrue(all(st & ST_ONLINE for st in roster.values()))
        m = c.members('big')
        self.assertGreater(m.pages, 1)
        self.assertEqual([n for _, n in m.entries], names)
        # JOIN's answer is paged too: the joiner is on its last page.
        c.join_ok('big')
        self.assertEqual([n for _, n in c.room_members['big']], names + ['reader'])
        self.assertEqual(c.bad_frames, [])

    def test_old_style_client_sees_the_last_page_as_users(self):
        """A client that ignores USERS_PART (as old clients ignore unknown types) still reads
        well-formed USERS frames; the final one ends the list."""
        for i in range(60):
            self.h2('name-%02d' % i)
        c = self.h2()
        c.hello()
        c.propose('old')
        last = c.expect(USERS)  # the final page: a whole USERS frame by itself
        parts = [f.users for f in c.log if f.type == USERS_PART]
        self.assertTrue(parts)
        self.assertTrue(last.users)
        self.assertEqual(sum(parts, []) + last.users, ['name-%02d' % i for i in range(60)] + ['old'])


class Hcp1List(ServerTestCase):

    def test_hcp1_list_after_joins_and_leaves(self):
        """Each HCP/1 user's first list names everyone before it and itself; after joins and
        leaves the latest list an HCP/1 user gets is exactly who is online, in join order."""
        watcher = self.h1('watcher')
        order = ['watcher']
        others = {}
        for i in range(15):
            name = 'h1-%02d' % i
            c = self.h1()
            c.propose(name)
            self.assertEqual(c.recv_packet().type, 2, 'ack')
            c.name = name
            order.append(name)
            first = c.expect(lambda p, n=name: p.type == 4 and n in p.users, what='first list naming ' + name)
            self.assertEqual(first.users, order, 'the first list after %s\'s ack' % name)
            others[name] = c
        for i in range(5):
            name = 'h2-%d' % i
            others[name] = self.h2(name)
            order.append(name)
        upd = watcher.expect(lambda p: p.type == 4 and p.users == order, what='list of all %d' % len(order))
        self.assertEqual(upd.users, order)
        for name in ('h1-03', 'h1-07', 'h2-1'):
            others.pop(name).close()
            order.remove(name)
        watcher.expect(lambda p: p.type == 4 and p.users == order, what='list without the three that left')


class RoomBatches(ServerTestCase):

    def test_join_answered_with_members_and_events_batched(self):
        first = self.h2('first')
        first.join_ok('club')
        self.assertEqual([n for _, n in first.room_members['club']], ['first'])
        members = ['first']
        joined = {}
        for i in range(10):
            name = 'm%d' % i
            c = self.h2(name)
            c.join_ok('club')
            members.append(name)
            self.assertEqual([n for _, n in c.room_members['club']], members, 'ROOM_MEMBERS answering %s' % name)
            joined[name] = c
        for name in ('m2', 'm5'):
            joined[name].leave('club')
            joined[name].expect(ROOM_LEFT, lambda f, n=name: f.user == n)
            members.remove(name)
        joined.pop('m7').close()  # a guest leaves its rooms when it disconnects
        members.remove('m7')
        view = set(['first'])
        deadline = time.monotonic() + DEFAULT_TIMEOUT
        while view != set(members) and time.monotonic() < deadline:
            try:
                fr = first.expect((ROOM_JOINED, ROOM_LEFT), lambda f: f.room == 'club',
                                  timeout=max(0.01, deadline - time.monotonic()))
            except TimeoutError:
                break
            (view.add if fr.type == ROOM_JOINED else view.discard)(fr.user)
        self.assertEqual(view, set(members))
        self.assertEqual(first.members('club').entries, [(ST_ONLINE, n) for n in members])


@requires_reference
class OriginalClientList(ServerTestCase):
    """docs/protocol.md 1.5: the ack and the first list go in separate writes, the list at the
    claim's presence tick, so the original client (one recv() = one packet) shows the whole list
    right after its ack. (With --presence-tick-ms 0 the two writes are microseconds apart and
    TCP may still hand both to one recv(): 1.5 says so.)"""

    def check_first_list(self):
        for n in ('Amy', 'Bob'):
            self.h2(n)
        mod = reference_core()
        a = mod.HowdyClientCore(split_frames=False)
        a.connect(HOST, self.port)
        self._clients.append(a)
        a.propose('Jon Stewart')
        core_wait(self, a, lambda e: e['kind'] == 'ack', 'ack')
        upd = core_wait(self, a, lambda e: e['kind'] == 'update', 'the first update')
        self.assertEqual(upd['users'], ['Amy', 'Bob', 'Jon Stewart'])

    def test_first_list_right_after_ack(self):
        self.check_first_list()


@requires_client
class ConsoleClientPresence(ClientMixin, ServerTestCase):

    def test_console_client_shows_joins_leaves_and_users(self):
        self.h2('Amy')
        p = self.howdy_client(self.port, 'hcp2', 'Me')
        self.line(p, r'^Your name is Me$')
        self.line(p, r'^Online: Amy, Me$')
        bob = self.h2('Bob')
        self.line(p, r'^Bob joined$')
        bob.close()
        self.line(p, r'^Bob left$')
        p.send_line('/users')
        self.line(p, r'^Users \(2\): ')
        p.send_line('/join club')
        self.line(p, r'^You joined #club$')
        self.line(p, r'^Members of #club \(1\): Me \(guest\)$')
        c = self.h2('Cy')
        c.join_ok('club')
        self.line(p, r'^\[#club\] Cy joined$')
        p.close_stdin()
        self.assertEqual(p.wait_exit(5), 0, p.describe())
        lines = p.lines()
        self.assertEqual([line for line in lines if line == 'Me joined'], [])
        self.assertEqual(len([line for line in lines if line == 'You joined #club']), 1, p.describe())


if __name__ == '__main__':
    unittest.main()
