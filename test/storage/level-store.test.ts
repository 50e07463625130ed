import { levelStoreFactory } from './fixtures/stores.ts'
import { runKvStoreContract } from './kv-store-contract.ts'

runKvStoreContract(levelStoreFactory)
