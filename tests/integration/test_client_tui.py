"""The howdy-client terminal UI as people use it (issue 14), driven in tmux
(tui_driver.TuiClient) against the real server: resizes during a flood,
reconnecting after the server went away, the name asked before connecting,
human error messages, and the comforts of a chat client.

What is checked is the screen: the status bar, the input line ("> ..."),
the message rows. Skipped when tmux or the client is missing.
"""

import os
import re
import signal
import threading
import time
import unittest

from harness import MESSAGE, ServerProcess, ServerTestCase, client_path, free_port, requires_client
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
        t.wait_text(r'^' + TIME + r'Not connected: the line stays in the input')
        self.assertTrue(t.input_row().endswith('half typed'), t.input_row())
        self.server = ServerProcess(args=self.server_args, port=self.port).start()
        t.wait_text(r'^' + TIME + r'Reconnected to ', timeout=40)
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
        # #den is the current room again: plain text goes there.
        t.wait_screen(lambda r: self.status_row(r) is not None and '#den]' in self.status_row(r),
                      what='#den current again')
        t.enter('plain text after the reconnect')
        m = bob.expect(MESSAGE, lambda f: f.text == 'plain text after the reconnect')
        self.assertEqual((m.kind, m.target), (2, 'den'))
        self.assertNotIn('pw-for-alice', t.screen())

    def test_no_reconnect_option_exits_as_before(self):
        t = self.tui('--name', 'dora', '--no-reconnect')
        t.wait_text(r'Your name is dora')
        self.server.stop(signal.SIGTERM)
        t.wait_text(r'Press any key to exit')
        self.server = ServerProcess(args=self.server_args, port=self.port).start()
        t.type('x')
        self.assertEqual(t.exit_status(), 1)

    def test_guest_comes_back_as_the_same_name_when_the_server_still_holds_it(self):
        # After a network drop the server may still hold the old connection, and with it
        # the name (NAME_REFUSED 104), until it notices. Here another connection holds
        # "erin" when the client reconnects: the client keeps its identity and tries
        # again, and comes back as erin once the name is free, without asking for a name.
        t = self.tui('--name', 'erin', '--reconnect-max-delay', '4')
        t.wait_text(r'Your name is erin')
        self.server.stop(signal.SIGKILL)
        # Waiting (backoff) with more than 2 s left: time to restart the server and take
        # the name before the client's next attempt.
        t.wait_screen(lambda r: any(re.match(r' disconnected: reconnecting in [34] s', x) for x in r),
                      timeout=30, what='a reconnect wait of more than 2 s')
        self.server = ServerProcess(args=self.server_args, port=self.port).start()
        holder = self.h2('erin')
        t.wait_line(r'^' + TIME + r'Reconnecting: the server still has the old connection; trying again as erin',
                    timeout=20)
        t.wait_screen(lambda r: any(x.startswith(' reconnecting: the server still has the old connection') for x in r),
                      what='the reason on the status line')
        self.assertNotIn('choose a name', t.screen())
        holder.close()
        t.wait_screen(lambda r: sum('Your name is erin' in x for x in r) == 2, timeout=20,
                      what='a second "Your name is erin"')
        self.assertNotIn('choose a name', t.screen())
        listener = self.h2('listener')
        t.enter('back as erin')
        m = listener.expect(MESSAGE, lambda f: f.text == 'back as erin', timeout=10)
        self.assertEqual(m.sender, 'erin')


@requires_client
@requires_tmux
class TuiQuitWhileConnecting(TuiCase):
    """Nothing listens on the port: the client keeps trying to connect (--connect-timeout
    30). /quit and Ctrl-C end it at once, not when the connect gives up."""

    def quits_while_connecting(self, leave):
        port = free_port()  # bound and released: nothing listens there
        t = self.tui('--name', 'fay', '--connect-timeout', '30', port=port)
        t.wait_text(r'^' + TIME + r'Cannot reach .* yet')
        started = time.monotonic()
        leave(t)
        status = t.exit_status(timeout=3)
        self.assertIsNotNone(status, 'the client did not exit within 3 s of leaving:\n' + t.screen())
        self.assertLess(time.monotonic() - started, 3)

    def test_quit_while_connecting(self):
        self.quits_while_connecting(lambda t: t.enter('/quit'))

    def test_ctrl_c_while_connecting(self):
        # SIGINT to the client itself, as Ctrl-C sends it (the terminal keeps ISIG, and the
        # key through tmux would interrupt the driver's shell too, losing the exit status).
        self.quits_while_connecting(lambda t: os.kill(t.pid, signal.SIGINT))


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
        t.wait_text(r'^' + TIME + r'Name refused: ')
        t.wait_text(r'not connected: choose a name')
        time.sleep(1.5)  # past the deadline: nothing may time out now
        t.enter('free')
        t.wait_text(r'Your name is free')
        self.assertNotIn('in time', t.screen())
        self.assertNotIn('error 1', t.screen())


