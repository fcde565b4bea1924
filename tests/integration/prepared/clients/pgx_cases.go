// pgx v4 with its default prepared-statement behaviour through a transaction pool (issue #8).
//
// Built offline in GOPATH mode against Debian's golang-github-jackc-pgx-v4-dev (drivers_test.cpp
// does it once into the build tree):
//
//	GO111MODULE=off GOPATH=<dir>:/usr/share/gocode go build -o pgx_cases pgx_cases.go
//
// Connects with the PG* environment variables (PGHOST, PGPORT, PGUSER, PGDATABASE); tables
// prep_pgx_rows, prep_pgx_counters, prep_pgx_batch and prep_pgx_copy exist and are empty.
//
// CONNS goroutines, each with its own pgx.Conn, run TXS transactions that re-execute the same
// queries. Connections differ by c % 4:
//
//	0  defaults: the statement cache prepares every query as a named statement (lrupsc_<n>_<m>)
//	1  statement_cache_capacity=2: the cache evicts constantly and sends SQL DEALLOCATE each time
//	2  statement_cache_mode=describe: unnamed statements, Parse+Bind+Execute in one Sync
//	3  prefer_simple_protocol=true: the control, no prepared statements at all
//
// Every connection also prepares "pgx_sum" itself (the same name on every client: the names
// collide on the shared servers) and runs it by name (but in describe mode: see round()). Nine
// rounds in ten run in an explicit transaction, the tenth without; every twentieth explicit round
// also hits a division by zero and rolls back. Then a pgx.Batch (its statements prepared in a
// separate Sync first), a CopyFrom, and a Deallocate (after which EXECUTE gets 26000).
// Then a pgxpool of CONNS connections runs POOL_TXS transactions on each of CONNS goroutines.
// Every value read is checked against what the goroutine computed itself.
// Prints "FAIL <reason>" lines and exits 1 on any wrong value or error; "OK pgx ..." and 0 otherwise.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgconn"
	"github.com/jackc/pgconn/stmtcache"
	"github.com/jackc/pgx/v4"
	"github.com/jackc/pgx/v4/pgxpool"
)

var (
	conns   = envInt("CONNS", 20)
	txs     = envInt("TXS", 100)
	poolTxs = envInt("POOL_TXS", 50)

	failuresMu sync.Mutex
	failures   []string
)

const batchRows = 50
const copyRows = 200

func envInt(name string, fallback int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return fallback
}

func fail(format string, args ...interface{}) {
	failuresMu.Lock()
	defer failuresMu.Unlock()
	failures = append(failures, fmt.Sprintf(format, args...))
}

// mismatch is what check() panics with; worker() recovers it (the failure is already recorded).
type mismatch struct{}

func check(ok bool, format string, args ...interface{}) {
	if !ok {
		fail(format, args...)
		panic(mismatch{})
	}
}

// must turns an error into a recorded failure that stops the worker.
func must(err error, format string, args ...interface{}) {
	if err != nil {
		check(false, format+": %v", append(args, describeErr(err))...)
	}
}

func describeErr(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return fmt.Sprintf("sqlstate=%s: %s", pgErr.Code, pgErr.Message)
	}
	return err.Error()
}

var variantSettings = [4]string{
	"",
	"statement_cache_capacity=2",
	"statement_cache_mode=describe",
	"prefer_simple_protocol=true",
}

func connect(ctx context.Context, variant int) (*pgx.Conn, error) {
	config, err := pgx.ParseConfig(variantSettings[variant])
	if err != nil {
		return nil, err
	}
	config.RuntimeParams["application_name"] = fmt.Sprintf("pgx-cases-%d", variant)
	return pgx.ConnectConfig(ctx, config)
}

// querier is what a pgx.Conn and a pgx.Tx have in common here.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...interface{}) pgx.Row
	Query(ctx context.Context, sql string, args ...interface{}) (pgx.Rows, error)
	Exec(ctx context.Context, sql string, args ...interface{}) (pgconn.CommandTag, error)
}

