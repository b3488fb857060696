#!/usr/bin/env python3
"""Prints one line, "N passed, M failed", for the given meson build directories.

Every test case in the JUnit files the tests write (junit-NAME.xml) counts once.
A meson test that wrote no JUnit file counts as one case with meson's verdict,
and a meson test that failed without a failing case in its JUnit file (a crash,
a sanitizer abort, a timeout) counts as one more failure."""
import glob
import json
import os
import sys
import xml.etree.ElementTree as ET


def junit_counts(path):
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError):
        return None
    ok = bad = 0
    for case in root.iter("testcase"):
        if case.find("skipped") is not None:
            continue
        if case.find("failure") is not None or case.find("error") is not None:
            bad += 1
        else:
            ok += 1
    return ok, bad


passed = failed = 0
for build in sys.argv[1:]:
    junit = {os.path.basename(p)[len("junit-"):-len(".xml")]: p
             for p in glob.glob(os.path.join(build, "**", "junit-*.xml"), recursive=True)}
    log = os.path.join(build, "meson-logs", "testlog.json")
    if not os.path.exists(log):
        print(f"{build}: no test log (the build failed?)", file=sys.stderr)
        failed += 1
        continue
    with open(log) as f:
        for line in f:
            t = json.loads(line)
            # "howdy:integration / integration" in meson's log is junit-integration.xml.
            name, result = t["name"].split(" / ")[-1], t["result"]
            if result == "SKIP":
                continue
            counts = junit_counts(junit[name]) if name in junit else None
            if counts is None:
                if result == "OK":
                    passed += 1
                else:
                    failed += 1
                    print(f"{build}: {name}: {result}", file=sys.stderr)
                continue
            ok, bad = counts
            passed += ok
            failed += bad
            if result != "OK" and bad == 0:
                failed += 1
                print(f"{build}: {name}: {result} (crash or timeout?)", file=sys.stderr)
print(f"{passed} passed, {failed} failed")
