// Drizzle ORM on postgres.js (default settings: prepared statements) through a transaction pool
// (issue #8): TXS concurrent db.transaction() calls of select, insert and update on CONNS
// connections, every value checked. Table prep_drizzle (id serial, owner int, n int) and
// prep_drizzle_counters (owner int primary key, total int) exist and are empty.
import { and, count, eq, sql as dsql, sum } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/postgres-js';
import { integer, pgTable, serial } from 'drizzle-orm/pg-core';
import postgres from 'postgres';
import { check, conn, failures, finish, guarded } from './common.mjs';

const CONNS = Number(process.env.CONNS ?? 20);
const TXS = Number(process.env.TXS ?? 200);
const OWNERS = 10;

const rows = pgTable('prep_drizzle', { id: serial('id').primaryKey(), owner: integer('owner').notNull(), n: integer('n').notNull() });
const counters = pgTable('prep_drizzle_counters', { owner: integer('owner').primaryKey(), total: integer('total').notNull() });

const client = postgres({ ...conn, max: CONNS, onnotice: () => {} });
const db = drizzle(client);
try {
  await guarded('setup', () => db.insert(counters).values(Array.from({ length: OWNERS }, (_, o) => ({ owner: o, total: 0 }))));
  await Promise.all(
    Array.from({ length: TXS }, (_, t) =>
      guarded(`tx ${t}`, () =>
        db.transaction(async (tx) => {
          const owner = t % OWNERS;
          const [c] = await tx.select().from(counters).where(eq(counters.owner, owner));
          check(c && c.owner === owner && c.total >= 0, `tx ${t}: select counter ${JSON.stringify(c)}`);
          const [ins] = await tx.insert(rows).values({ owner, n: t }).returning({ id: rows.id, n: rows.n });
          check(ins.n === t && ins.id > 0, `tx ${t}: insert returned ${JSON.stringify(ins)}`);
          const [upd] = await tx
            .update(counters)
            .set({ total: dsql`${counters.total} + ${t}` })
            .where(eq(counters.owner, owner))
            .returning({ total: counters.total });
          check(upd.total >= t, `tx ${t}: update returned ${JSON.stringify(upd)}`);
          const [mine] = await tx.select({ n: count() }).from(rows).where(and(eq(rows.owner, owner), eq(rows.n, t)));
          check(Number(mine.n) === 1, `tx ${t}: own insert not visible`);
        }),
      ),
    ),
  );
  await guarded('final check', async () => {
    const [all] = await db.select({ n: count(), s: sum(rows.n) }).from(rows);
    check(Number(all.n) === TXS && Number(all.s) === (TXS * (TXS - 1)) / 2, `rows ${JSON.stringify(all)}`);
    const [tot] = await db.select({ s: sum(counters.total) }).from(counters);
    check(Number(tot.s) === (TXS * (TXS - 1)) / 2, `counters sum ${JSON.stringify(tot)}`);
  });
} finally {
  await client.end();
}
finish('drizzle', `conns=${CONNS} txs=${TXS}`);
