// pgjdbc with its default prepared-statement behaviour through a transaction pool (issue #8).
//
// Run from source (Java 11+, no build step):
//   java -cp /usr/share/java/postgresql.jar JdbcCases.java
// Connects with the PG* environment variables (PGHOST, PGPORT, PGUSER, PGDATABASE); tables
// prep_jdbc_rows, prep_jdbc_counters and prep_jdbc_batch exist and are empty.
//
// CONNS threads, each with its own Connection, run TXS transactions that re-execute the same
// PreparedStatements far past prepareThreshold, so pgjdbc switches from the unnamed statement to
// named ones (S_1, S_2, ... on every connection: the names collide across clients on the shared
// servers). Connections differ by c % 4:
//   0  defaults (prepareThreshold=5)
//   1  prepareThreshold=1 and no statement cache: named at once, and closing a PreparedStatement
//      sends Close, so the periodic close-and-re-prepare gets a fresh name
//   2  prepareThreshold=-1: named and binary transfer from the first execution
//   3  preferQueryMode=extendedForPrepared: plain Statements use the simple protocol
// Nine rounds in ten run in an explicit transaction (autocommit off: pgjdbc sends BEGIN in the
// same pipeline as the first Parse/Bind), the tenth in autocommit; every twentieth explicit round
// also hits a division by zero and rolls back. Then two executeBatch() inserts. Every value read
// is checked against what the connection computed itself.
// Prints "FAIL <reason>" lines and exits 1 on any wrong value or SQLException; "OK jdbc ..." and 0
// otherwise.
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.ConcurrentLinkedQueue;

import org.postgresql.PGStatement;

public class JdbcCases {
    static final int CONNS = Integer.parseInt(env("CONNS", "20"));
    static final int TXS = Integer.parseInt(env("TXS", "100"));
    static final int BATCH = 50;
    static final ConcurrentLinkedQueue<String> failures = new ConcurrentLinkedQueue<>();

    static String env(String name, String fallback) {
        String v = System.getenv(name);
        return v == null || v.isEmpty() ? fallback : v;
    }

    static Connection connect(int variant) throws SQLException {
        String url = "jdbc:postgresql://" + env("PGHOST", "localhost") + ":" + env("PGPORT", "5432") + "/"
                + env("PGDATABASE", "postgres");
        Properties p = new Properties();
        p.setProperty("user", env("PGUSER", "postgres"));
        p.setProperty("sslmode", "disable");
        p.setProperty("connectTimeout", "30");
        p.setProperty("ApplicationName", "jdbc-cases-" + variant);
        switch (variant) {
            case 1:
                p.setProperty("prepareThreshold", "1");
                p.setProperty("preparedStatementCacheQueries", "0");
                break;
            case 2:
                p.setProperty("prepareThreshold", "-1");
                break;
            case 3:
                p.setProperty("preferQueryMode", "extendedForPrepared");
                break;
            default:
                break;
        }
        return DriverManager.getConnection(url, p);
    }

    // Thrown by check(): the failure is already recorded; the worker stops at the first one.
    static final class Mismatch extends RuntimeException {
        Mismatch() { super(null, null, false, false); }
    }

    static void check(boolean ok, String what) {
        if (!ok) {
            failures.add(what);
            throw new Mismatch();
        }
    }

    static long one(PreparedStatement ps) throws SQLException {
        try (ResultSet rs = ps.executeQuery()) {
            check(rs.next(), "no row from " + ps);
            long v = rs.getLong(1);
            check(!rs.next(), "more than one row from " + ps);
            return v;
        }
    }

    static String oneText(PreparedStatement ps) throws SQLException {
        try (ResultSet rs = ps.executeQuery()) {
            check(rs.next(), "no row from " + ps);
            return rs.getString(1);
        }
    }

    static final String SUM = "SELECT ?::int + ?::int";

