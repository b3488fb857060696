#!/usr/bin/env bash
# Builds tests/consumer against Howdy two ways and runs it:
#   1. as a subproject (subprojects/howdy -> the repository, a symlink made here);
#   2. installed with `meson install` into a temporary prefix, found through pkg-config.
# Usage: run.sh [repository root]. Exits non-zero if either fails.
set -uo pipefail
root=$(cd "${1:-$(dirname "$0")/../..}" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/howdy-consumer.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0

check() {  # name, build dir: the consumer must print "ok"
  local out
  if out=$("$2/consumer") && [[ $out == ok ]]; then
    echo "consumer: $1: ok"
    passed=$((passed + 1))
  else
    echo "consumer: $1: FAILED (printed: ${out:-nothing})"
    failed=$((failed + 1))
  fi
}
fail() {
  echo "consumer: $1: FAILED ($2)"
  failed=$((failed + 1))
}

# 1. Subproject.
mkdir -p "$tmp/sub"
cp "$root/tests/consumer/meson.build" "$root/tests/consumer/meson_options.txt" "$root/tests/consumer/main.cpp" "$tmp/sub/"
mkdir -p "$tmp/sub/subprojects"
ln -s "$root" "$tmp/sub/subprojects/howdy"
if meson setup "$tmp/sub/build" "$tmp/sub" -Dhowdy_from=subproject --force-fallback-for=howdy >"$tmp/sub.log" 2>&1 &&
   meson compile -C "$tmp/sub/build" >>"$tmp/sub.log" 2>&1; then
  check subproject "$tmp/sub/build"
else
  cat "$tmp/sub.log"
  fail subproject "build failed"
fi

# 2. Installed, through pkg-config.
prefix="$tmp/prefix"
if meson setup "$tmp/main-build" "$root" --prefix "$prefix" -Dsamples=false -Dtests=false -Dbenchmarks=false \
     >"$tmp/install.log" 2>&1 &&
   meson install -C "$tmp/main-build" >>"$tmp/install.log" 2>&1; then
  pc=$(find "$prefix" -name howdy.pc | head -n 1)
  if [[ -z $pc ]]; then
    fail pkg-config "no howdy.pc was installed"
  elif [[ ! -f $prefix/include/howdy.hpp || ! -f $prefix/include/howdy/outbox.hpp ]]; then
    fail pkg-config "headers missing under $prefix/include"
  else
    mkdir -p "$tmp/pc"
    cp "$root/tests/consumer/meson.build" "$root/tests/consumer/meson_options.txt" "$root/tests/consumer/main.cpp" "$tmp/pc/"
    if PKG_CONFIG_PATH="$(dirname "$pc")" meson setup "$tmp/pc/build" "$tmp/pc" -Dhowdy_from=pkg-config \
         >"$tmp/pc.log" 2>&1 &&
       meson compile -C "$tmp/pc/build" >>"$tmp/pc.log" 2>&1; then
      check pkg-config "$tmp/pc/build"
    else
      cat "$tmp/pc.log"
      fail pkg-config "build failed"
    fi
  fi
else
  cat "$tmp/install.log"
  fail pkg-config "install failed"
fi

echo "consumer: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
