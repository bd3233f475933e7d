// The proxy's log is written by the internet-facing container, and calmswap often runs as
// root: what that container leaves in the log's place (a link, a FIFO, a folder, a line with
// no end) must never make calmswap write through a link, block, throw in its timer, or grow.
// Real files, links and FIFOs in a temp folder.
import { spawnSync } from 'node:child_process'
import { appendFileSync, chmodSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import { countRequest, emptyTally, isHealthRequest, LogTail, logProblem, MAX_LINE, normalPath, openLog, parseNginxLine, resetLog } from '../../lib/compose/watch.ts'
import type { Ctx } from '../../lib/context.ts'

const root = mkdtempSync(join(tmpdir(), 'calmswap-proxy-log-'))
let n = 0
/** A fresh folder with the log's path in it. */
const fresh = () => {
  const dir = join(root, String(n++))
  mkdirSync(dir)
  return { dir, log: join(dir, 'access.jsonl') }
}
const mkfifo = (path: string) => expect(spawnSync('mkfifo', [path]).status).toBe(0)

/** What resetLog and openLog use of a context. */
const ctxFor = (log: string, warnings: string[] = [], logOwned = true) =>
  ({ config: { watch: { log, logOwned } }, exec: { dryRun: false }, ui: { warn: (m: string) => warnings.push(m) } }) as unknown as Ctx

/**
 * A LogTail made and read in another process, given `ms` to finish: a blocking open would
 * hang this test's own process, and its timers with it.
 */
function inChild(path: string, setup: string, ms = 20_000, as: { uid?: number; gid?: number } = {}) {
  const watch = resolve(import.meta.dirname, '../../lib/compose/watch.ts')
  const code = `import { LogTail } from ${JSON.stringify(watch)}; import * as cp from 'node:child_process'; import * as fs from 'node:fs'; const path = ${JSON.stringify(path)};
    ${setup}
    console.log(JSON.stringify({ found: t.found, problem: t.problem, lines }))`
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { timeout: ms, killSignal: 'SIGKILL', encoding: 'utf8', ...as })
  expect(r.signal, `the child did not finish within ${ms} ms: it blocked`).toBeNull()
  expect(r.stderr).toBe('')
  return JSON.parse(r.stdout) as { found: boolean; problem: string | null; lines: string[] }
}

describe('LogTail: only a regular file is read', () => {
  it('a FIFO in the log place: not opened for reading, no block', () => {
    const { log } = fresh()
    mkfifo(log)
    expect(inChild(log, 'const t = new LogTail(path, true); const lines = t.read()')).toEqual({
      found: false,
      problem: `the proxy log ${log} is a FIFO`,
      lines: [],
    })
  })

  it('a log replaced by a FIFO mid-watch: what was written is read, then nothing, no block', () => {
    const { log } = fresh()
    writeFileSync(log, 'a\n')
    const setup = `const t = new LogTail(path, true); const lines = t.read(); fs.appendFileSync(path, 'b\\n'); fs.renameSync(path, path + '.1');
      if (cp.spawnSync('mkfifo', [path]).status !== 0) throw new Error('mkfifo'); lines.push(...t.read(), ...t.read())`
    expect(inChild(log, setup)).toEqual({
      found: false,
      problem: `the proxy log ${log} is a FIFO`,
      lines: ['a', 'b'],
    })
  })

  it('a link in the log place is not followed, even to a readable file', () => {
    const { dir, log } = fresh()
    const secret = join(dir, 'secret')
    writeFileSync(secret, 'root:x:0:0\n')
    symlinkSync(secret, log)
    const t = new LogTail(log, true)
    expect([t.found, t.problem, t.read()]).toEqual([false, `the proxy log ${log} is a symbolic link`, []])
  })

  it('a log replaced by a folder mid-watch: no throw, told once, then nothing', () => {
    const { log } = fresh()
    writeFileSync(log, 'a\n')
    const t = new LogTail(log, true)
    const lost: string[] = []
    t.onLost = (why) => lost.push(why)
    expect(t.read()).toEqual(['a'])
    appendFileSync(log, 'b\n')
    unlinkSync(log)
    mkdirSync(log)
    let lines: string[] = []
    expect(() => (lines = [...t.read(), ...t.read(), ...t.read()])).not.toThrow()
    // What nginx wrote before the swap is still read from the open file.
    expect(lines).toEqual(['b'])
    expect(lost).toEqual([`the proxy log ${log} is a folder`])
    expect(t.found).toBe(false)
  })

  it('a log replaced by a link mid-watch: the link is not followed', () => {
    const { dir, log } = fresh()
    writeFileSync(log, 'a\n')
    const t = new LogTail(log, true)
    expect(t.read()).toEqual(['a'])
    const other = join(dir, 'other')
    writeFileSync(other, 'not the log\n')
    unlinkSync(log)
    symlinkSync(other, log)
    expect(t.read()).toEqual([])
    expect(t.problem).toBe(`the proxy log ${log} is a symbolic link`)
  })

  it('a log it may not read: nothing, and says why', () => {
    const { dir, log } = fresh()
    writeFileSync(log, 'a\n')
    chmodSync(log, 0o000)
    // root reads any file: then the reader is nobody, in a child.
    const nobody = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {}
    for (const d of [root, dir]) chmodSync(d, 0o755)
    expect(inChild(log, 'const t = new LogTail(path, true); const lines = t.read()', 20_000, nobody)).toEqual({
      found: false,
      problem: `the proxy log ${log} cannot be read (EACCES)`,
      lines: [],
    })
  })

  it('a log that vanishes is read to its end, and a new file at the path is read from its start', () => {
    const { log } = fresh()
    writeFileSync(log, 'a\n')
    const t = new LogTail(log, true)
    appendFileSync(log, 'b\n')
    unlinkSync(log)
    expect(t.read()).toEqual(['a', 'b'])
    expect(t.read()).toEqual([])
    writeFileSync(log, 'c\n')
    expect(t.read()).toEqual(['c'])
    expect(t.problem).toBeNull()
  })
})

