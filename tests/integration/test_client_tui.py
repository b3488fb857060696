"""The howdy-client terminal UI as people use it (issue 14), driven in tmux
(tui_driver.TuiClient) against the real server: resizes during a flood,
reconnecting after the server went away, the name asked before connecting,
human error messages, and the comforts of a chat client.

What is checked is the screen: the status bar, the input line ("> ..."),
the message rows. Skipped when tmux or the client is missing.
"""

import re
import signal
import threading
import time
import unittest

from harness import MESSAGE, ServerProcess, ServerTestCase, client_path, requires_client
from tui_driver import TuiClient, requires_tmux


class Flood:
    """A guest that broadcasts numbered lines from a thread until stopped, then a last
    line `marker` (so a test can wait until everything before it was shown)."""

    def __init__(self, testcase, name='flooder', marker='flood is over'):
        self.client = testcase.h2(name)
        self.marker = marker
        self.count = 0
        self.stop_flag = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop_flag.is_set():
            for _ in range(20):
                self.count += 1
                self.client.say('flood line %d, long enough to wrap on a narrow terminal window' % self.count)
            self.client.drain()  # also paces the flood: the server's replies are read every 20 lines

    def stop(self):
        self.stop_flag.set()
        self.thread.join(10)
        self.client.say_ok(self.marker)


class TuiCase(ServerTestCase):

    def setUp(self):
        if not client_path():
            self.skipTest('no client executable (pass --client PATH)')
        super().setUp()

    def tui(self, *args, cols=100, rows=30, port=None):
        t = TuiClient(port or self.port, args, cols, rows)
        self.addCleanup(t.close)
        return t

    @staticmethod
    def status_row(rows):
        return next((r for r in rows if r.startswith(' howdy-client ')), None)

    def assert_drawn(self, t, cols, rows_n, typed):
        """The whole UI is on the screen at this size: the status bar, and the input
        line last with what was typed."""
        def ok(rows):
            return (len(rows) == rows_n and self.status_row(rows) is not None and rows[-1] == ('> ' + typed).rstrip() and all(len(r) <= cols for r in rows))
        return t.wait_screen(ok, what='status bar and input line %r at %dx%d' % (typed, cols, rows_n))


@requires_client
@requires_tmux
class TuiResize(TuiCase):

    def test_resizes_during_a_flood_redraw_and_stay_responsive_and_idle(self):
        listener = self.h2('listener')
        t = self.tui('--name', 'viewer')
        t.wait_text(r'Your name is viewer')
        flood = Flood(self)
        t.wait_text(r'flooder says: flood line')
        typed = 'typed'
        t.type(typed)
        sizes = [(60, 20), (120, 35), (120, 35), (100, 30), (60, 20), (120, 35), (40, 10), (80, 24),
                 (45, 8), (132, 43), (60, 20), (100, 30)]
        for i, (cols, rows) in enumerate(sizes):
            t.resize(cols, rows)
            # A key after the resize: the freeze of issue 14 began at the first key read after one.
            typed += chr(ord('a') + i)
            t.type(typed[-1])
            self.assert_drawn(t, cols, rows, typed)
        flood.stop()
        t.wait_text(r'flooder says: flood is over', timeout=30)
        # Still responsive: the line typed after the resizes goes out.
        t.keys('C-u')
        t.enter('after the resizes')
        m = listener.expect(MESSAGE, lambda f: f.text == 'after the resizes', timeout=10)
        self.assertEqual(m.sender, 'viewer')
        t.wait_text(r'You say: after the resizes')
        # And idle: little CPU over a quiet stretch (a spinning client uses a whole core).
        before = t.cpu_seconds()
        time.sleep(2.0)  # a measuring window, not a synchronisation
        used = t.cpu_seconds() - before
        self.assertLess(used, 0.5, 'the client used %.2f s of CPU in 2 s while idle' % used)
        self.assert_drawn(t, 100, 30, '')


TIME = r'\d\d:\d\d:\d\d '


