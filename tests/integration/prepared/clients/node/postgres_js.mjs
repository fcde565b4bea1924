// postgres.js with default settings (it prepares every statement, BEGIN and COMMIT included)
// through a transaction pool (issue #8). Two cases:
//   basic  CONNS connections (more than the pool's servers), TXS concurrent sql.begin()
//          transactions of select, insert and update; every value checked.
//   churn  ROUNDS rounds, each with a new postgres() instance (new client connections whose
//          statement names collide with the last round's on the shared servers) running CHURN
//          concurrent transactions. No 26000 or 42P05 may ever surface, and every transaction
//          whose sql.begin() resolved must have its row: with postgres.js a 26000 on COMMIT
//          makes the driver retry, and the transaction silently rolls back.
// Tables prep_pgjs (owner, n), prep_pgjs_counters (owner, total), prep_pgjs_churn (id) exist
// and are empty.
import postgres from 'postgres';
import { check, conn, failures, finish, guarded } from './common.mjs';

const CONNS = Number(process.env.CONNS ?? 20);
const TXS = Number(process.env.TXS ?? 200);
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const CHURN = Number(process.env.CHURN ?? 100);

function connect(max) {
  return postgres({ ...conn, max, onnotice: () => {} });  // everything else: postgres.js defaults
}

async function basic() {
  const sql = connect(CONNS);
  try {
    const owners = 10;
    await sql`INSERT INTO prep_pgjs_counters ${sql(Array.from({ length: owners }, (_, o) => ({ owner: o, total: 0 })))}`;
    await Promise.all(
      Array.from({ length: TXS }, (_, t) =>
        guarded(`basic tx ${t}`, () =>
          sql.begin(async (tx) => {
            const owner = t % owners;
            const [s] = await tx`SELECT ${t}::int + ${owner}::int AS s, ${'tx' + t}::text AS label`;
            check(s.s === t + owner && s.label === `tx${t}`, `basic tx ${t}: select ${JSON.stringify(s)}`);
            await tx`INSERT INTO prep_pgjs (owner, n) VALUES (${owner}, ${t})`;
            const [u] = await tx`UPDATE prep_pgjs_counters SET total = total + ${t} WHERE owner = ${owner} RETURNING total`;
            check(u.total >= t, `basic tx ${t}: update returned ${u.total}`);
            const [mine] = await tx`SELECT count(*)::int AS n FROM prep_pgjs WHERE owner = ${owner} AND n = ${t}`;
            check(mine.n === 1, `basic tx ${t}: its own insert not visible`);
          }),
        ),
      ),
    );
    const [rows] = await sql`SELECT count(*)::int AS n, coalesce(sum(n), 0)::int AS s FROM prep_pgjs`;
    check(rows.n === TXS && rows.s === (TXS * (TXS - 1)) / 2, `basic: rows ${JSON.stringify(rows)}`);
    const [tot] = await sql`SELECT sum(total)::int AS s FROM prep_pgjs_counters`;
    check(tot.s === (TXS * (TXS - 1)) / 2, `basic: counters sum ${tot.s}`);
  } finally {
    await sql.end();
  }
}

async function churn() {
  const committed = [];
  let spurious = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const sql = connect(CONNS);
    try {
      await Promise.all(
        Array.from({ length: CHURN }, async (_, k) => {
          const id = round * 100000 + k;
          try {
            await sql.begin(async (tx) => {
              // A few distinct texts, so different connections' statement names mean different queries.
              if (k % 3 === 0) await tx`SELECT ${k}::int AS k`;
              else if (k % 3 === 1) await tx`SELECT ${k}::int AS k, now() AS t`;
              else await tx`SELECT ${String(k)}::text AS k`;
              await tx`INSERT INTO prep_pgjs_churn (id) VALUES (${id})`;
              const [n] = await tx`SELECT count(*)::int AS n FROM prep_pgjs_churn WHERE id = ${id}`;
              check(n.n === 1, `churn ${id}: own insert not visible`);
            });
            committed.push(id);
          } catch (e) {
            if (e.code === '26000' || e.code === '42P05') spurious++;
            if (!String(e.message).startsWith('check failed')) failures.push(`churn ${id}: code=${e.code} ${e.message}`);
          }
        }),
      );
    } finally {
      await sql.end();
    }
  }
  check(spurious === 0, `churn: ${spurious} spurious 26000/42P05 errors`);
  const sql = connect(1);
  try {
    const [n] = await sql`SELECT count(*)::int AS n FROM prep_pgjs_churn WHERE id = ANY(${committed})`;
    check(n.n === committed.length, `churn: ${committed.length} transactions committed, ${n.n} rows present (silent rollbacks)`);
    check(committed.length === ROUNDS * CHURN, `churn: ${committed.length} of ${ROUNDS * CHURN} transactions committed`);
  } finally {
    await sql.end();
  }
}

const which = process.argv[2] ?? 'all';
if (which === 'all' || which === 'basic') await guarded('basic', basic);
if (which === 'all' || which === 'churn') await guarded('churn', churn);
finish('postgres.js', `case=${which} conns=${CONNS} txs=${TXS} rounds=${ROUNDS} churn=${CHURN}`);
