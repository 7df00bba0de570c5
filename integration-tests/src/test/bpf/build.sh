#!/usr/bin/env bash
# Compiles every BPF C source here into OUT/NAME.o with clang, as libbpf users do (-O2 -g -target bpf).
# Without clang the objects are missing and the tests that need them skip, saying so.
set -euo pipefail
src="$(cd "$(dirname "$0")" && pwd)"
out="${1:?usage: build.sh OUT_DIR}"
mkdir -p "$out"
if ! command -v clang >/dev/null; then
  echo "build.sh: no clang: BPF test objects not built (apt-get install clang libbpf-dev)" >&2
  exit 0
fi
arch_inc="/usr/include/$(uname -m)-linux-gnu"
for c in "$src"/*.c; do
  o="$out/$(basename "${c%.c}").o"
  if [ ! -f "$o" ] || [ "$c" -nt "$o" ]; then
    clang -O2 -g -Wall -Werror -target bpf -I"$arch_inc" -c "$c" -o "$o"
  fi
done
