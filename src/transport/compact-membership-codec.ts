/**
 * A compact wire form for the cluster's steady background traffic: the SWIM messages (probes, acks, gossip,
 * push-pull) and the placement digest. Every message is otherwise a MessagePack map, whose field names cost
 * more than their values for these small messages (a ping was 60 bytes, 36 of them names). Here each becomes a
 * positional array led by a small tag, and a member update an array in a fixed field order:
 *
 *   ping        [1, seq, from, target, updates]           update  [state, node, address, generation,
 *   ack         [2, seq, from, updates]                            incarnation, httpAddress, zone,
 *   ping-req    [3, seq, from, target, targetAddress, updates]     partitions, protocolVersion(, accuser)]
 *   nack        [4, seq, from, target, refused, updates]           state: 0 alive, 1 suspect, 2 dead, 3 left;
 *   indirect    [5, seq, from, target, updates]                    accuser only for suspect and dead
 *   gossip      [6, from, updates]
 *   push-pull   [7, from, join, members]  response [8, from, members]
 *   digest      [9, from, leaderGeneration | nil, version | nil, propsDigest]
 *
 * A ping is then 20 bytes and a member in a push-pull about 55 instead of 170. Every other message keeps the
 * map form, and decoding accepts the map form of these kinds too (no message is a top-level array otherwise),
 * so this changes only what is sent. Decoding this form is not a second trust boundary: `expand` only rebuilds
 * the object from the array, checking arity and bounds so nothing large is allocated, and the message schema
 * then checks every field exactly as for a map.
 *
 * Warning: the tags and field orders are wire format. Never renumber or reorder them; add new tags at the end,
 * and bump WIRE_VERSION for any incompatible change.
 */
import type { MemberUpdate, MembershipMessage } from '../core/membership/membership-messages.ts'
import type { Message } from '../core/node/message.ts'
import type { PlacementDigest } from '../core/partitioning/placement-messages.ts'
import { SchemaViolation } from './schema.ts'
import { MAX_MEMBERS_PER_PUSH_PULL, MAX_UPDATES_PER_MESSAGE } from './schemas/membership-schemas.ts'

type CompactKind = MembershipMessage['kind'] | PlacementDigest['kind']

const tags: { readonly [K in CompactKind]: number } = {
  'swim-ping': 1,
  'swim-ack': 2,
  'swim-ping-req': 3,
  'swim-nack': 4,
  'swim-indirect-ack': 5,
  'swim-gossip': 6,
  'swim-push-pull-request': 7,
  'swim-push-pull-response': 8,
  'placement-digest': 9,
}

const stateCodes = { alive: 0, suspect: 1, dead: 2, left: 3 } as const
const statesByCode = ['alive', 'suspect', 'dead', 'left'] as const

/** The compact array for `message`, or null when its kind keeps the map form. */
export function compactMessage(message: Message): unknown[] | null {
  switch (message.kind) {
    case 'swim-ping':
      return [tags[message.kind], message.seq, message.from, message.target, compactUpdates(message.updates)]
    case 'swim-ack':
      return [tags[message.kind], message.seq, message.from, compactUpdates(message.updates)]
    case 'swim-ping-req':
      return [tags[message.kind], message.seq, message.from, message.target, message.targetAddress, compactUpdates(message.updates)]
    case 'swim-nack':
      return [tags[message.kind], message.seq, message.from, message.target, message.refused, compactUpdates(message.updates)]
    case 'swim-indirect-ack':
      return [tags[message.kind], message.seq, message.from, message.target, compactUpdates(message.updates)]
    case 'swim-gossip':
      return [tags[message.kind], message.from, compactUpdates(message.updates)]
    case 'swim-push-pull-request':
      return [tags[message.kind], message.from, message.join, compactUpdates(message.members)]
    case 'swim-push-pull-response':
      return [tags[message.kind], message.from, compactUpdates(message.members)]
    case 'placement-digest':
      return [tags[message.kind], message.from, message.version?.leaderGeneration ?? null, message.version?.version ?? null, message.propsDigest]
    default:
      return null
  }
}

function compactUpdates(updates: readonly MemberUpdate[]): unknown[] {
  return updates.map(compactUpdate)
}

function compactUpdate(update: MemberUpdate): unknown[] {
  const { metadata } = update
  const fields: unknown[] = [
    stateCodes[update.kind], update.node, update.address, update.generation, update.incarnation,
    metadata.httpAddress, metadata.zone, metadata.partitions, metadata.protocolVersion,
  ]
  if (update.kind === 'suspect' || update.kind === 'dead') fields.push(update.accuser)
  return fields
}