@requires_client
@requires_tmux
class TuiMessages(TuiCase):
    """Item 5 (the client's side) and the receipts of item 6: sentences, not protocol codes
    (the codes with --verbose); a failed send shown once; "signed in elsewhere" said as
    such; a [sent] that will not become [delivered] says why."""

    def test_failed_send_is_shown_once_as_a_sentence(self):
        t = self.tui('--name', 'viewer')
        t.wait_line(r'Your name is viewer')
        t.enter('/msg den hello')
        t.wait_line(r'\[#den\] You: hello \[NOT SENT: You are not in that room')
        lines = t.lines()
        self.assertEqual(sum('You: hello' in r for r in lines), 1, 'shown more than once:\n' + '\n'.join(lines))
        self.assertIsNone(re.search(r'error \d', t.screen()), t.screen())
        # --verbose: the code comes after the sentence.
        v = self.tui('--name', 'verbose', '--verbose')
        v.wait_line(r'Your name is verbose')
        v.enter('/msg den hello')
        v.wait_line(r'NOT SENT: You are not in that room .*\(error 120\)')

    def test_signed_in_elsewhere_is_not_taken(self):
        owner = self.h2()
        owner.create_account('alice', 'pw-for-alice-123')
        t = self.tui()
        t.wait_text(r'^Your name:')
        t.enter('/login alice pw-for-alice-123')
        t.wait_line(r'Sign-in refused: that account is signed in elsewhere')
        self.assertNotIn('taken', t.screen())
        self.assertIsNone(re.search(r'error \d', t.screen()), t.screen())
        t.wait_text(r'not connected: choose a name')  # asked again, offline

    def test_receipts_say_why_none_will_come(self):
        bob = self.h2('bob')
        old = self.h1('oldie')
        away = self.h2()
        away.create_account('carl', 'pw-for-carl-123')
        away.close()
        t = self.tui('--name', 'viewer')
        t.wait_line(r'Online: .*viewer')
        t.wait_screen(lambda r: not any(x.endswith('\u2502 carl') for x in r), what='carl offline')
        # An HCP/2 recipient that confirms: [delivered], no explanation.
        t.enter('@bob are you there')
        m = bob.expect(MESSAGE, lambda f: f.text == 'are you there')
        bob.received(m.id)
        t.wait_line(r'You whisper to bob: are you there \[delivered\]$')
        # An HCP/1 recipient never confirms: said after a few seconds.
        t.enter('@oldie hello old friend')
        t.wait_line(r'You whisper to oldie: hello old friend \[sent')
        t.wait_line(r'hello old friend \[sent — no receipt after 3 s; HCP/1 clients never send one\]', timeout=10)
        self.assertTrue(any(x.endswith('are you there [delivered]') for x in t.lines()), t.lines())
        # An account offline: stored for its next sign-in.
        t.enter('@carl see you later')
        t.wait_line(r'You whisper to carl: see you later \[sent — carl is offline: delivered when they sign in\]')
        # A room: no receipts at all.
        t.enter('/join den')
        t.wait_line(r'You joined #den')
        t.enter('hi room')
        t.wait_line(r'\[#den\] You: hi room \[sent — rooms have no receipts\]')


