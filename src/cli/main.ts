/**
 * The chorus command (DESIGN.md section 8). Each subcommand lives in its own module; this file only wires them
 * into yargs. Flags also come from CHORUS_* environment variables (`--probe-interval-ms` ← CHORUS_PROBE_INTERVAL_MS)
 * and from a JSON file given with `--config`.
 */
import yargs from 'yargs'
import { hideBin } from 'yargs/helpers'
import { startCommand } from './start-command.ts'
import { devCommand } from './dev-command.ts'
import { clientCommands } from './client-commands.ts'

await yargs(hideBin(process.argv))
  .scriptName('chorus')
  .usage('$0 <command> [options]\n\nChorus: a leaderless Dynamo-style key-value store.')
  .env('CHORUS')
  .config('config', 'JSON file with flag values (same names as the flags, in kebab or camel case)')
  .command(startCommand)
  .command(devCommand)
  .command(clientCommands)
  .demandCommand(1, 'name a command; see chorus --help')
  .strict()
  .recommendCommands()
  .help()
  .alias('help', 'h')
  .version(false)
  .wrap(Math.min(110, process.stdout.columns ?? 110))
  .fail((message, error, instance) => {
    if (error !== undefined && error !== null) {
      process.stderr.write(`chorus: ${error.message}\n`)
    } else {
      process.stderr.write(`${instance.help()}\n\nchorus: ${message}\n`)
    }
    process.exit(2)
  })
  .parseAsync()
