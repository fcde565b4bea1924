// node-postgres named queries ({name, text, values}) through a transaction pool (issue #8):
// CLIENTS clients (more than the pool's servers) each run TXS transactions of named select,
// insert and update, and named queries outside transactions. Table prep_node_pg (owner, n) and
// prep_node_pg_counters exist and are empty. Every value is checked.
import pg from 'pg';
import { check, conn, failures, finish, guarded } from './common.mjs';

const CLIENTS = Number(process.env.CLIENTS ?? 20);
const TXS = Number(process.env.TXS ?? 40);

async function worker(c) {
  const client = new pg.Client(conn);
  await client.connect();
  try {
    await client.query({ name: 'init', text: 'INSERT INTO prep_node_pg_counters (owner, total) VALUES ($1, 0)', values: [c] });
    let total = 0;
    for (let i = 0; i < TXS; i++) {
      await client.query('BEGIN');
      const sum = await client.query({ name: 'sum', text: 'SELECT $1::int + $2::int AS s', values: [i, c] });
      check(sum.rows[0].s === i + c, `c${c} i${i}: sum ${sum.rows[0].s}`);
      await client.query({ name: 'ins', text: 'INSERT INTO prep_node_pg (owner, n) VALUES ($1, $2)', values: [c, i] });
      total += i;
      const upd = await client.query({
        name: 'upd',
        text: 'UPDATE prep_node_pg_counters SET total = total + $2 WHERE owner = $1 RETURNING total',
        values: [c, i],
      });
      check(upd.rows[0].total === total, `c${c} i${i}: counter ${upd.rows[0].total} != ${total}`);
      const cnt = await client.query({ name: 'cnt', text: 'SELECT count(*)::int AS n FROM prep_node_pg WHERE owner = $1', values: [c] });
      check(cnt.rows[0].n === i + 1, `c${c} i${i}: count ${cnt.rows[0].n}`);
      await client.query('COMMIT');
      // Outside a transaction too: each statement may land on another server.
      const out = await client.query({ name: 'sum', text: 'SELECT $1::int + $2::int AS s', values: [c, 1000] });
      check(out.rows[0].s === c + 1000, `c${c} i${i}: sum outside a transaction`);
    }
  } finally {
    await client.end();
  }
}

await Promise.all(Array.from({ length: CLIENTS }, (_, c) => guarded(`client ${c}`, () => worker(c))));
if (!failures.length) {
  await guarded('final check', async () => {
    const client = new pg.Client(conn);
    await client.connect();
    try {
      const rows = await client.query('SELECT count(*)::int AS n FROM prep_node_pg');
      check(rows.rows[0].n === CLIENTS * TXS, `rows ${rows.rows[0].n} != ${CLIENTS * TXS}`);
      const totals = await client.query('SELECT count(*)::int AS n FROM prep_node_pg_counters WHERE total = $1', [
        (TXS * (TXS - 1)) / 2,
      ]);
      check(totals.rows[0].n === CLIENTS, `counters with the right total: ${totals.rows[0].n} of ${CLIENTS}`);
    } finally {
      await client.end();
    }
  });
}
finish('node-postgres', `clients=${CLIENTS} txs=${TXS}`);
