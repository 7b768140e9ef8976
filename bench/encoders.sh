#!/usr/bin/env bash
# Encoders forward: Go (vbg on gotch/libtorch 2.1.0) vs PyTorch eager 2.1.0 on
# the CPU, same thread count; prints each run and the Go/PyTorch ratios of the
# mean and of the fastest iteration. See bench/README.md.
# Usage: bench/encoders.sh [threads] [iterations] [rounds]
# With rounds > 1 the two sides alternate and the ratios use the mean of the
# means and the minimum of the minima (steadier on a shared machine).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
THREADS=${1:-$(nproc)}
ITERS=${2:-5}
ROUNDS=${3:-1}
cd "$ROOT"
GO_OUT=""
PY_OUT=""
for ((r = 1; r <= ROUNDS; r++)); do
	G=$(VBG_THREADS=$THREADS go test ./vbg -run '^$' -bench 'ViTBase16Forward|BertBaseForward' \
		-benchtime "${ITERS}x" -count 1 | grep '^Benchmark')
	P=$(.venv/bin/python bench/torch_encoders.py --threads "$THREADS" --iters "$ITERS")
	echo "$G"
	echo "$P"
	GO_OUT+="$G"$'\n'
	PY_OUT+="$P"$'\n'
done
# Go lines: Name-N  iters  ns/op  "ns/op"  min-ms  "min-ms" ...; Python lines: Name<TAB>mean ms ...<TAB>min ms ...
awk -v go="$GO_OUT" -v py="$PY_OUT" 'BEGIN {
	n = split(go, gl, "\n")
	for (i = 1; i <= n; i++) if (gl[i] ~ /^Benchmark/) {
		split(gl[i], f, /[ \t]+/); name = f[1]; sub(/^Benchmark/, "", name); sub(/-[0-9]+$/, "", name)
		gsum[name] += f[3] / 1e6; gn[name]++
		if (!(name in gmin) || f[5] < gmin[name]) gmin[name] = f[5]
	}
	n = split(py, pl, "\n")
	for (i = 1; i <= n; i++) {
		k = split(pl[i], f, "\t"); if (k < 3 || !(f[1] in gn)) continue
		split(f[2], m, " "); split(f[3], b, " ")
		psum[f[1]] += m[1]; pn[f[1]]++
		if (!(f[1] in pmin) || b[1] < pmin[f[1]]) pmin[f[1]] = b[1]
	}
	for (name in pn) {
		gm = gsum[name] / gn[name]; pm = psum[name] / pn[name]
		printf "%-18s Go/PyTorch  mean %.0f/%.0f ms = %.2f   min %.0f/%.0f ms = %.2f\n", name, gm, pm, gm / pm, gmin[name], pmin[name], gmin[name] / pmin[name]
	}
}'
