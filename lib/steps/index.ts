// Every step calmswap has, by name: `calmswap <name>` picks from here, and scripts/<name>.ts
// runs the same step module. Each step is loaded only when asked for, so `calmswap health`
// reads none of deploy's code.
import { readFileSync } from 'node:fs'
import type { RunDeps, Step } from '../cli.ts'

const load = (m: Promise<{ step: Step }>) => m.then((x) => x.step)

/** In the order `calmswap --help` lists them: the everyday ones first. */
export const STEPS: Readonly<Record<string, () => Promise<Step>>> = {
  init: () => load(import('./init.ts')),
  doctor: () => load(import('./doctor.ts')),
  deploy: () => load(import('./deploy.ts')),
  rollback: () => load(import('./rollback.ts')),
  cleanup: () => load(import('./cleanup.ts')),
  status: () => load(import('./status.ts')),
  history: () => load(import('./history.ts')),
  recover: () => load(import('./recover.ts')),
  adopt: () => load(import('./adopt.ts')),
  health: () => load(import('./health.ts')),
  switch: () => load(import('./switch.ts')),
  'up-core': () => load(import('./up-core.ts')),
  'up-rest': () => load(import('./up-rest.ts')),
  'pause-workers': () => load(import('./pause-workers.ts')),
  proxy: () => load(import('./proxy.ts')),
}

declare const __CALMSWAP_VERSION__: string | undefined

/** The package's version: the build writes it in; from source, package.json says it. */
export function version(): string {
  if (typeof __CALMSWAP_VERSION__ === 'string') return __CALMSWAP_VERSION__
  return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version
}

async function helpText(): Promise<string> {
  const steps = await Promise.all(Object.entries(STEPS).map(async ([name, get]) => `  ${name.padEnd(14)} ${(await get()).spec.summary}`))
  return [
    `calmswap ${version()}: staged blue-green deploys for Docker Compose on small machines`,
    '',
    'Usage: calmswap <command> [options]',
    '',
    'Commands:',
    ...steps,
    '',
    'calmswap <command> --help lists its options, every setting it reads and its exit codes.',
    'calmswap --version prints the version.',
  ].join('\n')
}

/** `calmswap <command> ...`: runs that step with the rest of argv, as its own script would. Sets process.exitCode. */
export async function dispatch(argv: readonly string[], deps: Omit<RunDeps, 'argv'> = {}): Promise<number> {
  const [first, ...rest] = argv
  const done = (code: number) => {
    process.exitCode = code
    return code
  }
  if (first === '--version' || first === '-V') {
    process.stdout.write(`${version()}\n`)
    return done(0)
  }
  if (first === '--help' || first === '-h' || first === 'help') {
    if (first === 'help' && rest[0] && STEPS[rest[0]]) return dispatch([rest[0], '--help'], deps)
    process.stdout.write(`${await helpText()}\n`)
    return done(0)
  }
  if (!first) {
    process.stderr.write(`${await helpText()}\n`)
    return done(2)
  }
  const get = Object.hasOwn(STEPS, first) ? STEPS[first] : undefined
  if (!get) {
    const near = Object.keys(STEPS).find((n) => n.startsWith(first.slice(0, 3)))
    process.stderr.write(`calmswap: unknown command ${JSON.stringify(first)}${near ? `; did you mean ${near}?` : ''}\nTry: calmswap --help\n`)
    return done(2)
  }
  const [{ runStep }, step] = await Promise.all([import('../cli.ts'), get()])
  return runStep(step, { ...deps, argv: rest })
}
