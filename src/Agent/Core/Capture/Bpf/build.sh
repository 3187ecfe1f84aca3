#!/usr/bin/env bash
# Rebuilds kfree_skb.bpf.o from kfree_skb.bpf.c (needs clang, llvm and libbpf-dev). The object is committed and
# embedded in the capture library, so the normal build needs none of these; CI runs `build.sh --check`, which
# rebuilds into a temporary directory and fails when the committed object no longer matches its source.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$here/kfree_skb.bpf.o"
check=0
[[ "${1:-}" == "--check" ]] && check=1
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
((check)) && out="$work/kfree_skb.bpf.o"
# -mcpu=v3 for the atomics of the flow rate cap (kernels before 5.12 lack them; the bpf source needs 5.17). -g makes the BTF that CO-RE needs; the DWARF beside it (with build paths) is stripped, the BTF kept.
# Compiled by relative path with the directory mapped away: the object must not depend on where the clone is.
(cd "$here" && clang -O2 -g -target bpf -mcpu=v3 -D__TARGET_ARCH_x86 -I/usr/include/x86_64-linux-gnu -fdebug-prefix-map="$here"=. \
	-c kfree_skb.bpf.c -o "$work/full.o")
llvm-strip -g "$work/full.o" -o "$out"
if ((check)); then
	if ! cmp -s "$out" "$here/kfree_skb.bpf.o"; then
		echo "kfree_skb.bpf.o does not match kfree_skb.bpf.c: run $0 and commit the object" >&2
		exit 1
	fi
	echo "kfree_skb.bpf.o matches its source"
fi
