"""Checks of the harness itself, with a fake server (a small Python script): the port is
read from its "listening on" line, a sanitizer report on its stderr is found, and a
server that ignores SIGTERM is killed after the bound."""

import os
import sys
import tempfile
import textwrap
import time
import unittest

from harness import ServerProcess

FAKE = textwrap.dedent('''
    import signal, socket, sys, time
    mode = sys.argv[-1]
    s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()
    def on_term(*_):
        if mode == 'asan':
            sys.stderr.write('==1==ERROR: AddressSanitizer: heap-use-after-free on address 0x1\\n')
        if mode == 'ubsan':
            sys.stderr.write('chat_server.hpp:10:5: runtime error: signed integer overflow\\n')
        sys.stderr.flush()
        if mode != 'stubborn':
            sys.exit(0)
    signal.signal(signal.SIGTERM, on_term)
    print('listening on 127.0.0.1:%d' % s.getsockname()[1], flush=True)
    while True:
        time.sleep(0.05)
''')


class HarnessSelfTest(unittest.TestCase):

    def setUp(self):
        fd, self.script = tempfile.mkstemp(suffix='.py', prefix='fake-howdy-')
        with os.fdopen(fd, 'w') as f:
            f.write(FAKE)
        self.addCleanup(os.unlink, self.script)

    def fake(self, mode):
        s = ServerProcess(exe=sys.executable, args=[self.script, mode])
        s.command = lambda: [sys.executable, self.script, mode]
        s.start(timeout=10)
        self.addCleanup(s.stop, grace=1)
        self.assertGreater(s.port, 0)
        return s

    def test_sanitizer_reports_are_found(self):
        for mode in ('asan', 'ubsan'):
            with self.subTest(mode=mode):
                s = self.fake(mode)
                self.assertEqual(s.stop(), 0)
                hits, _ = s.sanitizer_report()
                self.assertEqual(len(hits), 1, hits)

    def test_clean_server_has_no_report(self):
        s = self.fake('clean')
        self.assertEqual(s.stop(), 0)
        self.assertEqual(s.sanitizer_report()[0], [])

    def test_server_ignoring_sigterm_is_killed(self):
        s = self.fake('stubborn')
        t0 = time.monotonic()
        status = s.stop(grace=0.5)
        self.assertTrue(s.killed)
        self.assertEqual(status, -9)
        self.assertLess(time.monotonic() - t0, 5)


if __name__ == '__main__':
    unittest.main()