@requires_client
@requires_tmux
class TuiTimes(TuiCase):
    """Item 6: a time on every line (our own, joins and leaves too), and the date on
    history from another day."""

    def test_every_line_has_a_time(self):
        t = self.tui('--name', 'viewer', cols=140)
        t.wait_line(r'Your name is viewer')
        bob = self.h2('bob')
        t.wait_line(r'bob joined')
        bob.say_ok('hello viewer')
        t.wait_line(r'bob says: hello viewer')
        bob.close()
        t.wait_line(r'bob left')
        t.enter('my own line')
        t.wait_line(r'You say: my own line')
        t.enter('/who')
        t.wait_line(r'Online: viewer$')
        lines = t.lines()
        for what in ('Connected to', 'Your name is viewer', 'bob joined', 'bob says: hello viewer', 'bob left',
                     'You say: my own line', 'Online: viewer'):
            line = next((x for x in lines if what in x), None)
            self.assertIsNotNone(line, what)
            self.assertRegex(line, r'^\d\d:\d\d:\d\d ' + re.escape(what), 'no time on %r' % line)
        # Every line, not just those: the message pane has no line without one.
        self.assertTrue(all(re.match(r'^\d\d:\d\d:\d\d ', x) for x in lines), '\n'.join(lines))

    def test_history_from_another_day_has_its_date(self):
        import os
        import sqlite3
        import shutil
        import tempfile
        db_dir = tempfile.mkdtemp(prefix='howdy-tui-db-')
        self.addCleanup(lambda: shutil.rmtree(db_dir, ignore_errors=True))
        db = os.path.join(db_dir, 'chat.db')
        self.server.stop()
        self.server = ServerProcess(args=('--db', db)).start()
        self.port = self.server.port
        owner = self.h2()
        owner.create_account('alice', 'pw-for-alice-123')
        owner.close()
        bob = self.h2('bob')
        # Stored for alice while she is away: one to be made three days old, one of today.
        bob.say_ok('from three days ago', to='alice')
        bob.say_ok('from today', to='alice')
        bob.close()
        self.server.stop()
        with sqlite3.connect(db) as c:
            c.execute("UPDATE messages SET ts = ts - ? WHERE body = CAST('from three days ago' AS BLOB)"
                      " OR body = 'from three days ago'", (3 * 86400 * 1000000,))
            old_ts = c.execute("SELECT ts FROM messages WHERE sender = 'bob' ORDER BY id LIMIT 1").fetchone()[0]
        self.server = ServerProcess(args=('--db', db), port=self.port).start()
        t = self.tui(cols=140)
        t.wait_text(r'^Your name:')
        t.enter('/login alice pw-for-alice-123')
        t.wait_line(r'bob whispers to you: from today')
        day = time.strftime('%Y-%m-%d', time.localtime(old_ts / 1e6))
        self.assertNotEqual(day, time.strftime('%Y-%m-%d'))
        t.wait_line(r'^' + day + r' \d\d:\d\d:\d\d bob whispers to you: from three days ago$')
        t.wait_line(r'^\d\d:\d\d:\d\d bob whispers to you: from today$')


@requires_client
@requires_tmux
class TuiRooms(TuiCase):
    """Item 6: a current room. /join ROOM makes it current (plain text goes there), the
    status bar shows it and the other rooms with their unread counts, /switch and Alt-digit
    change it, /join alone or /part go back to everyone."""

    def status(self, t, pattern, what):
        rx = re.compile(pattern)
        return t.wait_screen(lambda r: self.status_row(r) is not None and rx.search(self.status_row(r)),
                             what='status bar matching %r (%s)' % (pattern, what))

    def test_current_room_unread_counts_and_switching(self):
        bob = self.h2('bob')
        bob.join_ok('den')
        bob.join_ok('lobby')
        t = self.tui('--name', 'viewer', cols=140)
        t.wait_line(r'Your name is viewer')
        t.enter('/join den')
        self.status(t, r'as viewer  1:everyone \[2:#den\]', 'in #den')
        t.wait_screen(lambda r: r[-1] == '#den>', what='the #den prompt')
        t.enter('hello den')
        m = bob.expect(MESSAGE, lambda f: f.text == 'hello den')
        self.assertEqual((m.kind, m.target), (2, 'den'))
        t.wait_line(r'\[#den\] You: hello den')
        t.enter('/join #lobby')
        self.status(t, r'1:everyone 2:#den \[3:#lobby\]', 'in #lobby')
        # Messages in a room that is not current count as unread.
        bob.say_room_ok('one', 'den')
        bob.say_room_ok('two', 'den')
        t.wait_line(r'\[#den\] bob: two')
        self.status(t, r'1:everyone 2:#den\(2\) \[3:#lobby\]', 'two unread in #den')
        t.enter('/switch den')
        self.status(t, r'1:everyone \[2:#den\] 3:#lobby(  |$)', 'back in #den, nothing unread')
        # /join alone: back to everyone; plain text goes to everyone.
        t.enter('/join')
        self.status(t, r'\[1:everyone\] 2:#den 3:#lobby(  |$)', 'talking to everyone')
        t.wait_screen(lambda r: r[-1] == '>', what='the plain prompt')
        t.enter('to all of you')
        m = bob.expect(MESSAGE, lambda f: f.text == 'to all of you')
        self.assertEqual(m.kind, 0)
        # Alt-3: the second room in the bar (Alt-1 is everyone).
        t.keys('M-3')
        self.status(t, r'1:everyone 2:#den \[3:#lobby\](  |$)', 'Alt-3 to #lobby')
        t.keys('M-1')
        self.status(t, r'\[1:everyone\] 2:#den 3:#lobby(  |$)', 'Alt-1 to everyone')
        t.keys('M-2')
        self.status(t, r'1:everyone \[2:#den\] 3:#lobby(  |$)', 'Alt-2 to #den')
        # /part leaves the current room and goes back to everyone.
        t.enter('/part')
        t.wait_line(r'You left #den')
        self.status(t, r'\[1:everyone\] 2:#lobby(  |$)', 'left #den')
        t.enter('/help')
        t.wait_line(r'/switch ROOM')


