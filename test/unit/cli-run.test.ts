// run(), what turns a step into a script: flags, --help, config, the engine's refusal,
// signals, --json and the exit code, each through the injected executor, ui and env.
import { PassThrough } from 'node:stream'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { type Main, run, type ScriptSpec } from '../../lib/cli.ts'
import type { Cmd, Result } from '../../lib/command.ts'
import { ENGINES } from '../../lib/engines.ts'
import { StepError } from '../../lib/errors.ts'
import type { Executor } from '../../lib/executor.ts'
import { Ui } from '../../lib/ui.ts'

const spec: ScriptSpec = { name: 'try', summary: 'a script for the tests', usage: 'try [--json]', options: { flag: { type: 'string' } } }
const env = { CALMSWAP_COMPOSE_FILE: 'package.json', CALMSWAP_STATE_DIR: '/nonexistent/calmswap-cli-test' }

/** A command that runs until its signal is aborted, then answers as an interrupted one. */
class WaitingExecutor implements Executor {
  readonly dryRun = false
  readonly planned = []
  readonly seen: Cmd[] = []
  async run(cmd: Cmd, signal?: AbortSignal): Promise<Result> {
    this.seen.push(cmd)
    if (signal && !signal.aborted) await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }))
    return { code: 124, stdout: '', stderr: 'interrupted' }
  }
  async writeFile(): Promise<void> {}
  async removeFile(): Promise<void> {}
}

function sinks() {
  const out = new PassThrough()
  const err = new PassThrough()
  const text = { out: '', err: '' }
  out.on('data', (b) => (text.out += String(b)))
  err.on('data', (b) => (text.err += String(b)))
  return { ui: new Ui({ out, err, color: false, interactive: false }), text }
}

function capture(stream: NodeJS.WriteStream) {
  const chunks: string[] = []
  const spy = vi.spyOn(stream, 'write').mockImplementation((c: string | Uint8Array) => {
    chunks.push(String(c))
    return true
  })
  return { text: () => chunks.join(''), spy }
}

afterEach(() => {
  vi.restoreAllMocks()
  process.exitCode = 0
})

const go = (main: Main, argv: string[] = [], more: { env?: Record<string, string>; spec?: ScriptSpec } = {}) => {
  const s = sinks()
  const exec = new WaitingExecutor()
  const code = run(more.spec ?? spec, main, { argv, env: { ...env, ...more.env }, executor: exec, ui: s.ui })
  return { code, text: s.text, exec }
}

describe('run: exit codes', () => {
  it('0 when the step returns, and process.exitCode says so', async () => {
    const r = go(async (_ctx, inv) => expect(inv.flags.flag).toBe('x'), ['--flag', 'x'])
    expect(await r.code).toBe(0)
    expect(process.exitCode).toBe(0)
  })
  it('the number a step returns (doctor with a failed check)', async () => {
    expect(await go(async () => 1).code).toBe(1)
  })
  it('1 when the step fails, its message on stderr', async () => {
    const r = go(async () => {
      throw new StepError('the web never answered')
    })
    expect(await r.code).toBe(1)
    expect(process.exitCode).toBe(1)
    expect(r.text.err).toContain('the web never answered')
  })
  it('2 for an unknown flag, naming --help, and the step never runs', async () => {
    const err = capture(process.stderr)
    const main = vi.fn(async () => {})
    expect(await go(main, ['--nope']).code).toBe(2)
    expect(main).not.toHaveBeenCalled()
    expect(err.text()).toMatch(/^try: .*--nope[\s\S]*Try: try --help/)
  })
  it('2 for a bad setting, every problem named, before the step runs', async () => {
    const main = vi.fn(async () => {})
    const r = go(main, [], { env: { CALMSWAP_BLUE_PORT: 'abc', CALMSWAP_PAUSE_MODE: 'sleep' } })
    expect(await r.code).toBe(2)
    expect(main).not.toHaveBeenCalled()
    expect(r.text.err).toContain('CALMSWAP_BLUE_PORT="abc": must be a port number 1-65535')
    expect(r.text.err).toContain('CALMSWAP_PAUSE_MODE="sleep": must be one of stop, pause')
  })
  it('2 for a compose step under CALMSWAP_ENGINE=swarm: the engine refuses it, the step never runs', async () => {
    const main = vi.fn(async () => {})
    const r = go(main, [], { env: { CALMSWAP_ENGINE: 'swarm' }, spec: { ...spec, name: 'up-core' } })
    expect(await r.code).toBe(2)
    expect(main).not.toHaveBeenCalled()
    expect(r.text.err).toContain('up-core is a step of compose mode; with CALMSWAP_ENGINE=swarm')
  })
  it('the engine the setting names is the one a step that differs by engine reaches', async () => {
    const names: string[] = []
    const main: Main = async (ctx) => void names.push(ctx.engine.name)
    expect(await go(main, [], { spec: { ...spec, engines: ENGINES } }).code).toBe(0)
    expect(await go(main, [], { env: { CALMSWAP_ENGINE: 'swarm' }, spec: { ...spec, name: 'status', engines: ENGINES } }).code).toBe(0)
    expect(names).toEqual(['compose', 'swarm'])
  })
  it('a step that needs no engine (history) runs under either; the engine refuses what it does not run (recover)', async () => {
    const main = vi.fn(async () => {})
    expect(await go(main, [], { env: { CALMSWAP_ENGINE: 'swarm' }, spec: { ...spec, name: 'history', anyEngine: true } }).code).toBe(0)
    const r = go(main, [], { env: { CALMSWAP_ENGINE: 'swarm' }, spec: { ...spec, name: 'recover', engines: ENGINES } })
    expect(await r.code).toBe(2)
    expect(main).toHaveBeenCalledTimes(1)
    expect(r.text.err).toContain('recover is a step of compose mode')
  })
})

