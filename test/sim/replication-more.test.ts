/** Replication under faults, seeds 101..200 (see replication.test.ts). */
import { describe } from 'vitest'
import { replicationSeedTests } from './replication-seeds.ts'

describe('replication: kv workload under crashes, restarts, loss and partitions (seeds 101..200)', () => {
  replicationSeedTests(101, 200)
})
