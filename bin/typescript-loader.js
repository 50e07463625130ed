// Module hooks that run Chorus's TypeScript sources: each .ts file is compiled by esbuild (types stripped, nothing
// bundled) when Node loads it. Used instead of tsx's loader for the node processes because tsx compiles with
// esbuild's keepNames, which wraps every function and closure expression in a `__name(fn, 'name')` call, an
// Object.defineProperty per closure created: 3.6% of a node's event loop under the cluster bench, on the
// request path, for names that transform-only compilation keeps anyway (keepNames matters only when minifying).
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { transform } from 'esbuild'

// The compiler options esbuild reads (the rest only matter to tsc's checking); as in tsconfig.json.
const tsconfigRaw = { compilerOptions: { target: 'ES2022', verbatimModuleSyntax: true, useDefineForClassFields: true } }

export async function load(url, context, nextLoad) {
  if (!url.startsWith('file:') || !url.endsWith('.ts')) return nextLoad(url, context)
  const path = fileURLToPath(url)
  const { code } = await transform(await readFile(path, 'utf8'), {
    loader: 'ts',
    format: 'esm',
    target: 'node20',
    sourcemap: 'inline',
    sourcefile: path,
    tsconfigRaw,
  })
  return { format: 'module', source: code, shortCircuit: true }
}