    static void worker(int c) {
        int variant = c % 4;
        String who = "c" + c + " (variant " + variant + ")";
        int i = -1;
        try (Connection conn = connect(variant)) {
            try (PreparedStatement ins =
                    conn.prepareStatement("INSERT INTO prep_jdbc_counters (owner, total) VALUES (?, 0)")) {
                ins.setInt(1, c);
                check(ins.executeUpdate() == 1, who + ": counter row");
            }
            PreparedStatement sum = conn.prepareStatement(SUM);
            PreparedStatement upper = conn.prepareStatement("SELECT upper(?::text)");
            PreparedStatement insert =
                    conn.prepareStatement("INSERT INTO prep_jdbc_rows (owner, n, note) VALUES (?, ?, ?)");
            PreparedStatement count = conn.prepareStatement("SELECT count(*) FROM prep_jdbc_rows WHERE owner = ?");
            PreparedStatement last =
                    conn.prepareStatement("SELECT n FROM prep_jdbc_rows WHERE owner = ? ORDER BY n DESC LIMIT 3");
            PreparedStatement bump = conn.prepareStatement(
                    "UPDATE prep_jdbc_counters SET total = total + ? WHERE owner = ? RETURNING total");
            PreparedStatement total = conn.prepareStatement("SELECT sum(n) FROM prep_jdbc_rows WHERE owner = ?");
            PreparedStatement divide = conn.prepareStatement("SELECT 100 / ?::int");
            Statement plain = conn.createStatement();
            long expectedTotal = 0;
            int closes = 0;
            for (i = 0; i < TXS; i++) {
                boolean explicit = i % 10 != 9;
                conn.setAutoCommit(!explicit);
                String at = who + " i" + i + ": ";

                sum.setInt(1, i);
                sum.setInt(2, c);
                check(one(sum) == i + c, at + "sum");
                upper.setString(1, "c" + c + "-" + i);
                check(oneText(upper).equals("C" + c + "-" + i), at + "upper");
                insert.setInt(1, c);
                insert.setInt(2, i);
                insert.setString(3, "n" + i);
                check(insert.executeUpdate() == 1, at + "insert count");
                count.setInt(1, c);
                check(one(count) == i + 1, at + "count");
                last.setInt(1, c);
                List<Integer> got = new ArrayList<>();
                try (ResultSet rs = last.executeQuery()) {
                    while (rs.next()) got.add(rs.getInt(1));
                }
                List<Integer> want = new ArrayList<>();
                for (int n = i; n > i - 3 && n >= 0; n--) want.add(n);
                check(got.equals(want), at + "last rows " + got + " != " + want);
                expectedTotal += i;
                bump.setInt(1, i);
                bump.setInt(2, c);
                long counter = one(bump);
                check(counter == expectedTotal, at + "counter " + counter + " != " + expectedTotal);
                total.setInt(1, c);
                check(one(total) == expectedTotal, at + "sum(n)");
                try (ResultSet rs = plain.executeQuery("SELECT " + i + " * 3")) {
                    check(rs.next() && rs.getInt(1) == i * 3, at + "plain statement");
                }
                if (explicit) conn.commit();

                // An error inside a transaction: the named statements must survive the rollback.
                if (explicit && i % 20 == 4) {
                    divide.setInt(1, 0);
                    try {
                        one(divide);
                        check(false, at + "100 / 0 succeeded");
                    } catch (SQLException e) {
                        check("22012".equals(e.getSQLState()),
                                at + "100 / 0 gave " + e.getSQLState() + ": " + e.getMessage());
                    }
                    conn.rollback();
                    divide.setInt(1, 4);
                    check(one(divide) == 25, at + "100 / 4 after rollback");
                    conn.commit();
                }
                // Close and re-prepare: a Close of the old name (variant 1), a new name after the
                // threshold again (the others reuse pgjdbc's statement cache).
                if (i % 25 == 24) {
                    sum.close();
                    sum = conn.prepareStatement(SUM);
                    closes++;
                }
                // pgjdbc prepares a named statement after prepareThreshold executions: make sure
                // this run really uses them (not the unnamed statement throughout).
                if (i == 10) {
                    check(count.unwrap(PGStatement.class).isUseServerPrepare(),
                            at + "count is not server-prepared");
                }
            }
            conn.setAutoCommit(true);
            // Two batches of the same insert: the second reuses the statement the first prepared.
            try (PreparedStatement batch =
                    conn.prepareStatement("INSERT INTO prep_jdbc_batch (owner, k, v) VALUES (?, ?, ?)")) {
                for (int b = 0; b < 2; b++) {
                    for (int k = 0; k < BATCH; k++) {
                        batch.setInt(1, c);
                        batch.setInt(2, b * BATCH + k);
                        batch.setInt(3, k * k);
                        batch.addBatch();
                    }
                    int[] counts = batch.executeBatch();
                    check(counts.length == BATCH, who + ": batch " + b + " returned " + counts.length + " counts");
                    for (int n : counts)
                        check(n == 1 || n == Statement.SUCCESS_NO_INFO, who + ": batch " + b + " count " + n);
                }
            }
            long squares = 0;
            for (int k = 0; k < BATCH; k++) squares += (long) k * k;
            try (PreparedStatement q =
                    conn.prepareStatement("SELECT count(*), sum(v) FROM prep_jdbc_batch WHERE owner = ?")) {
                q.setInt(1, c);
                try (ResultSet rs = q.executeQuery()) {
                    check(rs.next(), who + ": batch totals");
                    check(rs.getLong(1) == 2L * BATCH && rs.getLong(2) == 2 * squares,
                            who + ": batch totals " + rs.getLong(1) + " rows, sum " + rs.getLong(2));
                }
            }
            check(closes == TXS / 25, who + ": re-prepared " + closes + " times");
        } catch (Mismatch e) {
            // recorded by check()
        } catch (SQLException e) {
            failures.add(who + " i" + i + ": SQLException sqlstate=" + e.getSQLState() + ": " + e.getMessage());
        } catch (RuntimeException e) {
            failures.add(who + " i" + i + ": " + e);
        }
    }

