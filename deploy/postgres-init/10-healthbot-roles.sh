#!/bin/sh
# The two database roles of healthbot (docs/deploy.md, "Database roles"):
#   HEALTHBOT_DB_OWNER (healthbot_owner) owns the database and its schema and runs the migrations
#     (`healthbot db upgrade` with MIGRATION_DATABASE_URL); not a superuser.
#   HEALTHBOT_DB_APP (healthbot_app) is what the bot and the console connect as (DATABASE_URL):
#     SELECT, INSERT, UPDATE, DELETE on the tables and USAGE, SELECT on the sequences, no more.
#     It cannot create, alter, drop or truncate a table. Default privileges give it the same on
#     every table and sequence the owner creates later, so new migrations need no new grants.
#
# The postgres image runs this once, as its superuser, when the data volume is created
# (docker-entrypoint-initdb.d). It is safe to run again, e.g. to set new passwords or on a
# database made before these roles existed:
#   docker compose exec postgres sh /docker-entrypoint-initdb.d/10-healthbot-roles.sh
# tests/db/test_roles.py runs it against a real PostgreSQL.
set -eu

: "${POSTGRES_OWNER_PASSWORD:?the owner role's password}"
: "${POSTGRES_APP_PASSWORD:?the app role's password}"

psql --no-psqlrc -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" \
    --dbname "${POSTGRES_DB:-healthbot}" \
    -v owner="${HEALTHBOT_DB_OWNER:-healthbot_owner}" \
    -v app="${HEALTHBOT_DB_APP:-healthbot_app}" \
    -v owner_password="$POSTGRES_OWNER_PASSWORD" \
    -v app_password="$POSTGRES_APP_PASSWORD" <<'SQL'
SELECT format('CREATE ROLE %I', :'owner')
  WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'owner') \gexec
SELECT format('CREATE ROLE %I', :'app')
  WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'app') \gexec
ALTER ROLE :"owner" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
  PASSWORD :'owner_password';
ALTER ROLE :"app" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
  PASSWORD :'app_password';

SELECT current_database() AS db \gset
ALTER DATABASE :"db" OWNER TO :"owner";
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
GRANT CONNECT ON DATABASE :"db" TO :"app";

ALTER SCHEMA public OWNER TO :"owner";
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO :"app";

-- tables and sequences the owner creates from now on (every later migration)
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public
  GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO :"app";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public
  GRANT USAGE, SELECT ON SEQUENCES TO :"app";
-- and those that already exist (a database made before these roles)
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO :"app";
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO :"app";
SQL
