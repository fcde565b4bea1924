SELECT 1
@@
select version()
@@
SELECT pg_catalog.version()
@@
select current_schema()
@@
SELECT current_database(), current_user
@@
show standard_conforming_strings
@@
SHOW transaction isolation level
@@
SHOW default_transaction_isolation
@@
SHOW search_path
@@
SHOW ALL
@@
BEGIN
@@
BEGIN ISOLATION LEVEL REPEATABLE READ
@@
BEGIN READ ONLY
@@
START TRANSACTION ISOLATION LEVEL SERIALIZABLE, READ WRITE, DEFERRABLE
@@
COMMIT
@@
ROLLBACK
@@
END
@@
ABORT
@@
SAVEPOINT sp1
@@
RELEASE SAVEPOINT sp1
@@
ROLLBACK TO SAVEPOINT sp1
@@
PREPARE TRANSACTION 'tx1'
@@
COMMIT PREPARED 'tx1'
@@
ROLLBACK PREPARED 'tx1'
@@
UPDATE pgbench_accounts SET abalance = abalance + $1 WHERE aid = $2
@@
SELECT abalance FROM pgbench_accounts WHERE aid = $1
@@
UPDATE pgbench_tellers SET tbalance = tbalance + $1 WHERE tid = $2
@@
UPDATE pgbench_branches SET bbalance = bbalance + $1 WHERE bid = $2
@@
INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES ($1, $2, $3, $4, CURRENT_TIMESTAMP)
@@
UPDATE pgbench_accounts SET abalance = abalance + -4381 WHERE aid = 77;
@@
SELECT * FROM users WHERE id = $1
@@
SELECT id, name, email FROM users WHERE email = $1 LIMIT 1
@@
SELECT * FROM orders ORDER BY created_at DESC LIMIT 20 OFFSET 40
@@
SELECT "users".* FROM "users" WHERE "users"."id" = $1 LIMIT $2
@@
INSERT INTO "users" ("name", "created_at") VALUES ($1, $2) RETURNING "id"
@@
UPDATE "users" SET "name" = $1, "updated_at" = $2 WHERE "users"."id" = $3
@@
DELETE FROM "sessions" WHERE "sessions"."expires_at" < $1
@@
SELECT COUNT(*) FROM "posts" WHERE "posts"."author_id" = $1
@@
SELECT "posts".* FROM "posts" INNER JOIN "tags" ON "tags"."post_id" = "posts"."id" WHERE "tags"."name" IN ($1, $2, $3)
@@
SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum
@@
SELECT t.oid, t.typname FROM pg_type t WHERE t.typname IN ('int2', 'int4', 'int8', 'oid', 'float4', 'float8', 'bool')
@@
SELECT typname FROM pg_type WHERE oid = $1
@@
SELECT n.nspname, c.relname FROM pg_catalog.pg_class c LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r','p','v','m','S','f','') AND n.nspname <> 'pg_catalog' AND n.nspname !~ '^pg_toast' AND pg_catalog.pg_table_is_visible(c.oid) ORDER BY 1,2
@@
SELECT c.oid, n.nspname, c.relname FROM pg_catalog.pg_class c LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.relname OPERATOR(pg_catalog.~) '^(accounts)$' COLLATE pg_catalog.default AND pg_catalog.pg_table_is_visible(c.oid) ORDER BY 2, 3
@@
SELECT pg_catalog.pg_get_userbyid(d.datdba) FROM pg_catalog.pg_database d WHERE d.datname = current_database()
@@
select oid, typbasetype from pg_type where typname = 'lo'
@@
SELECT nspname FROM pg_namespace WHERE nspname !~ '^pg_' AND nspname <> 'information_schema'
@@
SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'
@@
SELECT column_name, data_type FROM information_schema.columns WHERE table_name = $1
@@
SELECT EXISTS (SELECT 1 FROM pg_tables WHERE tablename = 'schema_migrations')
@@
SELECT version FROM schema_migrations ORDER BY version
@@
INSERT INTO schema_migrations (version) VALUES ('20240101000000')
@@
CREATE TABLE IF NOT EXISTS schema_migrations (version varchar PRIMARY KEY)
@@
CREATE INDEX CONCURRENTLY idx_users_email ON users (email)
@@
CREATE UNIQUE INDEX ON accounts (lower(email))
@@
ALTER TABLE users ADD COLUMN settings jsonb NOT NULL DEFAULT '{}'
@@
ALTER TABLE users ALTER COLUMN name SET NOT NULL
@@
ALTER TABLE users ALTER COLUMN name SET DEFAULT 'x'
@@
ALTER TABLE accounts SET (fillfactor = 70)
@@
ALTER TABLE events SET UNLOGGED
@@
ALTER SEQUENCE users_id_seq RESTART WITH 1000
@@
ALTER INDEX idx_a SET TABLESPACE fast
@@
DROP TABLE IF EXISTS tmp_import
@@
TRUNCATE TABLE audit_log RESTART IDENTITY
@@
VACUUM ANALYZE users
@@
ANALYZE orders
@@
EXPLAIN SELECT * FROM users WHERE id = 1
@@
EXPLAIN (ANALYZE, BUFFERS) SELECT count(*) FROM orders
@@
COPY users (id, name) FROM STDIN WITH (FORMAT csv)
@@
COPY (SELECT * FROM users) TO STDOUT WITH CSV HEADER
@@
NOTIFY jobs
@@
NOTIFY jobs, 'payload'
@@
SELECT pg_notify('jobs', $1)
@@
SELECT pg_advisory_xact_lock(hashtext($1))
@@
SELECT pg_try_advisory_xact_lock(42)
@@
SELECT pg_advisory_unlock(42)
@@
SELECT pg_advisory_unlock_shared(42)
@@
SELECT * FROM pg_locks WHERE locktype = 'advisory'
@@
SELECT setseed(0.5)
@@
SELECT nextval('users_id_seq')
@@
SELECT currval('users_id_seq')
@@
SELECT setval('users_id_seq', 1000)
@@
SELECT lastval()
@@
SELECT now(), clock_timestamp(), statement_timestamp()
@@
SELECT current_setting('app.tenant', true)
@@
SELECT current_setting('search_path')
@@
SELECT set_config('app.tenant', $1, true)
@@
SELECT set_config('request.jwt.claims', $1, true), set_config('role', 'authenticated', true)
@@
SELECT * FROM jobs WHERE status = 'queued' ORDER BY id FOR UPDATE SKIP LOCKED LIMIT 1
@@
UPDATE jobs SET status = 'running', locked_at = now() WHERE id = (SELECT id FROM jobs WHERE status = 'queued' FOR UPDATE SKIP LOCKED LIMIT 1) RETURNING *
@@
INSERT INTO counters (k, v) VALUES ($1, 1) ON CONFLICT (k) DO UPDATE SET v = counters.v + 1
@@
INSERT INTO items (sku) VALUES ($1) ON CONFLICT DO NOTHING
@@
MERGE INTO stock s USING deliveries d ON s.item = d.item WHEN MATCHED THEN UPDATE SET qty = s.qty + d.qty WHEN NOT MATCHED THEN INSERT VALUES (d.item, d.qty)
@@
WITH moved AS (DELETE FROM queue WHERE id = $1 RETURNING *) INSERT INTO done SELECT * FROM moved
@@
WITH RECURSIVE t(n) AS (VALUES (1) UNION ALL SELECT n+1 FROM t WHERE n < 100) SELECT sum(n) FROM t
@@
SELECT json_build_object('id', id, 'name', name) FROM users
@@
SELECT jsonb_set(settings, '{theme}', '"dark"') FROM users
@@
UPDATE users SET settings = jsonb_set(settings, '{theme}', '"dark"') WHERE id = $1
@@
SELECT array_agg(x ORDER BY x) FROM unnest(ARRAY[3,1,2]) AS x
@@
SELECT string_agg(name, ', ') FROM users GROUP BY team_id HAVING count(*) > 1
@@
SELECT * FROM users WHERE name ILIKE '%set%'
@@
SELECT * FROM assets WHERE dataset_id = $1
@@
SELECT offset_x, reset_count, setting FROM config_rows
@@
SELECT name, setting FROM pg_settings WHERE name = 'max_connections'
@@
SELECT * FROM pg_stat_activity WHERE state = 'idle in transaction'
@@
SELECT pid, query FROM pg_stat_activity WHERE datname = current_database()
@@
SELECT pg_cancel_backend($1)
@@
SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'app'
@@
SELECT pg_size_pretty(pg_database_size(current_database()))
@@
SELECT relname, n_live_tup FROM pg_stat_user_tables ORDER BY n_live_tup DESC
@@
SELECT * FROM generate_series(1, 10) g
@@
SELECT date_trunc('day', created_at), count(*) FROM events GROUP BY 1 ORDER BY 1
@@
SELECT * FROM events WHERE created_at > now() - interval '1 day'
@@
SELECT * FROM t1 FULL OUTER JOIN t2 USING (id)
@@
SELECT * FROM a WHERE EXISTS (SELECT 1 FROM b WHERE b.a_id = a.id)
@@
SELECT * FROM a WHERE id = ANY($1::int[])
@@
SELECT $1::text || $2::text
@@
SELECT 'it''s' AS s, E'tab\there' AS e, $$dollar$$ AS d, $tag$x$tag$ AS t
@@
SELECT 1 /* comment */ + 2 -- trailing
@@
/* leading block comment */ SELECT 3
@@
-- leading line comment
SELECT 4
@@
SELECT 1; SELECT 2; SELECT 3
@@
CREATE VIEW active_users AS SELECT * FROM users WHERE active
@@
CREATE MATERIALIZED VIEW mv AS SELECT 1
@@
REFRESH MATERIALIZED VIEW CONCURRENTLY mv
@@
CREATE SCHEMA IF NOT EXISTS app
@@
CREATE EXTENSION IF NOT EXISTS pgcrypto
@@
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')
@@
CREATE SEQUENCE order_seq
@@
CREATE FUNCTION add(a int, b int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT a + b'
@@
CREATE OR REPLACE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN NEW.updated_at := now(); RETURN NEW; END$$
@@
CREATE FUNCTION secure() RETURNS void LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS 'SELECT 1'
@@
CREATE TRIGGER t BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION touch()
@@
CREATE POLICY tenant ON docs USING (tenant_id = current_setting('app.tenant')::int)
@@
ALTER FUNCTION secure() SET search_path = app
@@
ALTER ROLE app SET statement_timeout = '30s'
@@
ALTER DATABASE app SET timezone = 'UTC'
@@
ALTER ROLE app RESET ALL
@@
GRANT SELECT ON ALL TABLES IN SCHEMA public TO reader
@@
REVOKE INSERT ON users FROM app
@@
COMMENT ON TABLE users IS 'people'
@@
DO $$ BEGIN RAISE NOTICE 'hi'; END $$
@@
CALL refresh_stats()
@@
LOCK TABLE accounts IN SHARE ROW EXCLUSIVE MODE
@@
SET CONSTRAINTS ALL DEFERRED
@@
SELECT * FROM users TABLESAMPLE SYSTEM (1)
@@
VALUES (1, 'a'), (2, 'b')
@@
TABLE users
@@
FETCH 10 FROM c
@@
MOVE NEXT IN c
@@
DECLARE c CURSOR FOR SELECT * FROM big
@@
DECLARE c2 SCROLL CURSOR WITHOUT HOLD FOR SELECT 1
@@
EXECUTE q(1, 2)
@@
SET extra_float_digits = 3
@@
SET application_name = 'PostgreSQL JDBC Driver'
@@
SET client_min_messages TO 'warning'
@@
SET standard_conforming_strings = on
@@
SET intervalstyle = iso_8601
@@
SET SESSION timezone TO 'UTC'
@@
SET TIME ZONE 'UTC'
@@
SET DateStyle TO 'ISO'
@@
SET search_path TO "$user", public
@@
SET statement_timeout = 0
@@
SET lock_timeout = '2s'
@@
SET idle_in_transaction_session_timeout = '1min'
@@
SET synchronous_commit TO off
@@
SET work_mem = '256MB'
@@
SET enable_seqscan = false
@@
SET ROLE NONE
@@
RESET search_path
@@
RESET ALL
@@
SET LOCAL statement_timeout = '1s'
@@
SET LOCAL search_path = tenant_7
@@
SET LOCAL ROLE admin
@@
SELECT set_config('search_path', 'tenant_7', false)
@@
SELECT set_config('app.user_id', '42', false), set_config('app.tenant', '7', false)
@@
SELECT pg_advisory_lock(hashtext('migrations'))
@@
SELECT pg_try_advisory_lock(7353478283)
@@
SELECT pg_advisory_unlock_all()
@@
LISTEN "events"
@@
UNLISTEN *
@@
CREATE TEMP TABLE import_rows (LIKE users INCLUDING ALL) ON COMMIT DROP
@@
CREATE TEMPORARY TABLE scratch AS SELECT * FROM users WHERE false
@@
CREATE TEMP VIEW tv AS SELECT 1
@@
SELECT * INTO TEMP recent FROM events WHERE created_at > now() - interval '1 hour'
@@
DECLARE export CURSOR WITH HOLD FOR SELECT * FROM events
@@
CLOSE export
@@
CLOSE ALL
@@
PREPARE find_user (int) AS SELECT * FROM users WHERE id = $1
@@
DEALLOCATE find_user
@@
DEALLOCATE ALL
@@
DISCARD ALL
@@
DISCARD PLANS
@@
DISCARD SEQUENCES
@@
DISCARD TEMP
@@
LOAD 'auto_explain'
@@
BEGIN; SET LOCAL app.tenant = '7'; SELECT * FROM docs; COMMIT
@@
SELECT 1; SET search_path = app
@@
SELECT 1;SET search_path = app
@@
update t set a = 1;set b.c = 2
@@
/* x */SET a.b = 1
@@
-- comment
SET a.b = 1
@@
select 1 as "update"; set a.b = 1
@@
SELECT 'x' -- set a.b
@@
SELECT '/*'; SET a.b = 1
@@
SELECT '--'; SET a.b = 1
@@
SELECT "set" FROM t
@@
SELECT x AS reset FROM t
@@
SELECT * FROM "pg_temp".t
@@
CREATE TABLE pg_temp_3.t (a int)
@@
SELECT U&"pg_\0061dvisory_lock"(1)
@@
SELECT U&"\0073et_config"('a.b', '1', false)
@@
select PG_ADVISORY_LOCK(1)
@@
SELECT Set_Config('A.B', '1', FALSE)
@@
LiStEn chan
@@
create TEMP table "T" (a int)
