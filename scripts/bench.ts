/**
 * `npm run bench -- NAME [args]` runs scripts/bench/NAME.ts. Each benchmark prints its figures as ratios to a
 * baseline measured in the same run, because this machine is shared and noisy. With no name it lists them.
 * Every file in scripts/bench/ is a benchmark (found by name, nothing to register). One is not a speed figure:
 * `staleness` runs the simulator and prints PBS probabilities, which are exact for a seed and need no baseline.
 */
import { readdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const available = readdirSync(join(here, 'bench'))
  .filter((file) => file.endsWith('.ts'))
  .map((file) => file.slice(0, -3))
  .sort()

const [name, ...args] = process.argv.slice(2)
if (name === undefined || !available.includes(name)) {
  console.log(`usage: npm run bench -- <${available.join('|')}> [args]`)
  process.exit(name === undefined ? 0 : 2)
}
const module = (await import(join(here, 'bench', `${name}.ts`))) as { main(args: string[]): Promise<void> }
await module.main(args)