describe('logProblem, for doctor: what stands there, never opened', () => {
  it('nothing, a file, a link, a FIFO, a folder', () => {
    const { dir, log } = fresh()
    const at = (name: string) => join(dir, name)
    writeFileSync(at('file'), '')
    symlinkSync(at('file'), at('link'))
    mkfifo(at('fifo'))
    mkdirSync(at('folder'))
    expect([log, at('file'), at('link'), at('fifo'), at('folder')].map(logProblem)).toEqual([
      null,
      '',
      `the proxy log ${at('link')} is a symbolic link`,
      `the proxy log ${at('fifo')} is a FIFO`,
      `the proxy log ${at('folder')} is a folder`,
    ])
  })
})

describe('LogTail: a line with no end', () => {
  it('holds at most MAX_LINE bytes of it, and drops it whole', () => {
    const { log } = fresh()
    writeFileSync(log, 'first\n')
    const t = new LogTail(log, true)
    expect(t.read()).toEqual(['first'])
    // 16 MB in 1 MB writes without a newline, read after each.
    const mb = 'x'.repeat(1 << 20)
    for (let i = 0; i < 16; i++) {
      appendFileSync(log, mb)
      expect(t.read()).toEqual([])
      expect(t.pending).toBeLessThanOrEqual(MAX_LINE)
    }
    appendFileSync(log, 'tail of it\nnext\n')
    expect(t.read()).toEqual(['next'])
    expect(t.pending).toBe(0)
  })

  it('a line of exactly MAX_LINE bytes split over reads is kept; one byte more is not', () => {
    const { log } = fresh()
    writeFileSync(log, '')
    const t = new LogTail(log, true)
    const full = 'y'.repeat(MAX_LINE)
    appendFileSync(log, full.slice(0, 1000))
    expect(t.read()).toEqual([])
    appendFileSync(log, `${full.slice(1000)}\n${full}z\nafter\n`)
    expect(t.read()).toEqual([full, 'after'])
  })

  it('a multi-byte character cut between two reads comes out whole', () => {
    const { log } = fresh()
    const bytes = Buffer.from('{"request_uri":"/é"}\n')
    const cut = bytes.indexOf(0xc3) + 1
    writeFileSync(log, bytes.subarray(0, cut))
    const t = new LogTail(log, true)
    expect(t.read()).toEqual([])
    appendFileSync(log, bytes.subarray(cut))
    expect(t.read()).toEqual(['{"request_uri":"/é"}'])
  })
})

