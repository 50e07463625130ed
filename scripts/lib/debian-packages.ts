/**
 * Installs the Debian packages a script needs when their commands are missing: `apt-get update` at most once
 * per process, then `apt-get install -y`. Only as root; otherwise it says what to install and throws.
 */
import { execFileSync } from 'node:child_process'

let updated = false

/** True when `command` is on PATH. */
export function hasCommand(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

/** Ensures each command exists, installing its package (command → package) if not. */
export function ensureCommands(packages: Readonly<Record<string, string>>): void {
  const missing = Object.entries(packages).filter(([command]) => !hasCommand(command)).map(([, pkg]) => pkg)
  if (missing.length === 0) return
  if (process.getuid?.() !== 0) throw new Error(`missing commands; install the Debian packages: ${missing.join(' ')}`)
  process.stderr.write(`installing ${missing.join(' ')} with apt-get…\n`)
  if (!updated) execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit' })
  updated = true
  execFileSync('apt-get', ['install', '-y', '-qq', ...missing], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } })
}
