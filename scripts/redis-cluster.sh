#!/usr/bin/env bash
# redis-cluster.sh start|stop|status: a throwaway 3-node Redis Cluster on
# loopback for tests (no persistence, no replicas).
#
#   PICOCACHE_REDIS_CLUSTER_PORTS  ports of the nodes (default "7101 7102 7103")
#   PICOCACHE_REDIS_CLUSTER_DIR    working directory (default ${TMPDIR:-/tmp}/picocache-redis-cluster)
#
# start prints PICOCACHE_TEST_REDIS_CLUSTER=127.0.0.1:7101,... on stdout
# once cluster_state is ok. It exits 3, leaving things as they are, when a
# node already answers on one of the ports (the caller must then not stop
# what it did not start). stop shuts down the nodes this script started
# (by the pid files in the working directory) and removes the directory.
set -euo pipefail

ports=(${PICOCACHE_REDIS_CLUSTER_PORTS:-7101 7102 7103})
dir=${PICOCACHE_REDIS_CLUSTER_DIR:-${TMPDIR:-/tmp}/picocache-redis-cluster}

ping() { redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null | grep -q PONG; }

addrs() {
	local list=() p
	for p in "${ports[@]}"; do list+=("127.0.0.1:$p"); done
	local IFS=,
	echo "${list[*]}"
}

cluster_ok() {
	local p
	for p in "${ports[@]}"; do
		redis-cli -h 127.0.0.1 -p "$p" cluster info 2>/dev/null | grep -q '^cluster_state:ok' || return 1
	done
}

stop() {
	local p pid
	for p in "${ports[@]}"; do
		[ -f "$dir/$p/redis.pid" ] || continue
		pid=$(cat "$dir/$p/redis.pid")
		redis-cli -h 127.0.0.1 -p "$p" shutdown nosave >/dev/null 2>&1 || true
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid" 2>/dev/null || true; fi
	done
	rm -rf "$dir"
}

start() {
	command -v redis-server >/dev/null && command -v redis-cli >/dev/null || {
		echo "redis-cluster.sh: redis-server and redis-cli are required (scripts/services-redis.sh installs them)" >&2
		exit 2
	}
	# Nodes this directory records are ours, left by a test run that was
	# killed before it could stop them: stop them first.
	stop
	local p
	for p in "${ports[@]}"; do
		if ping "$p"; then
			echo "redis-cluster.sh: a server already answers on 127.0.0.1:$p; not starting" >&2
			exit 3
		fi
	done
	rm -rf "$dir"
	for p in "${ports[@]}"; do
		mkdir -p "$dir/$p"
		redis-server --port "$p" --bind 127.0.0.1 --cluster-enabled yes \
			--cluster-config-file "$dir/$p/nodes.conf" --cluster-node-timeout 5000 \
			--dir "$dir/$p" --save '' --appendonly no --daemonize yes \
			--pidfile "$dir/$p/redis.pid" --logfile "$dir/$p/redis.log"
	done
	trap 'stop' ERR
	for p in "${ports[@]}"; do
		for _ in $(seq 100); do ping "$p" && break; sleep 0.1; done
		ping "$p" || { echo "redis-cluster.sh: node $p did not start; see $dir/$p/redis.log" >&2; false; }
	done
	local nodes=()
	for p in "${ports[@]}"; do nodes+=("127.0.0.1:$p"); done
	redis-cli --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes >"$dir/create.log" 2>&1 ||
		{ cat "$dir/create.log" >&2; false; }
	for _ in $(seq 300); do cluster_ok && break; sleep 0.1; done
	cluster_ok || { echo "redis-cluster.sh: cluster_state did not become ok" >&2; false; }
	trap - ERR
	echo "PICOCACHE_TEST_REDIS_CLUSTER=$(addrs)"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
status)
	if cluster_ok; then echo "ok $(addrs)"; else echo "down"; exit 1; fi
	;;
*)
	echo "usage: $0 start|stop|status" >&2
	exit 2
	;;
esac
