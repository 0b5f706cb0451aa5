#!/usr/bin/env bash
# Runs once, on the first start of the postgres container (empty data volume),
# from /docker-entrypoint-initdb.d.  Creates one database per service, owned by
# $POSTGRES_USER.  Override the list with LIENTHONG_DATABASES="a b c".
set -euo pipefail

databases="${LIENTHONG_DATABASES:-lienthong_ingest lienthong_signing lienthong_routing lienthong_web}"

for db in $databases; do
  echo "init-databases: ensuring database ${db}"
  psql -v ON_ERROR_STOP=1 \
       --username "${POSTGRES_USER}" \
       --dbname "${POSTGRES_DB:-$POSTGRES_USER}" \
       --set=db="${db}" \
       --set=owner="${POSTGRES_USER}" <<'SQL'
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'owner')
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'db')\gexec
SQL
done
