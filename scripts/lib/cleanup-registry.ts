/**
 * One place that knows everything a script or test has created outside itself (processes, temp directories,
 * network namespaces, nftables rules) and takes it all down however the run ends: a normal return, a thrown
 * error, Ctrl-C, SIGTERM, or the process exiting with work still registered.
 *
 * Each resource registers a synchronous undo. It must be synchronous because the 'exit' event allows no
 * awaiting; every undo here is a signal, an rmSync or a short execFileSync, so that is no loss. Undos run in
 * reverse order of registration (processes before the namespaces they live in) and each runs at most once.
 */
export type Undo = () => void

interface Entry {
  readonly label: string
  readonly undo: Undo
}

const entries = new Map<number, Entry>()
let nextKey = 1
let installed = false

/** Registers an undo; returns a function that runs it now and forgets it (idempotent). */
export function registerCleanup(label: string, undo: Undo): () => void {
  installHooks()
  const key = nextKey++
  entries.set(key, { label, undo })
  return () => runOne(key)
}

/** Runs every registered undo, newest first. Errors are reported, never thrown: the rest must still run. */
export function cleanupAll(): void {
  for (const key of [...entries.keys()].reverse()) runOne(key)
}

function runOne(key: number): void {
  const entry = entries.get(key)
  if (entry === undefined) return
  entries.delete(key)
  try {
    entry.undo()
  } catch (error) {
    process.stderr.write(`cleanup of ${entry.label} failed: ${error instanceof Error ? error.message : String(error)}\n`)
  }
}

function installHooks(): void {
  if (installed) return
  installed = true
  process.once('exit', cleanupAll)
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    // Only scripts get these hooks: vitest workers exit through 'exit' and their tests close what they open.
    if (process.env['VITEST'] !== undefined) continue
    process.once(signal, () => {
      process.stderr.write(`\n${signal}: cleaning up ${entries.size} resources\n`)
      cleanupAll()
      process.exit(128 + (signal === 'SIGINT' ? 2 : signal === 'SIGTERM' ? 15 : 1))
    })
  }
}