func scalar(ctx context.Context, q querier, at, sql string, args ...interface{}) int64 {
	var v int64
	must(q.QueryRow(ctx, sql, args...).Scan(&v), "%s%s", at, sql)
	return v
}

func lastThree(ctx context.Context, q querier, at string, owner int) []int32 {
	rows, err := q.Query(ctx, "SELECT n FROM prep_pgx_rows WHERE owner = $1 ORDER BY n DESC LIMIT 3", owner)
	must(err, "%slast rows", at)
	defer rows.Close()
	got := []int32{}
	for rows.Next() {
		var n int32
		must(rows.Scan(&n), "%slast rows scan", at)
		got = append(got, n)
	}
	must(rows.Err(), "%slast rows", at)
	return got
}

// round runs one transaction's worth of statements on q (a connection or a transaction) and
// returns the counter after the bump. byName: also run the statement prepared as "pgx_sum" (pgx
// v4 in describe mode sends a prepared statement's name as SQL text, so not there).
func round(ctx context.Context, q querier, at string, c, i int, byName bool) int64 {
	check(scalar(ctx, q, at, "SELECT $1::int + $2::int", i, c) == int64(i+c), "%ssum", at)
	if byName {
		check(scalar(ctx, q, at, "pgx_sum", i, 2*c) == int64(i+2*c), "%spgx_sum", at)
	}
	var upper string
	must(q.QueryRow(ctx, "SELECT upper($1::text)", fmt.Sprintf("c%d-%d", c, i)).Scan(&upper), "%supper", at)
	check(upper == fmt.Sprintf("C%d-%d", c, i), "%supper gave %q", at, upper)
	tag, err := q.Exec(ctx, "INSERT INTO prep_pgx_rows (owner, n, note) VALUES ($1, $2, $3)", c, i, fmt.Sprintf("n%d", i))
	must(err, "%sinsert", at)
	check(tag.RowsAffected() == 1, "%sinsert affected %d rows", at, tag.RowsAffected())
	check(scalar(ctx, q, at, "SELECT count(*) FROM prep_pgx_rows WHERE owner = $1", c) == int64(i+1), "%scount", at)
	want := []int32{}
	for n := i; n > i-3 && n >= 0; n-- {
		want = append(want, int32(n))
	}
	got := lastThree(ctx, q, at, c)
	check(reflect.DeepEqual(got, want), "%slast rows %v != %v", at, got, want)
	return scalar(ctx, q, at, "UPDATE prep_pgx_counters SET total = total + $1 WHERE owner = $2 RETURNING total", i, c)
}

