/**
 * `chorus dev` as a user runs it: three real node processes, then `chorus put`, `get` and `members` against them
 * from separate CLI processes, then Ctrl-C (SIGINT) stops the whole cluster cleanly. Ports are moved off the
 * defaults (8001.., 7001..) so a developer's own `npm start` does not collide with the test.
 */
import { execFile, spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const chorusBin = fileURLToPath(new URL('../../bin/chorus.js', import.meta.url))
const httpBase = 18_450
const clusterBase = 17_450
const url = (i: number): string => `http://127.0.0.1:${httpBase + i}`

interface Run {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

function chorus(args: readonly string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [chorusBin, ...args], { timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr })
    })
  })
}

async function until<T>(what: string, deadlineMs: number, attempt: () => Promise<T | null>): Promise<T> {
  const until = Date.now() + deadlineMs
  for (;;) {
    const result = await attempt()
    if (result !== null) return result
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`)
    await new Promise((wake) => setTimeout(wake, 250))
  }
}

describe('chorus dev with the client commands', () => {
  let dataDir = ''
  let dev: ChildProcess | null = null
  let output = ''

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'chorus-dev-test-'))
    dev = spawn(process.execPath, [chorusBin, 'dev', '--nodes', '3', '--data', dataDir,
      '--http-port-base', String(httpBase), '--cluster-port-base', String(clusterBase)], { stdio: ['ignore', 'pipe', 'pipe'] })
    dev.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()))
    dev.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()))
    await until('3/3 nodes healthy', 45_000, async () => (output.includes('3/3 nodes healthy') ? true : null))
  }, 60_000)

  afterAll(async () => {
    if (dev !== null && dev.exitCode === null) {
      dev.kill('SIGKILL')
    }
    rmSync(dataDir, { recursive: true, force: true })
  })

  it('prints every endpoint and a health summary', () => {
    for (let i = 1; i <= 3; i++) expect(output).toContain(`node-${i}: ${url(i)}`)
  })

  it('stores with put on one node and reads it back with get on another', async () => {
    // The first ownership table settles a couple of seconds after start; until then a put answers 503.
    const put = await until('a successful put', 30_000, async () => {
      const run = await chorus(['put', 'colours', 'sky', 'blue', '--url', url(1)])
      return run.code === 0 ? run : null
    })
    expect(put.stdout).toMatch(/stored/)
    const get = await until('the value on node 2', 15_000, async () => {
      const run = await chorus(['get', 'colours', 'sky', '--url', url(2)])
      return run.code === 0 ? run : null
    })
    expect(get.stdout.trim()).toBe('blue')
    const json = await chorus(['get', 'colours', 'sky', '--url', url(3), '--json'])
    expect(json.code).toBe(0)
    expect(JSON.parse(json.stdout)).toMatchObject({ kind: 'value', value: 'blue' })
  }, 60_000)

  it('lists three alive members with one leader', async () => {
    const run = await chorus(['members', '--url', url(3)])
    expect(run.code).toBe(0)
    const [header, ...rows] = run.stdout.trim().split('\n')
    expect(header).toMatch(/^ID\s+ADDRESS\s+HTTP\s+STATE\b.*\bLEADER\b/)
    expect(rows).toHaveLength(3)
    for (const row of rows) expect(row).toMatch(/\balive\b/)
    // The LEADER column says `yes` for exactly one member.
    expect(rows.filter((row) => /\byes\b/.test(row))).toHaveLength(1)
  }, 30_000)

  it('Ctrl-C stops every node and then dev itself, cleanly', async () => {
    const exited = new Promise<number | null>((resolve) => dev?.once('exit', (code) => resolve(code)))
    dev?.kill('SIGINT')
    expect(await exited).toBe(0)
    expect(output).toContain('cluster stopped')
    for (let i = 1; i <= 3; i++) expect(output).toContain(`[node-${i}] exited (0)`)
  }, 30_000)
})
