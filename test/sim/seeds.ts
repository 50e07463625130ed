/**
 * Seeds for simulation tests. `SEED=N npx vitest run test/sim` replays one seed in every test that honours it;
 * otherwise each test runs its own small fixed list, so the suite is the same on every machine and every run.
 */
export function testSeeds(defaults: readonly number[]): readonly number[] {
  const fromEnvironment = process.env.SEED
  if (fromEnvironment === undefined || fromEnvironment === '') return defaults
  const seed = Number(fromEnvironment)
  if (!Number.isSafeInteger(seed)) throw new Error(`SEED must be an integer, got ${JSON.stringify(fromEnvironment)}`)
  return [seed]
}
