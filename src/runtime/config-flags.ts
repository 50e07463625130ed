/**
 * Maps NodeConfig fields to `chorus start` flags and back. Every field becomes a kebab-case flag with its unit
 * last (`probeIntervalMs` → `--probe-interval-ms`), so a new config field is a new flag without touching the
 * CLI; yargs reads the same names from `CHORUS_*` environment variables and from `--config FILE`.
 */
import { presets, validateConfig } from '../core/node/node-config.ts'
import type { NodeConfig, PresetName, QuorumSetting } from '../core/node/node-config.ts'

export function kebabCase(name: string): string {
  return name.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`)
}

export type FlagType = 'number' | 'boolean' | 'quorum'

export interface ConfigFlag {
  readonly field: keyof NodeConfig
  readonly flag: string
  readonly type: FlagType
}

export const configFlags: readonly ConfigFlag[] = (Object.keys(presets.lan) as (keyof NodeConfig)[]).map((field) => ({
  field,
  flag: kebabCase(field),
  type: field === 'r' || field === 'w' ? 'quorum' : typeof presets.lan[field] === 'boolean' ? 'boolean' : 'number',
}))

export function parseQuorum(text: string): QuorumSetting | null {
  if (text === 'one' || text === 'quorum' || text === 'all') return text
  return /^[1-9]\d*$/.test(text) ? Number(text) : null
}

/**
 * Builds a NodeConfig from a preset and the flags the user gave. Throws an Error with every problem listed,
 * so `chorus start` can refuse to run with a clear message rather than start half-configured.
 */
export function buildConfig(preset: PresetName, flags: Readonly<Record<string, unknown>>): NodeConfig {
  const config: Record<string, unknown> = { ...presets[preset] }
  const problems: string[] = []
  for (const { field, flag, type } of configFlags) {
    const raw = flags[flag]
    if (raw === undefined) continue
    const value = coerce(type, raw)
    if (value === null) problems.push(`--${flag}: ${JSON.stringify(raw)} is not a valid ${type}`)
    else config[field] = value
  }
  problems.push(...validateConfig(config as unknown as NodeConfig))
  if (problems.length > 0) throw new Error(`invalid configuration:\n  ${problems.join('\n  ')}`)
  return config as unknown as NodeConfig
}

function coerce(type: FlagType, raw: unknown): number | boolean | QuorumSetting | null {
  switch (type) {
    case 'number': {
      const value = typeof raw === 'number' ? raw : Number(raw)
      return Number.isFinite(value) ? value : null
    }
    case 'boolean':
      if (typeof raw === 'boolean') return raw
      return raw === 'true' ? true : raw === 'false' ? false : null
    case 'quorum':
      return parseQuorum(String(raw))
  }
}
