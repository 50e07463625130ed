import { memoryStoreFactory } from './fixtures/stores.ts'
import { runKvStoreContract } from './kv-store-contract.ts'

runKvStoreContract(memoryStoreFactory)
