#!/bin/sh
# Copies the working tree (sources only) to DIR, so a long fuzz run tests one fixed version
# while the tree moves on. Usage: snapshot.sh DIR
set -eu
src=$(cd "$(dirname "$0")/../../.." && pwd)
dst=$1
rm -rf "$dst"
mkdir -p "$dst"
tar -C "$src" --exclude='./build*' --exclude='./tests/node_modules' --exclude='./.git' -cf - . | tar -C "$dst" -xf -
(cd "$src" && git rev-parse HEAD && git status --short) >"$dst/SNAPSHOT" 2>/dev/null || true
(cd "$src" && git diff) >"$dst/SNAPSHOT.diff" 2>/dev/null || true