describe('run: --help', () => {
  it('prints usage, options and every setting on stdout, exit 0, and runs nothing', async () => {
    const out = capture(process.stdout)
    const main = vi.fn(async () => {})
    expect(await go(main, ['--help']).code).toBe(0)
    expect(main).not.toHaveBeenCalled()
    expect(out.text()).toContain('try: a script for the tests\n\nUsage: try [--json]')
    expect(out.text()).toContain('  --flag <value>')
    expect(out.text()).toContain('CALMSWAP_ENGINE')
    expect(out.text()).toContain('Exit codes: 0 ok, 1 a step failed')
  })
})

describe('run: signals', () => {
  it("the first SIGINT aborts the step's signal: the running command ends, the step lands, exit 1", async () => {
    const before = process.listenerCount('SIGINT')
    const r = go(async (ctx) => {
      const res = await ctx.run({ argv: ['sleep', '600'], mutates: false, timeoutMs: 600_000 })
      expect(res.code).toBe(124)
      ctx.checkpoint()
    })
    await vi.waitFor(() => expect(r.exec.seen).toHaveLength(1))
    expect(process.listenerCount('SIGINT')).toBe(before + 1)
    process.emit('SIGINT', 'SIGINT')
    expect(await r.code).toBe(1)
    expect(r.text.err).toContain('SIGINT: finishing the current command, then landing in a safe state')
    expect(r.text.err).toContain('interrupted by SIGINT')
    // The handlers go with the run: a later SIGINT is not this run's.
    expect(process.listenerCount('SIGINT')).toBe(before)
  })
  it('SIGTERM and SIGHUP land the same way', async () => {
    for (const sig of ['SIGTERM', 'SIGHUP'] as const) {
      const r = go(async (ctx) => {
        await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }))
        ctx.checkpoint()
      })
      await vi.waitFor(() => expect(process.listenerCount(sig)).toBeGreaterThan(0))
      process.emit(sig, sig)
      expect(await r.code).toBe(1)
      expect(r.text.err).toContain(`interrupted by ${sig}`)
    }
  })
})

describe('run: --json', () => {
  it('one JSON event per line on stdout: the failure lands as an error event, then an exit event with its code', async () => {
    const out = capture(process.stdout)
    capture(process.stderr)
    const code = await run(
      spec,
      async (ctx) => {
        ctx.ui.event('hello', { n: 1 })
        throw new StepError('no')
      },
      { argv: ['--json'], env, executor: new WaitingExecutor() },
    )
    expect(code).toBe(1)
    const events = out
      .text()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
    expect(events.map((e) => e.type)).toEqual(['hello', 'error', 'exit'])
    expect(events[1]).toMatchObject({ message: 'no' })
    expect(events[2]).toMatchObject({ code: 1, error: 'StepError' })
  })
  it('a data script prints one document, not events', async () => {
    const out = capture(process.stdout)
    capture(process.stderr)
    const code = await run({ ...spec, jsonIsData: true }, async (ctx) => ctx.ui.data(JSON.stringify({ ok: true })), {
      argv: ['--json'],
      env,
      executor: new WaitingExecutor(),
    })
    expect(code).toBe(0)
    expect(JSON.parse(out.text())).toEqual({ ok: true })
  })
})
