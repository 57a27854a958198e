/** "Did you mean …?": the candidate within two edits of what was typed, if exactly one is closest. */
const distance = (a: string, b: string) => {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0]!
    row[0] = i
    for (let j = 1; j <= b.length; j++) {
      const current = row[j]!
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1))
      previous = current
    }
  }
  return row[b.length]!
}

export const closest = (typed: string, candidates: ReadonlyArray<string>): string | undefined => {
  const scored = candidates
    .map((candidate) => ({ candidate, score: candidate.startsWith(typed) && typed.length >= 3 ? 0 : distance(typed, candidate) }))
    .filter(({ score }) => score <= 2)
    .sort((a, b) => a.score - b.score)
  return scored[0]?.candidate
}
