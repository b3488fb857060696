"""G. The server's command line (the seed report's "Server Configuration" case: bad
addresses and ports are refused, good ones run) and its shutdown on signals."""

import signal
import subprocess
import time
import unittest

from harness import (ERROR, H2Client, SANITIZER_MARKERS, Closed, ServerProcess, ServerTestCase,
                     server_path, with_test_defaults)


def run_server(*args, timeout=10):
    # The test defaults (--db :memory:, ...) so no database is left in the working directory.
    return subprocess.run([server_path(), *with_test_defaults(args)], stdin=subprocess.DEVNULL, capture_output=True,
                          timeout=timeout)


@unittest.skipUnless(server_path(), 'no server executable (pass --server PATH)')
class ServerCommandLine(unittest.TestCase):

    def assert_refused(self, args, *words):
        r = run_server(*args)
        err = r.stderr.decode('utf-8', 'replace')
        self.assertNotEqual(r.returncode, 0, 'howdy-server %s must fail; stderr: %s' % (' '.join(args), err))
        self.assertFalse([m for m in SANITIZER_MARKERS if m in err], err)
        lines = [ln for ln in err.splitlines() if ln.strip()]
        self.assertEqual(len(lines), 1, 'one clear line on stderr, got: %r' % (err,))
        for w in words:
            self.assertIn(w, lines[0])
        self.assertNotIn(b'listening on', r.stdout)
        return lines[0]

    def test_seed02_bad_host(self):
        for host in ('nonsense', '300.1.1.1', 'cookiemonster', '127.0.0.1.5', ''):
            with self.subTest(host=host):
                self.assert_refused(['--host', host, '--port', '0'], '--host')

    def test_seed02_bad_port(self):
        for port in ('70000', 'abc', 'worcester', '-1', '65536', '1.5', '', '20002x'):
            with self.subTest(port=port):
                self.assert_refused(['--host', '127.0.0.1', '--port', port], '--port')

    def test_bad_numeric_options(self):
        for opt, value in (('--threads', '0'), ('--max-frame', '10'), ('--outbox-bytes', 'lots'),
                           ('--handshake-timeout', '0'), ('--slow-consumer', 'ignore')):
            with self.subTest(opt=opt):
                self.assert_refused(['--port', '0', opt, value], opt)

    def test_unknown_option_and_stray_argument(self):
        self.assert_refused(['--port', '0', '--frobnicate'], 'frobnicate')
        self.assert_refused(['--port', '0', 'extra'], 'extra')

    def test_help(self):
        r = run_server('--help')
        self.assertEqual(r.returncode, 0)
        out = r.stdout.decode()
        for opt in ('--host', '--port', '--outbox-bytes', '--max-frame'):
            self.assertIn(opt, out)

    def test_seed02_valid_settings_run(self):
        s = ServerProcess(args=['--threads', '1', '--max-frame', '4096']).start()
        try:
            c = H2Client(s.port)
            self.assertEqual(c.hello().max_frame, 4096)
            c.close()
        finally:
            self.assertEqual(s.stop(), 0)


class PortInUse(ServerTestCase):

    def test_port_already_in_use(self):
        r = run_server('--host', '127.0.0.1', '--port', str(self.port))
        err = r.stderr.decode()
        self.assertNotEqual(r.returncode, 0)
        lines = [ln for ln in err.splitlines() if ln.strip()]
        self.assertEqual(len(lines), 1, err)
        self.assertIn(str(self.port), lines[0])
        self.assertRegex(lines[0].lower(), r'in use|cannot listen')
        self.assert_still_serving()


class Shutdown(ServerTestCase):

    def stop_with(self, sig):
        h2 = [self.h2('h2-%d' % i) for i in range(3)]
        h1 = [self.h1('h1-%d' % i) for i in range(2)]
        unnamed = self.h2()
        unnamed.hello()
        raw = self.raw()
        raw.send_raw(b'\x01')               # half a proposal
        h2[0].say('in flight', to='h2-1')
        h2[0].expect(0x88)
        t0 = time.monotonic()
        status = self.server.stop(sig, grace=8)
        elapsed = time.monotonic() - t0
        self.assertEqual(status, 0, 'the server must exit 0 on %s; log:\n%s' % (sig.name, self.server_log()[-3000:]))
        self.assertFalse(self.server.killed)
        self.assertLess(elapsed, 5, 'the server must exit promptly (took %.1fs)' % elapsed)
        got = {}
        for c in h2 + [unnamed]:
            frames = got[id(c)] = c.frames_within(2)
            errs = [f for f in frames if f.type == ERROR]
            self.assertTrue(c.eof, 'HCP/2 clients must be closed')
            for e in errs:
                self.assertEqual(e.code, 110, 'only ERROR 110 (shutting down) at shutdown: %r' % e)
        for c in h1 + [raw]:
            self.assertTrue(c.wait_closed(2), 'HCP/1 clients must be closed')
        self.assertTrue(self.wait_log('stopped', timeout=1))
        return [got[id(c)] for c in h2]

    def test_sigterm_with_clients_connected(self):
        frames = self.stop_with(signal.SIGTERM)
        self.assertEqual([f.text for f in frames[1] if f.type == 0x87], ['in flight'])

    def test_sigint_with_clients_connected(self):
        self.stop_with(signal.SIGINT)

    def test_sigterm_hcp2_clients_get_error_110(self):
        """docs/protocol.md 2.4/2.5: shutdown (ERROR 110) then close."""
        h2 = [self.h2('a'), self.h2('b')]
        self.server.stop(signal.SIGTERM)
        for c in h2:
            try:
                e = c.expect(ERROR, timeout=3)
            except Closed:
                self.fail('closed without ERROR 110')
            self.assertEqual(e.code, 110)

    def test_sigterm_idle_server(self):
        c = self.h2()
        c.hello()                             # the server is fully up (see the next test)
        c.close()
        t0 = time.monotonic()
        self.assertEqual(self.server.stop(signal.SIGTERM), 0)
        self.assertLess(time.monotonic() - t0, 3)



@unittest.skipUnless(server_path(), 'no server executable (pass --server PATH)')
class ReadyLine(unittest.TestCase):

    def test_sigterm_right_after_ready_line_exits_0(self):
        """A supervisor may stop the server as soon as it said it is ready: SIGTERM right
        after the "listening on" line must still be a clean shutdown (exit 0)."""
        deadline = time.monotonic() + 12
        runs = 0
        while runs < 80 and time.monotonic() < deadline:
            s = ServerProcess().start()
            s.proc.send_signal(signal.SIGTERM)
            try:
                status = s.proc.wait(timeout=8)
            finally:
                s.stop(grace=2)
            runs += 1
            self.assertEqual(status, 0, 'run %d: SIGTERM right after the ready line gave exit status %r'
                             % (runs, status))


if __name__ == '__main__':
    unittest.main()
