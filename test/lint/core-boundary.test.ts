/**
 * The dependency rule is only real if a violation fails the build. This test lints planted violations as if
 * they were files in src/core and checks that each one is reported, and that the same code outside core is not.
 */
import { ESLint } from 'eslint'
import { describe, expect, it } from 'vitest'

const eslint = new ESLint({ cwd: process.cwd() })

async function ruleIdsFor(code: string, filePath: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath })
  return (result?.messages ?? []).map((m) => m.ruleId ?? `fatal: ${m.message}`)
}

const corePath = 'src/core/membership/planted.ts'

const violations: [string, string, string][] = [
  ['Date.now()', 'export const t = Date.now()\n', 'no-restricted-globals'],
  ['new Date()', 'export const t = new Date()\n', 'no-restricted-globals'],
  ['Math.random()', 'export const r = Math.random()\n', 'no-restricted-syntax'],
  ['setTimeout', 'setTimeout(() => {}, 1)\n', 'no-restricted-globals'],
  ['setInterval', 'setInterval(() => {}, 1)\n', 'no-restricted-globals'],
  ['performance.now()', 'export const t = performance.now()\n', 'no-restricted-globals'],
  ['process', 'export const p = process.pid\n', 'no-restricted-globals'],
  ['node:* import', "import { createSocket } from 'node:dgram'\nexport const s = createSocket\n", 'no-restricted-imports'],
  ['npm package import', "import { pack } from 'msgpackr'\nexport const p = pack\n", 'no-restricted-imports'],
  ['import from storage', "import { x } from '../../storage/level-store.ts'\nexport const y = x\n", 'no-restricted-imports'],
  ['import from runtime', "import { x } from '../../runtime/node-runtime.ts'\nexport const y = x\n", 'no-restricted-imports'],
  ['dynamic import', "export const m = import('../primitives/random.ts')\n", 'no-restricted-syntax'],
]

describe('src/core may not touch the clock, randomness, the process or anything outside core', () => {
  it.each(violations)('%s is reported', async (_name, code, ruleId) => {
    expect(await ruleIdsFor(code, corePath)).toContain(ruleId)
  })

  it('imports within core are allowed', async () => {
    const code = "import { SeededRandom } from '../primitives/random.ts'\nexport const r = new SeededRandom(1)\n"
    expect(await ruleIdsFor(code, corePath)).toEqual([])
  })

  it('the same calls are allowed in the shell', async () => {
    expect(await ruleIdsFor('export const t = Date.now()\n', 'src/runtime/planted.ts')).toEqual([])
  })
})
