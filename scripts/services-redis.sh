#!/usr/bin/env bash
# services-redis.sh: make sure Redis answers on 127.0.0.1:6379 for tests.
# Idempotent: installs redis-server (Debian package, as root) when missing,
# starts it when it is not running, and does nothing when it already
# answers. It never stops or reconfigures a running server.
set -euo pipefail

ping() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; }

if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
	if [ "$(id -u)" != 0 ]; then
		echo "services-redis.sh: redis-server is missing and installing it needs root" >&2
		exit 1
	fi
	echo "services-redis.sh: installing redis-server" >&2
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server
fi

if ping; then
	echo "services-redis.sh: redis is running on 127.0.0.1:6379" >&2
	exit 0
fi

echo "services-redis.sh: starting redis-server on 127.0.0.1:6379" >&2
mkdir -p /var/lib/redis /var/log/redis
redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
	--dir /var/lib/redis --logfile /var/log/redis/ci.log
for _ in $(seq 100); do
	ping && { echo "services-redis.sh: redis is up" >&2; exit 0; }
	sleep 0.1
done
echo "services-redis.sh: redis did not answer within 10s; see /var/log/redis/ci.log" >&2
exit 1
