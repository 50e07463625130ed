#!/usr/bin/env node
// The chorus command. The sources are TypeScript and there is no build step: register-typescript.js compiles
// them as they load, so `npx chorus` works right after `npm ci` on a fresh clone.
import './register-typescript.js'

await import('../src/cli/main.ts')
