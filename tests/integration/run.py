#!/usr/bin/env python3
"""Runs the end-to-end tests of the Howdy chat server (tests/integration/test_*.py).

    run.py --server PATH [--client PATH] [--reference DIR] [--junit FILE] [-k PATTERN] [-v]
           [--server-arg='--threads 2' ...]

Writes a JUnit XML file (one <testcase> per test, with <failure>, <error> or
<skipped> children), prints a summary, and exits 1 on any failure or error.
Tests that need the reference programs or the client are skipped, not passed,
when those are not available."""

import argparse
import os
import shlex
import sys
import time
import traceback
import unittest
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))


class RecordingResult(unittest.TextTestResult):
    """Keeps, per test: outcome, seconds, message, details."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.records = []
        self._started = {}

    def startTest(self, test):
        self._started[test.id()] = time.monotonic()
        super().startTest(test)

    def _record(self, test, outcome, message='', details=''):
        t0 = self._started.get(test.id())
        elapsed = time.monotonic() - t0 if t0 is not None else 0.0
        # A test with both a failure (in a cleanup) and an error keeps the first, adds the rest.
        for rec in self.records:
            if rec['id'] == test.id() and rec['outcome'] in ('failure', 'error'):
                rec['details'] += '\n\n' + details
                return
        self.records = [r for r in self.records if r['id'] != test.id()]
        self.records.append(dict(id=test.id(), outcome=outcome, message=message, details=details,
                                 time=elapsed))

    @staticmethod
    def _summary(err):
        lines = [ln for ln in str(err[1]).splitlines() if ln.strip()]
        return ('%s: %s' % (err[0].__name__, lines[0] if lines else ''))[:500]

    def addSuccess(self, test):
        super().addSuccess(test)
        self._record(test, 'passed')

    def addFailure(self, test, err):
        super().addFailure(test, err)
        text = self._exc_info_to_string(err, test)
        self._record(test, 'failure', self._summary(err), text)

    def addError(self, test, err):
        super().addError(test, err)
        text = self._exc_info_to_string(err, test)
        self._record(test, 'error', self._summary(err), text)

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._record(test, 'skipped', reason)

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        text = self._exc_info_to_string(err, test)
        self._record(test, 'xfail', 'expected failure (known server bug): ' + self._summary(err), text)

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._record(test, 'failure', 'unexpected success: the known bug seems fixed; remove @expectedFailure')

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            text = self._exc_info_to_string(err, subtest)
            kind = 'failure' if issubclass(err[0], test.failureException) else 'error'
            self._record(test, kind, '%s: %s' % (subtest._subDescription(), self._summary(err)), text)


def write_junit(path, records, total_time):
    suite = ET.Element('testsuite', name='integration')
    counts = dict(tests=0, failures=0, errors=0, skipped=0)
    for rec in records:
        module, _, rest = rec['id'].rpartition('.')
        case = ET.SubElement(suite, 'testcase', classname=module, name=rest, time='%.3f' % rec['time'])
        counts['tests'] += 1
        if rec['outcome'] == 'failure':
            counts['failures'] += 1
            ET.SubElement(case, 'failure', message=rec['message'], type='AssertionError').text = rec['details']
        elif rec['outcome'] == 'error':
            counts['errors'] += 1
            ET.SubElement(case, 'error', message=rec['message'], type='Error').text = rec['details']
        elif rec['outcome'] in ('skipped', 'xfail'):
            counts['skipped'] += 1
            el = ET.SubElement(case, 'skipped', message=rec['message'])
            if rec['details']:
                el.text = rec['details']
    for k, v in counts.items():
        suite.set(k, str(v))
    suite.set('time', '%.3f' % total_time)
    tree = ET.ElementTree(suite)
    ET.indent(tree)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tree.write(path, encoding='utf-8', xml_declaration=True)


def skip_matching(suite, patterns):
    """Marks the tests of `suite` whose id contains one of `patterns` as skipped."""
    for test in suite:
        if isinstance(test, unittest.TestSuite):
            skip_matching(test, patterns)
        elif any(p in test.id() for p in patterns):
            name = test._testMethodName
            reason = 'skipped here (--skip / HOWDY_TEST_SKIP)'
            setattr(test, name, unittest.skip(reason)(getattr(test, name)))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--server', required=True, help='the howdy-server executable')
    ap.add_argument('--client', default='', help='the howdy-client executable (client tests skip without it)')
    ap.add_argument('--reference', default='', help='directory of the original programs (shared/reference/hcp1)')
    ap.add_argument('--junit', default='', help='write JUnit XML here')
    ap.add_argument('-k', dest='patterns', action='append', default=[],
                    help='only tests whose id contains this substring (repeatable)')
    ap.add_argument('--server-arg', dest='server_args', action='append', default=[], metavar='ARGS',
                    help='options every server a test starts gets too, unless the test sets that option '
                         "itself (repeatable; split like a shell: --server-arg='--threads 2'); added to "
                         'those in the environment variable HOWDY_SERVER_ARGS')
    ap.add_argument('--skip', dest='skips', action='append', default=[], metavar='PATTERN',
                    help='report tests whose id contains this substring as skipped (repeatable; added to '
                         'the comma-separated HOWDY_TEST_SKIP), say timing-bound ones under a sanitizer')
    ap.add_argument('-v', '--verbose', action='store_true')
    args = ap.parse_args()

    os.environ['HOWDY_SERVER'] = os.path.abspath(args.server)
    os.environ['HOWDY_CLIENT'] = os.path.abspath(args.client) if args.client else ''
    os.environ['HOWDY_REFERENCE'] = os.path.abspath(args.reference) if args.reference else ''
    # Added to what the environment gives (so `HOWDY_SERVER_ARGS='--threads 2' meson test` works too).
    server_args = shlex.split(os.environ.get('HOWDY_SERVER_ARGS', '')) + [a for arg in args.server_args
                                                                           for a in shlex.split(arg)]
    os.environ['HOWDY_SERVER_ARGS'] = shlex.join(server_args)
    if not os.access(os.environ['HOWDY_SERVER'], os.X_OK):
        print('run.py: server executable not found: %s' % args.server, file=sys.stderr)
        return 2
    sys.path.insert(0, HERE)

    loader = unittest.TestLoader()
    if args.patterns:
        loader.testNamePatterns = ['*%s*' % p for p in args.patterns]
    suite = loader.discover(HERE, pattern='test_*.py', top_level_dir=HERE)
    skips = [p for p in os.environ.get('HOWDY_TEST_SKIP', '').split(',') if p] + args.skips
    if skips:
        skip_matching(suite, skips)

    runner = unittest.TextTestRunner(stream=sys.stdout, verbosity=2 if args.verbose else 1,
                                     resultclass=RecordingResult)
    t0 = time.monotonic()
    try:
        result = runner.run(suite)
    except Exception:  # noqa: BLE001 - the XML is still written
        traceback.print_exc()
        return 1
    total = time.monotonic() - t0

    records = result.records
    if args.junit:
        write_junit(args.junit, records, total)

    by = {}
    for rec in records:
        by.setdefault(rec['outcome'], []).append(rec)
    print('\n==== integration summary (%.1fs) ====' % total)
    for rec in by.get('failure', []) + by.get('error', []):
        print('  %-7s %s: %s' % (rec['outcome'].upper(), rec['id'], rec['message']))
    for rec in by.get('xfail', []):
        print('  XFAIL   %s' % rec['id'])
    for rec in by.get('skipped', []):
        print('  SKIP    %s: %s' % (rec['id'], rec['message']))
    print('%d passed, %d failed, %d errors, %d skipped, %d expected failures'
          % (len(by.get('passed', [])), len(by.get('failure', [])), len(by.get('error', [])),
             len(by.get('skipped', [])), len(by.get('xfail', []))))
    if result.testsRun == 0:
        print('run.py: no tests ran', file=sys.stderr)
        return 1
    return 0 if not (by.get('failure') or by.get('error')) else 1


if __name__ == '__main__':
    sys.exit(main())