@requires_client
@requires_tmux
class TuiReconnect(TuiCase):
    """The server goes away (SIGTERM: it says so; SIGKILL: the socket just closes) and comes
    back on the same port: the client reconnects by itself, as the same guest or account,
    and keeps its scrollback and the line being typed."""

    def setUp(self):
        import os
        import tempfile
        self.db_dir = tempfile.mkdtemp(prefix='howdy-tui-db-')
        self.addCleanup(lambda: __import__('shutil').rmtree(self.db_dir, ignore_errors=True))
        self.server_args = ('--db', os.path.join(self.db_dir, 'chat.db'))
        super().setUp()

    def guest_comes_back(self, sig):
        t = self.tui('--name', 'carol')
        t.wait_text(r'Your name is carol')
        t.enter('before the restart')
        t.wait_text(r'You say: before the restart')
        t.type('half typed')
        status = self.server.stop(sig)
        if sig == signal.SIGTERM:
            self.assertEqual(status, 0)
        # Disconnected: said on the status line; the typed line stays.
        rows = t.wait_screen(lambda r: any(x.startswith(' disconnected: reconnecting') for x in r),
                             what='a "disconnected" status line')
        self.assertTrue(rows[-1].endswith('half typed'), rows[-1])
        # Enter while disconnected keeps the line, and says why.
        t.keys('Enter')
        t.wait_text(r'^Not connected: the line stays in the input')
        self.assertTrue(t.input_row().endswith('half typed'), t.input_row())
        self.server = ServerProcess(args=self.server_args, port=self.port).start()
        t.wait_text(r'^Reconnected to ', timeout=40)
        t.wait_screen(lambda r: r[-1] == '> half typed', what='the typed line kept after reconnecting')
        rows = t.rows()
        self.assertTrue(any('You say: before the restart' in r for r in rows), 'scrollback lost:\n' +
                        '\n'.join(rows))
        t.wait_text(r'as carol')
        listener = self.h2('listener')
        t.keys('Enter')  # the kept line goes out now
        m = listener.expect(MESSAGE, lambda f: f.text == 'half typed', timeout=10)
        self.assertEqual(m.sender, 'carol')

    def test_guest_reconnects_after_sigterm(self):
        self.guest_comes_back(signal.SIGTERM)

    def test_guest_reconnects_after_sigkill(self):
        self.guest_comes_back(signal.SIGKILL)

    def test_account_signs_in_again_rejoins_rooms_and_gets_missed_whispers(self):
        t = self.tui()
        t.wait_text(r'^Your name:')
        t.enter('/register alice pw-for-alice')
        t.wait_text(r'Signed in as alice')
        t.enter('/join den')
        t.wait_text(r'You joined #den')
        self.server.stop(signal.SIGKILL)
        t.wait_screen(lambda r: any(x.startswith(' disconnected: reconnecting') for x in r),
                      what='a "disconnected" status line')
        self.server = ServerProcess(args=self.server_args, port=self.port).start()
        bob = self.h2('bob')
        bob.say('while you were away', to='alice')
        t.wait_text(r'bob whispers to you: while you were away', timeout=40)
        t.wait_text(r'Reconnected to ')
        # Signed in again as the account (not as a guest), and back in #den.
        t.wait_screen(lambda r: sum('Signed in as alice' in x for x in r) == 2, what='a second "Signed in"')
        t.wait_screen(lambda r: sum('You joined #den' in x for x in r) == 2, what='#den joined again')
        bob.join_ok('den')
        bob.say_room('back in the den', 'den')
        t.wait_text(r'\[#den\] bob: back in the den')
        self.assertNotIn('pw-for-alice', t.screen())

    def test_no_reconnect_option_exits_as_before(self):
        t = self.tui('--name', 'dora', '--no-reconnect')
        t.wait_text(r'Your name is dora')
        self.server.stop(signal.SIGTERM)
        t.wait_text(r'Press any key to exit')
        self.server = ServerProcess(args=self.server_args, port=self.port).start()
        t.type('x')
        self.assertEqual(t.exit_status(), 1)


@requires_client
@requires_tmux
class TuiNameBeforeConnecting(TuiCase):
    """Item 3: the name is asked for before connecting, so the server's handshake deadline
    (here 1 s) never runs while a person types."""

    server_args = ('--handshake-timeout', '1')

    def test_slow_typist_is_not_timed_out(self):
        t = self.tui()
        t.wait_text(r'^Your name:')
        t.wait_text(r'not connected: choose a name')
        time.sleep(1.5)  # longer than the handshake deadline: a person thinking
        self.assertNotIn('new client connected', self.server_log())
        t.type('slow')
        time.sleep(1.5)
        t.enter(' typist')
        t.wait_text(r'Your name is slow typist')
        self.assertNotIn('in time', t.screen())

    def test_refused_name_is_asked_again_offline(self):
        self.h2('taken')
        t = self.tui()
        t.wait_text(r'^Your name:')
        t.enter('taken')
        t.wait_text(r'^Name refused: ')
        t.wait_text(r'not connected: choose a name')
        time.sleep(1.5)  # past the deadline: nothing may time out now
        t.enter('free')
        t.wait_text(r'Your name is free')
        self.assertNotIn('in time', t.screen())
        self.assertNotIn('error 1', t.screen())
