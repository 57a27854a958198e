/**
 * Every registration run starts from the same rows: a floor deletes the
 * machines an earlier run registered (hostname prefix) — with their audit
 * and event rows left alone, as those are append-only history — and
 * re-analyses the table, since the hostname check's plan depends on its size.
 */
export const resetRegistrations = async (pool, hostnamePrefix) => {
  await pool.query("DELETE FROM machines WHERE hostname LIKE $1", [`${hostnamePrefix}%`])
  await pool.query("VACUUM ANALYZE machines")
}
