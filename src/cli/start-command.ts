/**
 * `chorus start`: one node in the foreground. Every NodeConfig field is a flag (see runtime/config-flags.ts);
 * SIGTERM and SIGINT shut it down gracefully.
 */
import type { CommandModule } from 'yargs'
import { configFlags } from '../runtime/config-flags.ts'
import { presets } from '../core/node/node-config.ts'
import { logLevels } from '../runtime/logger.ts'
import type { StartNodeOptions } from '../runtime/start-node.ts'

interface StartArgs {
  data: string
  bind: string
  http: string
  seeds?: string
  id?: string
  zone?: string
  preset: keyof typeof presets
  'cluster-secret-file'?: string
  'clock-offset-ms': number
  'log-level': (typeof logLevels)[number]
  [flag: string]: unknown
}

export const startCommand: CommandModule<object, StartArgs> = {
  command: 'start',
  describe: 'run one node in the foreground',
  builder: (yargs) => {
    let built = yargs
      .option('data', { type: 'string', demandOption: true, describe: 'directory for this node’s LevelDB' })
      .option('bind', { type: 'string', demandOption: true, describe: 'HOST:PORT for cluster traffic (UDP gossip and TCP)' })
      .option('http', { type: 'string', demandOption: true, describe: 'HOST:PORT for the HTTP API' })
      .option('seeds', { type: 'string', describe: 'comma-separated HOST:PORT of nodes to join through' })
      .option('id', { type: 'string', describe: 'node id (default: the --bind address)' })
      .option('zone', { type: 'string', describe: 'zone label; replicas are spread across zones' })
      .option('preset', { choices: Object.keys(presets) as (keyof typeof presets)[], default: 'lan' as const, describe: 'defaults to start from' })
      .option('cluster-secret-file', { type: 'string', describe: 'file holding the cluster secret; enables HMAC on all cluster traffic' })
      .option('clock-offset-ms', { type: 'number', default: 0, describe: 'added to this node’s wall clock (chaos tests only)' })
      .option('log-level', { choices: logLevels, default: 'info' as const, describe: 'least severe level logged' })
    for (const { flag, type, field } of configFlags) {
      const fallback = presets.lan[field]
      built = built.option(flag, {
        type: type === 'boolean' ? 'boolean' : type === 'number' ? 'number' : 'string',
        describe: `default ${String(fallback)} (lan preset)`,
        group: 'Tuning (defaults from --preset):',
      })
    }
    return built
      .example('$0 start --data ./data/1 --bind 127.0.0.1:7001 --http 127.0.0.1:8001', 'first node')
      .example('$0 start --data ./data/2 --bind 127.0.0.1:7002 --http 127.0.0.1:8002 --seeds 127.0.0.1:7001', 'second node, joining the first')
      .example('CHORUS_N=5 $0 start ...', 'any flag from the environment') as never
  },
  handler: async (args) => {
    const options: StartNodeOptions = {
      dataDir: args.data,
      bind: args.bind,
      http: args.http,
      seeds: args.seeds === undefined ? [] : args.seeds.split(',').map((s) => s.trim()).filter((s) => s !== ''),
      preset: args.preset,
      flags: args,
      clockOffsetMs: args['clock-offset-ms'],
      logLevel: args['log-level'],
      ...(args.id === undefined ? {} : { id: args.id }),
      ...(args.zone === undefined ? {} : { zone: args.zone }),
      ...(args['cluster-secret-file'] === undefined ? {} : { clusterSecretFile: args['cluster-secret-file'] }),
    }
    // Loaded here, not at the top: LevelDB, the transport and the core are only needed by `start`, and client
    // commands like `chorus get` should not pay for loading them.
    const { startNode } = await import('../runtime/start-node.ts')
    const node = await startNode(options)
    await node.stopped
  },
}
