// Human output on stderr (steps, timings, spinner); data and --json events on stdout.
import pc from 'picocolors'
import { type Cmd, render } from './command.ts'

export interface UiOptions {
  json?: boolean
  verbose?: boolean
  color?: boolean
  interactive?: boolean
  err?: NodeJS.WritableStream & { isTTY?: boolean }
  out?: NodeJS.WritableStream
}

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏']

export const fmtMs = (ms: number) => (ms < 1000 ? `${Math.round(ms)}ms` : `${(ms / 1000).toFixed(1)}s`)

/**
 * Text from outside (container logs, a daemon's error) made safe for a terminal: escape
 * sequences and other control characters could move the cursor, retitle the window or
 * hide lines. Newlines and tabs stay.
 */
export function sanitize(text: string): string {
  return text
    .replace(/\x1b\[[0-?]*[ -/]*[@-~]/g, '') // CSI: colors, cursor moves
    .replace(/\x1b\][^\x07\x1b]*(\x07|\x1b\\)?/g, '') // OSC: titles, hyperlinks
    .replace(/\x1b[@-_]/g, '')
    .replace(/[\x00-\x08\x0b-\x1f\x7f\x9b]/g, '')
}

/**
 * A terminal that went away (an SSH session that dropped) must not crash an operation
 * halfway: its writes fail with EIO or EPIPE from then on, and are dropped.
 */
function guard(stream: NodeJS.WritableStream): NodeJS.WritableStream {
  const s = stream as NodeJS.WritableStream & { __calmswapGuard?: boolean; on?: (ev: string, f: (e: Error) => void) => void }
  if (!s.__calmswapGuard && typeof s.on === 'function') {
    s.on('error', () => {})
    s.__calmswapGuard = true
  }
  return stream
}

export interface Timing {
  readonly step: string
  readonly ms: number
  readonly ok: boolean
}

export class Ui {
  readonly json: boolean
  readonly verbose: boolean
  readonly interactive: boolean
  readonly c: ReturnType<typeof pc.createColors>
  private readonly err: NodeJS.WritableStream
  private readonly out: NodeJS.WritableStream
  private spinners = 0

  constructor(o: UiOptions = {}) {
    this.err = guard(o.err ?? process.stderr)
    this.out = guard(o.out ?? process.stdout)
    const tty = Boolean((this.err as { isTTY?: boolean }).isTTY)
    this.json = o.json ?? false
    this.verbose = o.verbose ?? false
    this.c = pc.createColors(o.color ?? (!('NO_COLOR' in process.env) && (tty || 'FORCE_COLOR' in process.env)))
    this.interactive = o.interactive ?? (tty && !process.env.CI && !this.json)
  }

  private write(stream: NodeJS.WritableStream, text: string) {
    try {
      stream.write(text)
    } catch {}
  }

  /** One JSON object per line on stdout, for machines. */
  event(type: string, data: Record<string, unknown> = {}) {
    if (this.json) this.write(this.out, `${JSON.stringify({ type, at: new Date().toISOString(), ...data })}\n`)
  }

  /** Data, for pipes: always stdout. */
  data(text: string) {
    this.write(this.out, text.endsWith('\n') ? text : `${text}\n`)
  }

  private line(text: string) {
    // A line written while a spinner runs (a step beside a wait) replaces the spinner's line.
    this.write(this.err, `${this.spinners ? '\r\x1b[2K' : ''}${text}\n`)
  }

  info(msg: string) {
    this.line(msg)
    this.event('info', { message: msg })
  }
  detail(msg: string) {
    this.line(this.c.dim(msg))
  }
  warn(msg: string) {
    this.line(this.c.yellow(`! ${msg}`))
    this.event('warn', { message: msg })
  }
  error(msg: string) {
    this.line(this.c.red(`✗ ${msg}`))
    this.event('error', { message: msg })
  }
  ok(msg: string) {
    this.line(this.c.green(`✓ ${msg}`))
  }

  /** A line a command printed for the operator (a release job's log), made safe for a terminal. */
  output(source: string, line: string) {
    const clean = sanitize(line)
    this.line(this.c.dim(`  ${source} │ ${clean}`))
    this.event('output', { source, line: clean })
  }

  command(cmd: Cmd, planned: boolean, via: 'cli' | 'api') {
    if (this.verbose && !planned) this.line(this.c.dim(`  ${via === 'api' ? '(api)' : '$'} ${render(cmd)}`))
    this.event('command', { argv: cmd.argv, env: cmd.env ?? {}, planned, via })
  }

  /** Prints one named step: a header, then its time, or its failure. */
  async step<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const t0 = performance.now()
    this.line(`${this.c.cyan('▸')} ${this.c.bold(name)}`)
    this.event('step-start', { step: name })
    try {
      const r = await fn()
      const ms = performance.now() - t0
      this.line(`${this.c.green('✓')} ${name} ${this.c.dim(fmtMs(ms))}`)
      this.event('step-end', { step: name, ms: Math.round(ms), ok: true })
      return r
    } catch (e) {
      const ms = performance.now() - t0
      this.line(`${this.c.red('✗')} ${name} ${this.c.dim(fmtMs(ms))}`)
      this.event('step-end', { step: name, ms: Math.round(ms), ok: false, error: (e as Error).message })
      throw e
    }
  }

  /** A spinner with elapsed time while waiting, redrawn every `everyMs`; plain lines when not on a TTY or in CI. */
  async wait<T>(label: string, fn: (update: (text: string) => void) => Promise<T>, everyMs = 100): Promise<T> {
    const t0 = performance.now()
    let text = label
    if (!this.interactive) return fn((t) => (text = t))
    let i = 0
    const draw = () => this.write(this.err, `\r\x1b[2K${this.c.cyan(FRAMES[i++ % FRAMES.length]!)} ${text} ${this.c.dim(fmtMs(performance.now() - t0))}`)
    const timer = setInterval(draw, everyMs)
    this.spinners++
    draw()
    try {
      return await fn((t) => (text = t))
    } finally {
      this.spinners--
      clearInterval(timer)
      this.write(this.err, '\r\x1b[2K')
    }
  }

  summary(title: string, timings: readonly Timing[]) {
    if (!timings.length) return
    const total = timings.reduce((a, t) => a + t.ms, 0)
    const width = Math.max(...timings.map((t) => t.step.length))
    this.line(this.c.bold(title))
    for (const t of timings) this.line(`  ${t.ok ? this.c.green('✓') : this.c.red('✗')} ${t.step.padEnd(width)}  ${fmtMs(t.ms).padStart(7)}`)
    this.line(`    ${'total'.padEnd(width)}  ${fmtMs(total).padStart(7)}`)
  }
}
