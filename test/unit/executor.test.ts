// The one executor: argv without a shell, a deadline on everything, Ctrl-C honoured, and the
// whole process group ended, so nothing is left behind.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { listContainers } from '../../lib/builders/index.ts'
import type { Cmd } from '../../lib/command.ts'
import { loadConfig } from '../../lib/config-loader.ts'
import { SocketDockerApi } from '../../lib/docker-api.ts'
import { ProcessExecutor } from '../../lib/executor.ts'

const cmd = (argv: string[], o: Partial<Cmd> = {}): Cmd => ({ argv, mutates: false, timeoutMs: 10_000, ...o })
const alive = (marker: string) => {
  try {
    return execFileSync('pgrep', ['-f', marker], { encoding: 'utf8' }).trim().length > 0
  } catch {
    return false
  }
}
const x = new ProcessExecutor()

describe('no shell', () => {
  it('an argument is an argument, not shell syntax', async () =>
    expect((await x.run(cmd(['echo', '$(id) `id`; rm -rf /tmp/nothing']))).stdout).toBe('$(id) `id`; rm -rf /tmp/nothing\n'))
  it('ZX_PREFIX, BASH_ENV and friends change nothing', async () => {
    const e = new ProcessExecutor(null, null, { ...process.env, ZX_PREFIX: 'echo hacked;', BASH_ENV: '/etc/passwd', ZX_SHELL: '/bin/false' })
    expect((await e.run(cmd(['echo', 'plain']))).stdout).toBe('plain\n')
  })
  it('a missing binary is exit 127 with its name', async () =>
    expect(await x.run(cmd(['/nonexistent/docker', 'ps']))).toMatchObject({ code: 127, stderr: '/nonexistent/docker: command not found' }))
})

describe('deadlines end the whole process group', () => {
  it('a command past its deadline is ended, children and all', async () => {
    // A unique sleep time is the marker pgrep looks for.
    const marker = `sleep 60.${process.pid}${Date.now() % 100000}`
    const t0 = Date.now()
    const r = await x.run(cmd(['sh', '-c', `${marker} & ${marker}`], { timeoutMs: 400 }))
    expect(r.code).toBe(124)
    expect(r.stderr).toMatch(/timed out after 400ms/)
    expect(Date.now() - t0).toBeLessThan(5_000)
    await new Promise((res) => setTimeout(res, 300))
    expect(alive(marker)).toBe(false)
  })
  it('a child that exits leaving a process that holds its output: its exit code, and what it left is ended', async () => {
    const marker = `sleep 59.${process.pid}${Date.now() % 100000}`
    const t0 = Date.now()
    const r = await x.run(cmd(['sh', '-c', `${marker} & exit 3`], { timeoutMs: 30_000 }))
    expect([r.code, Date.now() - t0 < 10_000]).toEqual([3, true])
    await new Promise((res) => setTimeout(res, 300))
    expect(alive(marker)).toBe(false)
  })
  it('a read is ended at once by Ctrl-C', async () => {
    const ac = new AbortController()
    setTimeout(() => ac.abort('SIGINT'), 200)
    const t0 = Date.now()
    const r = await x.run(cmd(['sleep', '30']), ac.signal)
    expect([r.code, Date.now() - t0 < 4_000]).toEqual([124, true])
    expect(r.stderr).toMatch(/interrupted \(SIGINT\)/)
  })
  it('a change gets time to finish after Ctrl-C', async () => {
    const ac = new AbortController()
    setTimeout(() => ac.abort('SIGINT'), 100)
    const r = await x.run(cmd(['sh', '-c', 'sleep 0.6; echo finished'], { mutates: true }), ac.signal)
    expect([r.code, r.stdout]).toEqual([0, 'finished\n'])
  })
})

describe('the Engine API has deadlines too', () => {
  it('a socket that accepts and never answers: the read fails at its deadline, not never', async () => {
    const sock = join(mkdtempSync(join(tmpdir(), 'calmswap-hang-')), 'docker.sock')
    const server = createServer(() => {})
    await new Promise<void>((r) => server.listen(sock, r))
    try {
      const dir = mkdtempSync(join(tmpdir(), 'calmswap-hangcfg-'))
      writeFileSync(join(dir, 'compose.yml'), 'services: {}\n')
      const c = loadConfig({ env: {}, cwd: dir })
      const e = new ProcessExecutor(new SocketDockerApi(sock))
      const t0 = Date.now()
      const r = await e.run({ ...listContainers(c), timeoutMs: 300 })
      expect([r.code, r.stderr]).toEqual([124, 'no answer from the Docker daemon within 300ms'])
      expect(Date.now() - t0).toBeLessThan(3_000)
      const ac = new AbortController()
      setTimeout(() => ac.abort('SIGINT'), 100)
      const r2 = await e.run(listContainers(c), ac.signal)
      expect([r2.code, r2.stderr]).toEqual([124, 'interrupted'])
    } finally {
      server.close()
    }
  })
})
