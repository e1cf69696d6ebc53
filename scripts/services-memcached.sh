#!/usr/bin/env bash
# services-memcached.sh: make sure memcached answers on 127.0.0.1:11211 for
# the tests of runtime/memcache.
# Idempotent: installs memcached (Debian package, as root) when missing,
# starts it daemonized on loopback when nothing answers there (CI has no
# init system), and does nothing when a server already answers. It never
# stops or reconfigures a running server. Only bash and coreutils are used
# to talk to it (bash's /dev/tcp and the "version" command).
set -euo pipefail

log() { echo "services-memcached.sh: $*" >&2; }

# ping reports whether a memcached answers "version" on 127.0.0.1:11211
# within 2 seconds.
ping() {
	timeout 2 bash -c '
		exec 3<>/dev/tcp/127.0.0.1/11211 || exit 1
		printf "version\r\n" >&3
		IFS= read -r line <&3 || exit 1
		exec 3>&-
		[[ $line == VERSION* ]]
	' 2>/dev/null
}

if ping; then
	log "memcached is running on 127.0.0.1:11211"
	exit 0
fi

if ! command -v memcached >/dev/null; then
	if [ "$(id -u)" != 0 ]; then
		log "memcached is missing and installing it needs root"
		exit 1
	fi
	log "installing memcached"
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends memcached
	# The package's own scripts may have started it (with an init system).
	if ping; then
		log "memcached is running on 127.0.0.1:11211"
		exit 0
	fi
fi

# memcached refuses to run as root without -u: the package's user, else nobody.
user=nobody
id memcache >/dev/null 2>&1 && user=memcache
if [ "$(id -u)" != 0 ]; then
	user=$(id -un)
fi
log "starting memcached on 127.0.0.1:11211 as $user"
memcached -d -u "$user" -l 127.0.0.1 -p 11211 -U 0 -m 64 -P /tmp/picocache-memcached.pid
for _ in $(seq 100); do
	ping && { log "memcached is up"; exit 0; }
	sleep 0.1
done
log "memcached did not answer on 127.0.0.1:11211 within 10s"
exit 1
