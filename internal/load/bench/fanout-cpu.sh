#!/usr/bin/env bash
# Server CPU per delivery under the TAK load profile (issue 15).
#
#   fanout-cpu.sh run BINARY CLIENTS [DURATION] [CONFIG_JSON]
#       One fresh `kizuna serve` (plain-TCP CoT listener, HTTP for /metrics) and one
#       `kizuna load --clients CLIENTS --rate 1 --proto xml` against it. Prints one line:
#       the load summary's completeness and latency quantiles, the server's CPU time
#       (utime+stime from /proc/PID/stat, over the load command only), CPU µs per
#       delivery, and deliveries per write (kizuna_events_out_total over
#       kizuna_stream_writes_total; n/a for a binary without that counter).
#       CONFIG_JSON, e.g. '{"writeBudget": 80000}', is given to --config.
#   fanout-cpu.sh pairs OLD NEW DURATION CLIENTS...
#       For each client count one run of each binary, the order alternating, so that
#       the two share the machine's state as far as possible.
#
# Environment: PROTO=protobuf makes the load clients negotiate TAK protocol v1 (default
# xml); PPROF_SECONDS=N takes a Go CPU profile of N s, 8 s into the load, to
# PPROF_OUT (default cpu-CLIENTS.pprof); PERF_OUT=FILE records `perf record -e cpu-clock
# -g` of the server for 10 s, 8 s into the load (kernel time included).
set -euo pipefail

run() {
	local bin=$1 n=$2 dur=${3:-20s} cfg=${4:-}
	ulimit -n 20000
	local d
	d=$(mktemp -d)
	local args=(serve --data "$d" --cot-tcp 127.0.0.1:0 --http '127.0.0.1:0@USA:SECRET' --log-level warn)
	if [ -n "$cfg" ]; then
		echo "$cfg" >"$d/config.json"
		args+=(--config "$d/config.json")
	fi
	if [ -n "${PPROF_SECONDS:-}" ]; then args+=(--pprof 127.0.0.1:16060); fi
	"$bin" "${args[@]}" >"$d/server.log" 2>&1 &
	local pid=$!
	for _ in $(seq 100); do
		[ -s "$d/listeners.json" ] && break
		sleep 0.1
	done
	local addr http
	addr=$(jq -r '.[] | select(.kind == "cot-tcp") | .addr' "$d/listeners.json")
	http=$(jq -r '.[] | select(.kind == "http") | .addr' "$d/listeners.json")
	cpu() { awk -v tck="$(getconf CLK_TCK)" '{print ($14+$15)/tck}' "/proc/$pid/stat"; }
	local l0 c0 t0
	l0=$(cut -d' ' -f1 /proc/loadavg)
	c0=$(cpu)
	t0=$(date +%s.%N)
	if [ -n "${PPROF_SECONDS:-}" ]; then
		(sleep 8; curl -s -o "${PPROF_OUT:-cpu-$n.pprof}" "http://127.0.0.1:16060/debug/pprof/profile?seconds=$PPROF_SECONDS") &
	fi
	if [ -n "${PERF_OUT:-}" ]; then
		(sleep 8; perf record -q -e cpu-clock -g -p "$pid" -o "$PERF_OUT" -- sleep 10 >/dev/null 2>&1) &
	fi
	local out
	out=$("$bin" load --addr "$addr" --clients "$n" --rate 1 --duration "$dur" --proto "${PROTO:-xml}" 2>/dev/null | tail -1)
	local c1 t1 l1 met
	c1=$(cpu)
	t1=$(date +%s.%N)
	l1=$(cut -d' ' -f1 /proc/loadavg)
	met=$(curl -s "http://$http/metrics")
	wait_children
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	rm -rf "$d"
	awk -v b="$(basename "$bin")" -v n="$n" -v c0="$c0" -v c1="$c1" -v t0="$t0" -v t1="$t1" \
		-v l0="$l0" -v l1="$l1" -v out="$out" -v met="$met" 'BEGIN {
		split(out, f, " ")
		for (i in f) { split(f[i], kv, "="); v[kv[1]] = kv[2] }
		k = split(met, lines, "\n")
		for (i = 1; i <= k; i++) {
			split(lines[i], w, " ")
			if (w[1] == "kizuna_events_out_total") outn = w[2] + 0
			if (w[1] == "kizuna_stream_writes_total") wr = w[2] + 0
		}
		r = v["received"] + 0
		printf "%s clients=%d load=%s/%s completeness=%s p50=%s p90=%s p99=%s generator_cpu=%s server_cpu=%.1fs wall=%.1fs us_per_delivery=%.3f deliveries_per_write=%s\n",
			b, n, l0, l1, v["completeness"], v["p50"], v["p90"], v["p99"], v["generator_cpu"], c1 - c0, t1 - t0,
			(r > 0 ? (c1 - c0) * 1e6 / r : 0), (wr > 0 ? sprintf("%.1f", outn / wr) : "n/a")
	}'
}

wait_children() {
	local j
	for j in $(jobs -p); do
		[ "$j" = "${pid:-}" ] || wait "$j" 2>/dev/null || true
	done
}

case ${1:-} in
run)
	shift
	run "$@"
	;;
pairs)
	shift
	old=$1 new=$2 dur=$3
	shift 3
	i=0
	for n in "$@"; do
		i=$((i + 1))
		if [ $((i % 2)) = 1 ]; then a=$old b=$new; else a=$new b=$old; fi
		echo "$(date -u +%H:%M) $(run "$a" "$n" "$dur")"
		echo "$(date -u +%H:%M) $(run "$b" "$n" "$dur")"
	done
	;;
*)
	sed -n '2,20p' "$0"
	exit 2
	;;
esac