func worker(ctx context.Context, c int) {
	variant := c % 4
	who := fmt.Sprintf("c%d (variant %d)", c, variant)
	i := -1
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(mismatch); !ok {
				fail("%s i%d: panic: %v", who, i, r)
			}
		}
	}()
	conn, err := connect(ctx, variant)
	must(err, "%s: connect", who)
	defer conn.Close(ctx)

	_, err = conn.Prepare(ctx, "pgx_sum", "SELECT $1::int + $2::int")
	must(err, "%s: prepare pgx_sum", who)
	_, err = conn.Exec(ctx, "INSERT INTO prep_pgx_counters (owner, total) VALUES ($1, 0)", c)
	must(err, "%s: counter row", who)

	var expected int64
	for i = 0; i < txs; i++ {
		at := fmt.Sprintf("%s i%d: ", who, i)
		expected += int64(i)
		if i%10 == 9 {
			got := round(ctx, conn, at, c, i, variant != 2)
			check(got == expected, "%scounter %d != %d", at, got, expected)
		} else {
			tx, err := conn.Begin(ctx)
			must(err, "%sbegin", at)
			got := round(ctx, tx, at, c, i, variant != 2)
			check(got == expected, "%scounter %d != %d", at, got, expected)
			check(scalar(ctx, tx, at, "SELECT sum(n) FROM prep_pgx_rows WHERE owner = $1", c) == expected, "%ssum(n)", at)
			must(tx.Commit(ctx), "%scommit", at)

			// An error inside a transaction: the prepared statements must survive the rollback.
			if i%20 == 4 {
				tx, err := conn.Begin(ctx)
				must(err, "%sbegin (division)", at)
				var v int64
				err = tx.QueryRow(ctx, "SELECT 100 / $1::int", 0).Scan(&v)
				var pgErr *pgconn.PgError
				check(errors.As(err, &pgErr) && pgErr.Code == "22012", "%s100 / 0 gave %v", at, err)
				must(tx.Rollback(ctx), "%srollback", at)
				check(scalar(ctx, conn, at, "SELECT 100 / $1::int", 4) == 25, "%s100 / 4 after rollback", at)
			}
		}
		// The caches really are what the variant says: named statements in the default one (not
		// the unnamed one throughout), a full cache of 2 that has been evicting.
		if i == 10 && variant <= 1 {
			cache := conn.StatementCache()
			check(cache != nil && cache.Mode() == stmtcache.ModePrepare, "%sno named-statement cache", at)
			check(variant != 0 || cache.Len() >= 5, "%sthe default cache holds %d statements", at, cache.Len())
			check(variant != 1 || (cache.Cap() == 2 && cache.Len() == 2), "%sthe cache of 2 holds %d of %d",
				at, cache.Len(), cache.Cap())
		}
	}

	// A batch: pgx prepares its statements in their own Sync first, then sends the batch.
	at := who + " batch: "
	batch := &pgx.Batch{}
	for k := 0; k < batchRows; k++ {
		batch.Queue("INSERT INTO prep_pgx_batch (owner, k, v) VALUES ($1, $2, $3)", c, k, k*k)
	}
	batch.Queue("SELECT count(*), sum(v) FROM prep_pgx_batch WHERE owner = $1", c)
	results := conn.SendBatch(ctx, batch)
	for k := 0; k < batchRows; k++ {
		tag, err := results.Exec()
		must(err, "%sinsert %d", at, k)
		check(tag.RowsAffected() == 1, "%sinsert %d affected %d rows", at, k, tag.RowsAffected())
	}
	var count, squares int64
	must(results.QueryRow().Scan(&count, &squares), "%stotals", at)
	must(results.Close(), "%sclose", at)
	var wantSquares int64
	for k := 0; k < batchRows; k++ {
		wantSquares += int64(k * k)
	}
	check(count == batchRows && squares == wantSquares, "%s%d rows, sum %d", at, count, squares)

	at = who + " copy: "
	rows := make([][]interface{}, copyRows)
	for k := range rows {
		rows[k] = []interface{}{int32(c), int32(k)}
	}
	copied, err := conn.CopyFrom(ctx, pgx.Identifier{"prep_pgx_copy"}, []string{"owner", "k"}, pgx.CopyFromRows(rows))
	must(err, "%sCopyFrom", at)
	check(copied == copyRows, "%scopied %d rows", at, copied)
	check(scalar(ctx, conn, at, "SELECT count(*) FROM prep_pgx_copy WHERE owner = $1", c) == copyRows, "%scount", at)

	must(conn.Deallocate(ctx, "pgx_sum"), "%s: deallocate pgx_sum", who)
	err = conn.QueryRow(ctx, "EXECUTE pgx_sum(1, 2)").Scan(new(int64))
	var pgErr *pgconn.PgError
	check(errors.As(err, &pgErr) && pgErr.Code == "26000", "%s: EXECUTE after Deallocate gave %v", who, err)
}

