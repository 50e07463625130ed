// `node --import ./bin/register-typescript.js file.ts`: Node runs the .ts sources through typescript-loader.js,
// and stack traces point into the .ts files (the compiled code carries inline source maps).
import { register } from 'node:module'

register('./typescript-loader.js', import.meta.url)
process.setSourceMapsEnabled(true)
