import { describe, expect, it } from 'vitest'
import { presets, resolveQuorum, validateConfig } from '../../../src/core/node/node-config.ts'
import { buildConfig, configFlags, kebabCase } from '../../../src/runtime/config-flags.ts'

describe('node config', () => {
  it('the lan preset carries the defaults of DESIGN.md section 8', () => {
    const lan = presets.lan
    expect([lan.n, lan.r, lan.w, lan.partitions]).toEqual([3, 'quorum', 'quorum', 256])
    expect([lan.probeIntervalMs, lan.probeTimeoutMs, lan.indirectProbes, lan.phiThreshold]).toEqual([1000, 500, 3, 8])
    expect([lan.pushPullIntervalMs, lan.antiEntropyIntervalMs]).toEqual([30_000, 60_000])
    expect([lan.maxValueBytes, lan.maxKeyBytes]).toEqual([4 * 1024 * 1024, 1024])
  })

  it('every preset is valid', () => {
    for (const [name, config] of Object.entries(presets)) expect([name, validateConfig(config)]).toEqual([name, []])
  })

  it('quorum settings resolve against N', () => {
    expect([1, 2, 3, 4, 5].map((n) => resolveQuorum('quorum', n))).toEqual([1, 2, 2, 3, 3])
    expect(resolveQuorum('one', 3)).toBe(1)
    expect(resolveQuorum('all', 5)).toBe(5)
    expect(resolveQuorum(2, 3)).toBe(2)
    expect(() => resolveQuorum(4, 3)).toThrow()
  })

  it('flags are kebab case with the unit last, as the CLI contract says', () => {
    const flags = configFlags.map((f) => f.flag)
    for (const flag of ['partitions', 'n', 'probe-interval-ms', 'push-pull-interval-ms', 'anti-entropy-interval-ms', 'max-value-bytes']) {
      expect(flags).toContain(flag)
    }
    expect(kebabCase('phiMinStdDevMs')).toBe('phi-min-std-dev-ms')
  })

  it('buildConfig applies flags over a preset and refuses invalid combinations with every problem listed', () => {
    expect(buildConfig('lan', { n: '5', w: 'all', 'probe-interval-ms': 2000 })).toMatchObject({ n: 5, w: 'all', probeIntervalMs: 2000 })
    expect(() => buildConfig('lan', { n: 'three' })).toThrow(/--n/)
    expect(() => buildConfig('lan', { 'probe-timeout-ms': 5000, w: 9 })).toThrow(/probeTimeoutMs[\s\S]*w must/)
  })
})