describe('resetLog: only the descriptor it checked is truncated', () => {
  it('a link to a file of root is not followed: that file keeps its bytes', () => {
    const { dir, log } = fresh()
    const precious = join(dir, 'precious')
    writeFileSync(precious, 'keep me\n')
    symlinkSync(precious, log)
    resetLog(ctxFor(log))
    expect(readFileSync(precious, 'utf8')).toBe('keep me\n')
    expect(lstatSync(log).isSymbolicLink()).toBe(true)
  })

  it('a FIFO is left alone, without blocking', () => {
    const { log } = fresh()
    mkfifo(log)
    resetLog(ctxFor(log))
    expect(lstatSync(log).isFIFO()).toBe(true)
  })

  it('its own regular file: emptied, made private, and read from its start', () => {
    const { log } = fresh()
    writeFileSync(log, 'last rollout\n', { mode: 0o644 })
    chmodSync(log, 0o644)
    resetLog(ctxFor(log))
    expect(statSync(log).size).toBe(0)
    expect(statSync(log).mode & 0o777).toBe(0o600)
    appendFileSync(log, 'new\n')
    const t = openLog(ctxFor(log))
    expect(t.read()).toEqual(['new'])
    t.close()
  })

  it('no log yet: the folder is made private, the file left for nginx to create', () => {
    const { dir } = fresh()
    const log = join(dir, 'logs', 'access.jsonl')
    resetLog(ctxFor(log))
    expect(statSync(join(dir, 'logs')).mode & 0o777).toBe(0o700)
    expect(() => lstatSync(log)).toThrow(/ENOENT/)
  })

  it('a log it could not empty is read from its end, not counted again', () => {
    const { dir, log } = fresh()
    const precious = join(dir, 'precious')
    writeFileSync(precious, 'old\n')
    symlinkSync(precious, log)
    resetLog(ctxFor(log))
    rmSync(log)
    writeFileSync(log, 'old\n')
    // A regular file now, but not one resetLog emptied: its old lines are not this rollout's.
    const t = openLog(ctxFor(log))
    appendFileSync(log, 'new\n')
    expect(t.read()).toEqual(['new'])
    t.close()
  })

  it('openLog: a log lost mid-watch is said once, as a warning', () => {
    const { log } = fresh()
    writeFileSync(log, '')
    const warnings: string[] = []
    const ctx = ctxFor(log, warnings)
    resetLog(ctx)
    const t = openLog(ctx)
    unlinkSync(log)
    mkdirSync(log)
    for (let i = 0; i < 5; i++) t.read()
    expect(warnings).toEqual([`the proxy log ${log} is a folder (README: Proxy): the watch judges the containers only from now on`])
  })
})

describe('the health request, and only it, is left out of the watch', () => {
  const ports = { ports: { blue: 18001, green: 18002 } }
  it.each([
    ['/health/', '/health/'],
    ['/health/?verbose=1#x', '/health/'],
    ['//health//', '/health/'],
    ['/health/../admin/', '/admin/'],
    ['/health/%2e%2E/admin', '/admin'],
    ['/x/./y/..', '/x/'],
    ['/..', '/'],
    ['/%68ealth/', '/health/'],
    ['/health%2f', '/health%2F'],
    ['/caf%c3%a9', '/caf%C3%A9'],
    ['*', '*'],
  ])('%s is the path %s', (uri, path) => expect(normalPath(uri)).toBe(path))

  it.each([
    // health path, request, left out
    ['/', '/', true],
    ['/', '/?ping', true],
    ['/', '/about/', false],
    ['/', '/checkout', false],
    ['/healthz', '/healthz', true],
    ['/healthz', '/healthz/', true],
    ['/healthz', '/healthz-dashboard/', false],
    ['/healthz', '/healthzz', false],
    ['/health/', '/health', true],
    ['/health/', '/health/?full=1', true],
    ['/health/', '/health/db/', false],
    ['/health/', '/health/../x', false],
    ['/health/', '/x/../health/', true],
    ['/health/', '//health/', true],
    ['/health/', '/HEALTH/', false],
  ])('health path %s: %s left out: %s', (health, uri, out) => {
    expect(isHealthRequest(uri, health)).toBe(out)
    const t = emptyTally()
    countRequest(t, parseNginxLine(JSON.stringify({ status: 500, upstream_addr: '127.0.0.1:18002', request_uri: uri }))!, { ...ports, health: { path: health } } as Parameters<
      typeof countRequest
    >[2])
    expect(t.green.errors).toBe(out ? 0 : 1)
  })

  it('with the health path "/", a release answering 100 of 500 with 5xx is counted whole', () => {
    const c = { ...ports, health: { path: '/' } } as Parameters<typeof countRequest>[2]
    const t = emptyTally()
    for (let i = 0; i < 500; i++) {
      const status = i % 5 === 0 ? 500 : 200
      const uri = ['/', '/about/', '/cart?id=3', '/api/items'][i % 4]
      const r = parseNginxLine(JSON.stringify({ status, upstream_addr: '127.0.0.1:18002', upstream_status: String(status), request_uri: uri }))!
      countRequest(t, r, c)
    }
    // A quarter of them asked for "/" itself: the health request.
    expect(t.green).toEqual({ requests: 375, errors: 75, answered: 375, failed: 75 })
  })
})