    public static void main(String[] args) throws Exception {
        List<Thread> threads = new ArrayList<>();
        for (int c = 0; c < CONNS; c++) {
            final int owner = c;
            Thread t = new Thread(() -> worker(owner), "conn-" + c);
            t.start();
            threads.add(t);
        }
        for (Thread t : threads) t.join();
        if (failures.isEmpty()) checkTotals();
        if (!failures.isEmpty()) {
            for (String f : failures) System.out.println("FAIL " + f);
            System.out.flush();
            System.exit(1);
        }
        System.out.println("OK jdbc conns=" + CONNS + " txs=" + TXS + " transactions=" + (CONNS * TXS));
    }

    // The counters must add up across all connections, not only as each one saw them.
    static void checkTotals() throws SQLException {
        long perOwner = (long) TXS * (TXS - 1) / 2;
        try (Connection conn = connect(0); Statement s = conn.createStatement()) {
            try (ResultSet rs = s.executeQuery(
                    "SELECT count(*), count(DISTINCT owner), coalesce(sum(n), 0) FROM prep_jdbc_rows")) {
                rs.next();
                check(rs.getLong(1) == (long) CONNS * TXS && rs.getLong(2) == CONNS
                                && rs.getLong(3) == CONNS * perOwner,
                        "rows: " + rs.getLong(1) + " rows, " + rs.getLong(2) + " owners, sum " + rs.getLong(3));
            }
            try (ResultSet rs = s.executeQuery("SELECT count(*), coalesce(sum(total), 0), "
                    + "count(*) FILTER (WHERE total <> " + perOwner + ") FROM prep_jdbc_counters")) {
                rs.next();
                check(rs.getLong(1) == CONNS && rs.getLong(2) == CONNS * perOwner && rs.getLong(3) == 0,
                        "counters: " + rs.getLong(1) + " rows, total " + rs.getLong(2) + ", "
                                + rs.getLong(3) + " wrong");
            }
            try (ResultSet rs = s.executeQuery("SELECT count(*) FROM prep_jdbc_batch")) {
                rs.next();
                check(rs.getLong(1) == 2L * BATCH * CONNS, "batch rows: " + rs.getLong(1));
            }
        } catch (Mismatch e) {
            // recorded by check()
        }
    }
}
