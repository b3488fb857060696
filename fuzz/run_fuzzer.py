#!/usr/bin/env python3
"""Runs one libFuzzer target as a test: replays its committed corpus and saved
regressions, then fuzzes for --seconds. New inputs go to a temporary directory
(libFuzzer writes into its first corpus directory), so the committed corpus is
left as it is; a crashing input is kept beside the build as
<target>-crash-<sha1> to be saved in fuzz/regressions/<target>/."""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile


def main():
    p = argparse.ArgumentParser()
    p.add_argument('fuzzer')
    p.add_argument('dirs', nargs='+', help='corpus directories (missing ones are skipped)')
    p.add_argument('--seconds', type=int, default=20)
    p.add_argument('--rss-limit-mb', type=int, default=1024)
    args = p.parse_args()

    name = os.path.basename(args.fuzzer)
    artifacts = os.path.join(os.getcwd(), 'fuzz-artifacts')
    os.makedirs(artifacts, exist_ok=True)
    dirs = [d for d in args.dirs if os.path.isdir(d)]
    scratch = tempfile.mkdtemp(prefix=name + '-')
    try:
        cmd = [args.fuzzer, scratch, *dirs,
               '-rss_limit_mb=%d' % args.rss_limit_mb,
               '-timeout=10',
               # libFuzzer's own default, 77, means "skipped" to meson.
               '-error_exitcode=1',
               '-timeout_exitcode=1',
               '-max_len=8192',
               '-print_final_stats=1',
               '-artifact_prefix=' + os.path.join(artifacts, name + '-')]
        # -runs=0 replays the corpus only; otherwise fuzz for the given time.
        cmd.append('-max_total_time=%d' % args.seconds if args.seconds > 0 else '-runs=0')
        print(' '.join(cmd), flush=True)
        rc = subprocess.call(cmd)
        if rc == 77:
            rc = 1
        if rc != 0:
            print('%s failed (exit %d): see the crashing input in %s; save it in fuzz/regressions/%s/'
                  % (name, rc, artifacts, name), file=sys.stderr)
        return rc
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())
