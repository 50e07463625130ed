/**
 * Real processes on loopback (issue 3, DESIGN section 9 invariant 4): five `chorus start` nodes with the test
 * preset converge; a SIGKILLed node is marked dead by every other node; restarted with the same data directory
 * and id, it is alive everywhere again with a higher generation. Every wait polls with a deadline.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ChorusCluster, stateIn } from '../../scripts/lib/process-cluster.ts'
import type { View } from '../../scripts/lib/process-cluster.ts'

const SIZE = 5
/** Five tsx-compiled processes on two shared cores; usually 5-10 s. */
const START_DEADLINE_MS = 40_000
/** The test preset detects a SIGKILLed node in about a second; this bound leaves room for a busy machine. */
const DETECTION_DEADLINE_MS = 15_000

describe('membership with real processes on loopback', () => {
  let cluster: ChorusCluster

  beforeAll(async () => {
    cluster = await ChorusCluster.start({ size: SIZE, preset: 'test', healthDeadlineMs: START_DEADLINE_MS })
  }, START_DEADLINE_MS + 5_000)

  afterAll(async () => {
    await cluster?.close()
  })

  it('converges: every node sees all five alive', async () => {
    const views = await cluster.waitForViews((all) => all.every((view) => aliveCount(view) === SIZE), START_DEADLINE_MS, 'all five alive everywhere')
    expect(views.map(aliveCount)).toEqual(Array(SIZE).fill(SIZE))
  }, START_DEADLINE_MS + 5_000)

  it('marks a SIGKILLed node dead on every other node, and takes it back after a restart', async () => {
    const victim = cluster.node(SIZE - 1)
    const before = stateIn((await cluster.members(0)) ?? null, victim.id)
    expect(before?.state).toBe('alive')

    const killedAtMs = Date.now()
    await cluster.kill(victim.index)
    await cluster.waitForViews((all) => survivors(all, victim.index).every((view) => stateIn(view, victim.id)?.state === 'dead'), DETECTION_DEADLINE_MS, `${victim.id} dead on every survivor`)
    const detectionMs = Date.now() - killedAtMs
    console.log(`SIGKILL of ${victim.id} detected by all ${SIZE - 1} survivors in ${detectionMs} ms (test preset, 100 ms poll)`)
    expect(detectionMs).toBeLessThan(DETECTION_DEADLINE_MS)

    await cluster.restart(victim.index, START_DEADLINE_MS)
    const views = await cluster.waitForViews(
      (all) => all.every((view) => { const row = stateIn(view, victim.id); return row?.state === 'alive' && row.generation > (before?.generation ?? Infinity) }),
      DETECTION_DEADLINE_MS,
      `${victim.id} alive again everywhere with a higher generation`,
    )
    for (const view of views) expect(stateIn(view, victim.id)?.generation).toBeGreaterThan(before?.generation ?? Infinity)
    expect(views.map(aliveCount)).toEqual(Array(SIZE).fill(SIZE))
  }, START_DEADLINE_MS + 2 * DETECTION_DEADLINE_MS + 5_000)
})

function aliveCount(view: View): number {
  return view?.filter((member) => member.state === 'alive').length ?? 0
}

function survivors(views: readonly View[], victim: number): View[] {
  return views.filter((_, index) => index !== victim)
}
