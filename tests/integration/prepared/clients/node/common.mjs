// Shared by the node drivers: connection settings from the PG* environment, and failures
// collected as "FAIL <reason>" lines with the exit status the test reads.
export const conn = {
  host: process.env.PGHOST,
  port: Number(process.env.PGPORT),
  user: process.env.PGUSER,
  database: process.env.PGDATABASE,
};

export const failures = [];

export function check(cond, what) {
  if (!cond) {
    failures.push(what);
    throw new Error(`check failed: ${what}`);
  }
}

// Runs `fn`, recording any error (with its SQLSTATE) that is not a failed check.
export async function guarded(label, fn) {
  try {
    await fn();
  } catch (e) {
    if (!String(e.message).startsWith('check failed')) failures.push(`${label}: code=${e.code} ${e.message}`);
  }
}

export function finish(name, summary) {
  for (const f of failures.slice(0, 20)) console.log('FAIL', f);
  if (failures.length) {
    console.log(`${name}: ${failures.length} failures`);
    process.exit(1);
  }
  console.log(`OK ${name} ${summary}`);
  process.exit(0);
}