@requires_client
@requires_tmux
class TuiEditing(TuiCase):
    """Item 6: Tab completion of names, commands and rooms; Ctrl-W, Ctrl-U; End back to the
    newest messages after PgUp; /me."""

    def test_tab_completes_names_commands_and_rooms(self):
        bob = self.h2('bobby')
        bob.join_ok('kitchen')
        t = self.tui('--name', 'viewer', cols=140)
        t.wait_line(r'Online: bobby, viewer')
        # A command at the start of the line.
        t.type('/jo')
        t.keys('Tab')
        t.wait_screen(lambda r: r[-1] == '> /join', what='/join completed')
        t.type('kitchen')
        t.keys('Enter')
        t.wait_line(r'You joined #kitchen')
        t.keys('M-1')  # back to everyone, for the plain prompt below
        t.wait_screen(lambda r: r[-1] == '>', what='the plain prompt')
        # A name after '@' (the '@' kept); Tab again on one candidate keeps it.
        t.type('@bo')
        t.keys('Tab')
        t.wait_screen(lambda r: r[-1] == '> @bobby', what='@bobby completed')
        t.type('psst')
        t.keys('Enter')
        bob.expect(MESSAGE, lambda f: f.text == 'psst' and f.kind == 1)
        # A room after '#', and as the first word after /switch.
        t.type('/msg #kit')
        t.keys('Tab')
        t.wait_screen(lambda r: r[-1] == '> /msg #kitchen', what='#kitchen completed')
        t.keys('C-u')
        t.wait_screen(lambda r: r[-1] == '>', what='Ctrl-U cleared the line')
        t.type('/switch k')
        t.keys('Tab')
        t.wait_screen(lambda r: r[-1] == '> /switch kitchen', what='kitchen completed')
        t.keys('C-u')
        # A name anywhere else; several candidates: Tab cycles through them.
        self.h2('bobcat')
        t.wait_line(r'bobcat joined')
        t.type('hi bo')
        t.keys('Tab')
        t.wait_screen(lambda r: r[-1] == '> hi bobby', what='first candidate')
        t.keys('Tab')
        t.wait_screen(lambda r: r[-1] == '> hi bobcat', what='second candidate')
        t.keys('Tab')
        t.wait_screen(lambda r: r[-1] == '> hi bobby', what='back to the first')

    def test_ctrl_w_end_to_live_and_me(self):
        bob = self.h2('bob')
        t = self.tui('--name', 'viewer', cols=100, rows=12)
        t.wait_line(r'Online: bob, viewer')
        # Ctrl-W deletes the word before the cursor (and the spaces after it).
        t.type('one two three  ')
        t.keys('C-w')
        t.wait_screen(lambda r: r[-1] == '> one two', what='Ctrl-W deleted "three  "')
        t.keys('C-w')
        t.wait_screen(lambda r: r[-1] == '> one', what='Ctrl-W deleted "two "')
        t.keys('C-u')
        # Enough lines to scroll; PgUp shows older ones, End comes back to the newest.
        for i in range(30):
            bob.say('line %d' % i)
        bob.say_ok('the newest line')
        t.wait_line(r'bob says: the newest line')
        t.keys('PPage')
        t.wait_screen(lambda r: 'scrolled back' in self.status_row(r) and
                      not any('the newest line' in x for x in r), what='scrolled back')
        t.keys('End')
        t.wait_screen(lambda r: any('the newest line' in x for x in r) and 'scrolled back' not in self.status_row(r),
                      what='back to the newest after End')
        # /me: sent as "/me ..." (what other clients show as it is), shown as an action.
        t.enter('/me waves')
        m = bob.expect(MESSAGE, lambda f: f.text == '/me waves')
        self.assertEqual(m.kind, 0)
        t.wait_line(r'^\d\d:\d\d:\d\d \* viewer waves$')
        bob.say_ok('/me waves back')
        t.wait_line(r'^\d\d:\d\d:\d\d \* bob waves back$')
