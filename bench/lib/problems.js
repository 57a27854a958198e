/** After the figures: a bench whose load met problems says so and exits 1, since its figures are not valid. */
export const reportProblems = (problems, during = "") => {
  if (problems.length === 0) return
  console.error(`\nFAILED: ${problems.length} problem(s)${during}; the figures above are not valid:`)
  for (const problem of problems) console.error(`  - ${problem}`)
  process.exitCode = 1
}
