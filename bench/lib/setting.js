/** A positive whole-number setting from the environment (BENCH_DURATION=10, CRASH_ROUNDS=3, …). */
export const setting = (name, fallback) => {
  const value = Number(process.env[name] ?? fallback)
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer`)
  return value
}
