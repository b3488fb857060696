"""History exactly-once under a race (issue 11): several senders on several server
threads send whispers to an account and messages to its rooms while the account logs in
and out again and again. The server orders each message against each login by a lock per
source (the account, each room), not one global lock; this checks the result a client can
see: every login's replay is exactly the stored messages up to its cut, oldest first; what
comes live after it is new (nothing twice in one session); and at the end every message is
there exactly once."""

import random
import threading
import unittest

from harness import DELIVERED, MESSAGE, SENT, ChatTestCase

PW = 'pw-race-test'
SENDERS = 4
PER_SENDER = 240  # nothing is acknowledged: every replay stays within one page (1000)


class HistoryRace(ChatTestCase):
    server_args = ('--threads', '2', '--login-attempts', '1000', '--history-per-user', '100000', '--history-per-room', '100000')

    def test_whispers_against_repeated_logins_exactly_once(self):
        self.race(room_share=0.0)

    def test_whispers_and_room_messages_against_repeated_logins_exactly_once(self):
        self.race(room_share=0.5)

    def race(self, room_share):
        rita = self.account('rita', PW)
        for room in ('r1', 'r2'):
            rita.join_ok(room)
        rita.bye()
        self.assertTrue(rita.wait_closed())

        senders = []
        for i in range(SENDERS):
            c = self.h2('s%d' % i)
            c.join_ok('r1' if i % 2 == 0 else 'r2')
            senders.append(c)

        sent_ids, errors, lock = [], [], threading.Lock()
        # The senders wait for a login to end at each quarter of their messages, so
        # logins come during the sending however fast the machine is.
        logins = threading.Condition()
        logins_done = [0]

        def send_all(i, c):
            rng = random.Random(i)
            room = 'r1' if i % 2 == 0 else 'r2'
            try:
                for n in range(PER_SENDER):
                    if n and n % (PER_SENDER // 4) == 0:
                        with logins:
                            if not logins.wait_for(lambda: logins_done[0] >= n // (PER_SENDER // 4), timeout=15):
                                raise TimeoutError('no login ended')
                    text = 's%d-%d' % (i, n)
                    ok = c.say_ok(text, to='rita', timeout=15) if rng.random() >= room_share else \
                        c.say_room_ok(text, room, timeout=15)
                    with lock:
                        sent_ids.append(ok.id)
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append('sender %d: %r' % (i, e))

        threads = [threading.Thread(target=send_all, args=(i, c)) for i, c in enumerate(senders)]
        for t in threads:
            t.start()

        sessions = []  # (replayed ids, live ids)
        kinds = {}  # id: target kind, for the failure messages
        rng = random.Random(42)
        while True:
            racing = any(t.is_alive() for t in threads)
            c = self.h2()
            messages, end = c.log_in('rita', PW, timeout=15)
            self.assertEqual(end.more, 0, end)
            replay = [m.id for m in messages]
            kinds.update((m.id, m.kind) for m in messages)
            live = []
            if racing:
                window = rng.uniform(0.01, 0.08)
                got = [f for f in c.frames_within(window) if f.type == MESSAGE]
                kinds.update((f.id, f.kind) for f in got)
                live += [f.id for f in got]
            else:  # the senders are done: everything not replayed must come live
                with lock:
                    want = set(sent_ids)
                for _ in range(100):
                    got = [f for f in c.frames_within(0.1) if f.type == MESSAGE]
                    kinds.update((f.id, f.kind) for f in got)
                    live += [f.id for f in got]
                    if set(replay) | set(live) >= want:
                        break
            c.bye()
            self.assertTrue(c.wait_closed(), 'BYE must close the connection')
            sessions.append((replay, live))
            with logins:
                logins_done[0] += 1
                logins.notify_all()
            if not racing:
                break

        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        every = sorted(sent_ids)
        self.assertEqual(len(every), SENDERS * PER_SENDER)
        for n, (replay, live) in enumerate(sessions):
            where = 'session %d of %d' % (n + 1, len(sessions))
            # Nothing was acknowledged, so each login replays all stored up to its cut.
            self.assertEqual(replay, every[:len(replay)], '%s: the replay is not the oldest stored, in order' % where)
            seen = replay + live
            twice = sorted({i for i in seen if seen.count(i) > 1})
            self.assertEqual(twice, [], '%s: came twice (id, kind): %r' % (where, [(i, kinds.get(i)) for i in twice]))
            if replay and live:
                self.assertGreater(min(live), replay[-1], '%s: a live message older than the replay' % where)
        replay, live = sessions[-1]
        self.assertEqual(sorted(replay + live), every, 'the last login: every message exactly once')
        self.assertGreater(len(sessions), 2, 'the race needs several logins')


if __name__ == '__main__':
    unittest.main()
