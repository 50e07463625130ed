#!/usr/bin/env node
// The chorus command. The sources are TypeScript and there is no build step: tsx's loader compiles them on
// the fly, so `npx chorus` works right after `npm ci` on a fresh clone.
import { register } from 'tsx/esm/api'

register()
await import('../src/cli/main.ts')