// poolWorker runs poolTxs transactions through the shared pgxpool, each on whichever pooled
// connection it gets (so each statement is prepared on many connections).
func poolWorker(ctx context.Context, pool *pgxpool.Pool, g int) {
	i := -1
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(mismatch); !ok {
				fail("pool g%d i%d: panic: %v", g, i, r)
			}
		}
	}()
	owner := 1000 + g
	_, err := pool.Exec(ctx, "INSERT INTO prep_pgx_counters (owner, total) VALUES ($1, 0)", owner)
	must(err, "pool g%d: counter row", g)
	var expected int64
	for i = 0; i < poolTxs; i++ {
		at := fmt.Sprintf("pool g%d i%d: ", g, i)
		expected += int64(i)
		var got, n int64
		err := pool.BeginFunc(ctx, func(tx pgx.Tx) error {
			if err := tx.QueryRow(ctx, "SELECT $1::int * 3", i).Scan(&n); err != nil {
				return err
			}
			return tx.QueryRow(ctx, "UPDATE prep_pgx_counters SET total = total + $1 WHERE owner = $2 RETURNING total",
				i, owner).Scan(&got)
		})
		must(err, "%stransaction", at)
		check(n == int64(3*i), "%s%d * 3 gave %d", at, i, n)
		check(got == expected, "%scounter %d != %d", at, got, expected)
	}
}

func runPool(ctx context.Context) {
	config, err := pgxpool.ParseConfig("")
	if err != nil {
		fail("pool config: %v", err)
		return
	}
	config.MaxConns = int32(conns)
	pool, err := pgxpool.ConnectConfig(ctx, config)
	if err != nil {
		fail("pool connect: %s", describeErr(err))
		return
	}
	defer pool.Close()
	var wg sync.WaitGroup
	for g := 0; g < conns; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			poolWorker(ctx, pool, g)
		}(g)
	}
	wg.Wait()
}

// checkTotals: the counters must add up across all connections, not only as each one saw them.
func checkTotals(ctx context.Context) {
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(mismatch); !ok {
				fail("totals: panic: %v", r)
			}
		}
	}()
	conn, err := connect(ctx, 0)
	must(err, "totals: connect")
	defer conn.Close(ctx)
	perOwner := int64(txs * (txs - 1) / 2)
	var rows, owners, sum int64
	must(conn.QueryRow(ctx, "SELECT count(*), count(DISTINCT owner), coalesce(sum(n), 0) FROM prep_pgx_rows").
		Scan(&rows, &owners, &sum), "totals: rows")
	check(rows == int64(conns*txs) && owners == int64(conns) && sum == int64(conns)*perOwner,
		"rows: %d rows, %d owners, sum %d", rows, owners, sum)
	perPoolOwner := int64(poolTxs * (poolTxs - 1) / 2)
	var counters, wrong int64
	const countersSQL = `SELECT count(*),
	    count(*) FILTER (WHERE total <> CASE WHEN owner >= 1000 THEN $1::bigint ELSE $2::bigint END)
	    FROM prep_pgx_counters`
	must(conn.QueryRow(ctx, countersSQL, perPoolOwner, perOwner).Scan(&counters, &wrong), "totals: counters")
	check(counters == int64(2*conns) && wrong == 0, "counters: %d rows, %d wrong", counters, wrong)
	check(scalar(ctx, conn, "totals: ", "SELECT count(*) FROM prep_pgx_batch") == int64(conns*batchRows), "batch rows")
	check(scalar(ctx, conn, "totals: ", "SELECT count(*) FROM prep_pgx_copy") == int64(conns*copyRows), "copy rows")
}

func main() {
	// Ends before drivers_test.cpp's own deadline (180 s), so a hang shows up as FAIL lines.
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for c := 0; c < conns; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			worker(ctx, c)
		}(c)
	}
	wg.Wait()
	if len(failures) == 0 {
		runPool(ctx)
	}
	if len(failures) == 0 {
		checkTotals(ctx)
	}
	if len(failures) > 0 {
		for _, f := range failures {
			fmt.Println("FAIL " + f)
		}
		os.Exit(1)
	}
	fmt.Printf("OK pgx conns=%d txs=%d pool_txs=%d transactions=%d\n", conns, txs, poolTxs, conns*(txs+poolTxs))
}