/**
 * The map form of a compact array, for the message schema to validate. Throws SchemaViolation when the array
 * is not a compact message (unknown tag, wrong arity, updates that are not arrays); never anything else.
 */
export function expandMessage(value: readonly unknown[]): Record<string, unknown> {
  const tag = value[0]
  switch (tag) {
    case tags['swim-ping']:
      arity(value, 5)
      return { kind: 'swim-ping', seq: value[1], from: value[2], target: value[3], updates: expandUpdates(value[4], MAX_UPDATES_PER_MESSAGE) }
    case tags['swim-ack']:
      arity(value, 4)
      return { kind: 'swim-ack', seq: value[1], from: value[2], updates: expandUpdates(value[3], MAX_UPDATES_PER_MESSAGE) }
    case tags['swim-ping-req']:
      arity(value, 6)
      return { kind: 'swim-ping-req', seq: value[1], from: value[2], target: value[3], targetAddress: value[4], updates: expandUpdates(value[5], MAX_UPDATES_PER_MESSAGE) }
    case tags['swim-nack']:
      arity(value, 6)
      return { kind: 'swim-nack', seq: value[1], from: value[2], target: value[3], refused: value[4], updates: expandUpdates(value[5], MAX_UPDATES_PER_MESSAGE) }
    case tags['swim-indirect-ack']:
      arity(value, 5)
      return { kind: 'swim-indirect-ack', seq: value[1], from: value[2], target: value[3], updates: expandUpdates(value[4], MAX_UPDATES_PER_MESSAGE) }
    case tags['swim-gossip']:
      arity(value, 3)
      return { kind: 'swim-gossip', from: value[1], updates: expandUpdates(value[2], MAX_UPDATES_PER_MESSAGE) }
    case tags['swim-push-pull-request']:
      arity(value, 4)
      return { kind: 'swim-push-pull-request', from: value[1], join: value[2], members: expandUpdates(value[3], MAX_MEMBERS_PER_PUSH_PULL) }
    case tags['swim-push-pull-response']:
      arity(value, 3)
      return { kind: 'swim-push-pull-response', from: value[1], members: expandUpdates(value[2], MAX_MEMBERS_PER_PUSH_PULL) }
    case tags['placement-digest']:
      return expandDigest(value)
    default:
      throw new SchemaViolation('', `unknown compact message tag ${typeof tag === 'number' ? tag : typeof tag}`)
  }
}

function expandDigest(value: readonly unknown[]): Record<string, unknown> {
  arity(value, 5)
  const [, from, leaderGeneration, version, propsDigest] = value
  // Both halves of the version are present or both absent (a node without a table yet).
  if ((leaderGeneration === null) !== (version === null)) throw new SchemaViolation('version', 'half a table version')
  return leaderGeneration === null
    ? { kind: 'placement-digest', from, propsDigest }
    : { kind: 'placement-digest', from, version: { leaderGeneration, version }, propsDigest }
}

function expandUpdates(value: unknown, maxLength: number): unknown {
  // Not an array: hand it on unchanged, and the schema names the problem.
  if (!Array.isArray(value)) return value
  if (value.length > maxLength) throw new SchemaViolation('updates', `array of ${value.length} exceeds ${maxLength}`)
  return value.map((item, index) => expandUpdate(item, index))
}

function expandUpdate(value: unknown, index: number): Record<string, unknown> {
  if (!Array.isArray(value)) throw new SchemaViolation(`updates[${index}]`, 'expected a compact member update')
  const state = typeof value[0] === 'number' ? statesByCode[value[0]] : undefined
  if (state === undefined) throw new SchemaViolation(`updates[${index}]`, 'unknown member state')
  const accused = state === 'suspect' || state === 'dead'
  if (value.length !== (accused ? 10 : 9)) throw new SchemaViolation(`updates[${index}]`, `${value.length} fields for a ${state} update`)
  const [, node, address, generation, incarnation, httpAddress, zone, partitions, protocolVersion, accuser] = value as unknown[]
  const update: Record<string, unknown> = {
    kind: state, node, address, generation, incarnation,
    metadata: { httpAddress, zone, partitions, protocolVersion },
  }
  if (accused) update['accuser'] = accuser
  return update
}

function arity(value: readonly unknown[], expected: number): void {
  if (value.length !== expected) throw new SchemaViolation('', `compact message of ${value.length} fields, expected ${expected}`)
}
