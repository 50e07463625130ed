/**
 * Clock skew for one child process with libfaketime (Debian package `faketime`): LD_PRELOAD the library and
 * set FAKETIME to an offset, with FAKETIME_DONT_FAKE_MONOTONIC=1 so that only the calendar clock (Date.now)
 * moves and the monotonic clock (performance.now, timers) stays real, as a skewed NTP daemon would leave it.
 *
 * probeFaketime() installs the package when missing (as root), then checks that a Node child under it really
 * sees the offset wall clock and a real monotonic clock; when anything fails it says why and returns null, and
 * the chaos script falls back to the node's own `--clock-offset-ms`.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { ensureCommands } from './debian-packages.ts'

export interface Faketime {
  /** The environment a child needs to run `offsetS` seconds off the real wall clock. */
  env(offsetS: number): Record<string, string>
}

/** A probe's offset: large enough that a wrong reading cannot pass for scheduling noise. */
const PROBE_OFFSET_S = -300
const PROBE_TOLERANCE_MS = 5_000

export function probeFaketime(): { faketime: Faketime | null; why: string } {
  try {
    ensureCommands({ faketime: 'faketime' })
  } catch (error) {
    return { faketime: null, why: `faketime not installed: ${error instanceof Error ? error.message : String(error)}` }
  }
  const library = findLibrary()
  if (library === null) return { faketime: null, why: 'libfaketime.so.1 not found under /usr/lib' }
  const faketime: Faketime = {
    env: (offsetS) => ({ LD_PRELOAD: library, FAKETIME: `${offsetS >= 0 ? '+' : ''}${offsetS}s`, FAKETIME_DONT_FAKE_MONOTONIC: '1' }),
  }
  try {
    const script = 'const t=performance.now();setTimeout(()=>console.log(JSON.stringify({wall:Date.now(),slept:performance.now()-t})),200)'
    const beforeMs = Date.now()
    const output = execFileSync(process.execPath, ['-e', script], { env: { ...process.env, ...faketime.env(PROBE_OFFSET_S) }, encoding: 'utf8', timeout: 20_000 })
    const { wall, slept } = JSON.parse(output) as { wall: number; slept: number }
    const skewMs = wall - beforeMs
    if (Math.abs(skewMs - PROBE_OFFSET_S * 1_000) > PROBE_TOLERANCE_MS) return { faketime: null, why: `faketime probe saw a skew of ${skewMs} ms, not ${PROBE_OFFSET_S} s` }
    if (slept < 150 || slept > 5_000) return { faketime: null, why: `faketime probe's monotonic clock is off (200 ms timer took ${slept} ms)` }
    return { faketime, why: `faketime (${library}, monotonic clock real)` }
  } catch (error) {
    return { faketime: null, why: `faketime probe failed: ${error instanceof Error ? error.message : String(error)}` }
  }
}

function findLibrary(): string | null {
  for (const root of ['/usr/lib', '/usr/local/lib']) {
    if (!existsSync(root)) continue
    for (const dir of [root, ...readdirSync(root).map((entry) => join(root, entry))]) {
      const candidate = join(dir, 'faketime', 'libfaketime.so.1')
      if (existsSync(candidate)) return candidate
    }
  }
  return null
}
