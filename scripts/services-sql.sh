#!/usr/bin/env bash
# services-sql.sh: make sure PostgreSQL and MariaDB answer on loopback for
# the tests of runtime/sqldb:
#
#   PostgreSQL  127.0.0.1:5432, user postgres (and root), no password, database test
#   MariaDB     127.0.0.1:3306, user root, no password, database test
#
# Idempotent and non-interactive; run as root. For each server it first
# checks what the tests need over TCP and, when that works, leaves the
# server alone (a fast no-op). Otherwise it installs the Debian packages
# when missing (apt-get), starts the server when stopped, waits until it is
# ready, and creates what is missing: for PostgreSQL a trust rule for
# 127.0.0.1 and ::1 in pg_hba.conf, the role root and the databases test and
# root; for MariaDB the user root@127.0.0.1 without a password and the
# database test. It never stops a running server or drops anything.
set -euo pipefail

log() { echo "services-sql.sh: $*" >&2; }

pg_ok() { PGCONNECT_TIMEOUT=3 psql -w -X -q -h 127.0.0.1 -p 5432 -U postgres -d test -Atc 'SELECT 1' >/dev/null 2>&1; }
my_ok() { mariadb --connect-timeout=3 -h 127.0.0.1 -P 3306 -u root -e 'USE test' >/dev/null 2>&1; }

have_pg() { command -v pg_ctlcluster >/dev/null && command -v psql >/dev/null && ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; }
have_my() { command -v mariadb >/dev/null && [ -x /usr/sbin/mariadbd ]; }

need_pg=1 need_my=1
command -v psql >/dev/null && pg_ok && need_pg=0
command -v mariadb >/dev/null && my_ok && need_my=0
if [ $need_pg = 0 ] && [ $need_my = 0 ]; then
	log "PostgreSQL and MariaDB are ready on 127.0.0.1"
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	log "PostgreSQL ready: $((1 - need_pg)), MariaDB ready: $((1 - need_my)); fixing that needs root"
	exit 1
fi

# Install what is missing, in one apt run.
pkgs=()
[ $need_pg = 1 ] && ! have_pg && pkgs+=(postgresql)
[ $need_my = 1 ] && ! have_my && pkgs+=(mariadb-server mariadb-client)
if [ ${#pkgs[@]} -gt 0 ]; then
	log "installing ${pkgs[*]}"
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${pkgs[@]}"
fi

# From /: the postgres user may not enter the working directory (a clone
# under /root), and psql says so on every call.
pg_sql() { (cd / && runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -d "${2:-postgres}" -Atc "$1"); }

setup_pg() {
	local ver
	ver=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n1 || true)
	if [ -z "$ver" ]; then
		ver=$(ls /usr/lib/postgresql | sort -V | tail -n1)
		log "creating PostgreSQL $ver cluster main"
		pg_createcluster "$ver" main
	fi
	if ! pg_isready -q -h 127.0.0.1 -p 5432; then
		log "starting PostgreSQL $ver"
		pg_ctlcluster --skip-systemctl-redirect "$ver" main start || service postgresql start || true
		for _ in $(seq 300); do
			pg_isready -q -h 127.0.0.1 -p 5432 && break
			sleep 0.1
		done
		pg_isready -h 127.0.0.1 -p 5432 || { log "PostgreSQL did not become ready within 30s; see /var/log/postgresql/"; return 1; }
	fi
	if ! PGCONNECT_TIMEOUT=3 psql -w -X -q -h 127.0.0.1 -U postgres -d postgres -c 'SELECT 1' >/dev/null 2>&1; then
		local hba
		hba=$(pg_sql 'SHOW hba_file')
		log "allowing passwordless connections from 127.0.0.1 and ::1 in $hba"
		cp -p "$hba" "$hba.bak-services-sql"
		{
			echo "# added by services-sql.sh for tests: loopback without a password"
			echo "host all all 127.0.0.1/32 trust"
			echo "host all all ::1/128 trust"
			cat "$hba.bak-services-sql"
		} >"$hba"
		pg_sql 'SELECT pg_reload_conf()' >/dev/null
		sleep 0.5
	fi
	if [ -z "$(pg_sql "SELECT 1 FROM pg_roles WHERE rolname = 'root'")" ]; then
		log "creating PostgreSQL role root"
		pg_sql 'CREATE ROLE root LOGIN SUPERUSER' >/dev/null
	fi
	local db
	for db in test root; do
		if [ -z "$(pg_sql "SELECT 1 FROM pg_database WHERE datname = '$db'")" ]; then
			log "creating PostgreSQL database $db"
			(cd / && runuser -u postgres -- createdb "$db")
		fi
	done
	pg_ok || { log "PostgreSQL still refuses postgres@127.0.0.1/test"; return 1; }
	log "PostgreSQL is ready on 127.0.0.1:5432"
}

setup_my() {
	if ! mariadb-admin --connect-timeout=2 ping >/dev/null 2>&1; then
		log "starting MariaDB"
		install -d -o mysql -g mysql -m 0755 /run/mysqld
		[ -d /var/log/mysql ] || install -d -o mysql -g adm -m 2750 /var/log/mysql
		# Debian's stock configuration names no user (its systemd unit
		# does), and mariadbd refuses to run as root: say --user=mysql.
		# --background returns before mariadbd can fail, so its errors go
		# to a log file rather than to /dev/null.
		# --pidfile: only our own server counts as running, not a mariadbd
		# of another container that shares the process table.
		start-stop-daemon --start --oknodo --background --pidfile /run/mysqld/mysqld.pid --exec /usr/sbin/mariadbd -- \
			--user=mysql --log-error=/var/log/mysql/error.log ||
			service mariadb start || true
		mariadb-admin --wait=30 --connect-timeout=2 ping >/dev/null 2>&1 ||
			{ log "MariaDB did not answer within 30s; see /var/log/mysql/error.log"; return 1; }
	fi
	# As root through the socket (unix_socket authentication on Debian).
	log "creating MariaDB user root@127.0.0.1 and database test where missing"
	mariadb -u root <<-'SQL'
		CREATE DATABASE IF NOT EXISTS test;
		CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY '';
		GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
		FLUSH PRIVILEGES;
	SQL
	if ! my_ok; then
		# Without skip-name-resolve (Debian's stock configuration) a client
		# on 127.0.0.1 is named localhost and may be matched as
		# root@localhost, which Debian lets in only through the socket:
		# let root@localhost in without a password too, keeping the socket.
		log "letting root@localhost in over TCP without a password"
		mariadb -u root <<-'SQL'
			ALTER USER 'root'@'localhost' IDENTIFIED VIA unix_socket OR mysql_native_password USING PASSWORD('');
			FLUSH PRIVILEGES;
		SQL
	fi
	my_ok || { log "MariaDB still refuses root@127.0.0.1/test"; return 1; }
	log "MariaDB is ready on 127.0.0.1:3306"
}

status=0
if [ $need_pg = 1 ]; then setup_pg || status=1; else log "PostgreSQL is ready on 127.0.0.1:5432"; fi
if [ $need_my = 1 ]; then setup_my || status=1; else log "MariaDB is ready on 127.0.0.1:3306"; fi
exit $status
