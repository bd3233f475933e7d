// A Docker socket that accepts and never answers: a read gives up at its deadline, and the
// first Ctrl-C ends a command at once instead of waiting for it.

import { mkdtempSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { Stack } from './harness.ts'

let stack: Stack
let server: Server
let sock: string

beforeAll(async () => {
  stack = await Stack.create(import.meta.url)
  sock = join(mkdtempSync(join(tmpdir(), 'calmswap-hung-')), 'docker.sock')
  server = createServer(() => {})
  await new Promise<void>((r) => server.listen(sock, r))
})
afterAll(async () => {
  server.close()
  await stack.teardown()
})

describe('a hung Docker daemon', () => {
  test('status: the first Ctrl-C ends it at once', async () => {
    const bg = stack.spawn('status', [], { DOCKER_HOST: `unix://${sock}` })
    await new Promise((r) => setTimeout(r, 1500))
    const t0 = Date.now()
    bg.kill('SIGINT')
    const r = await bg.done
    expect(Date.now() - t0).toBeLessThan(3_000)
    expect(r.code, r.stderr).toBe(1)
    expect(r.stderr).toMatch(/SIGINT: finishing the current command/)
  })
  test('deploy: refused within the read deadline, nothing changed', async () => {
    const t0 = Date.now()
    const r = await stack.run('deploy', [], { DOCKER_HOST: `unix://${sock}` })
    expect(r.code, r.stderr).toBe(1)
    expect(r.stderr).toMatch(/cannot reach the Docker daemon \(no answer from the Docker daemon within 20000ms\)\. Nothing was changed/)
    expect(Date.now() - t0).toBeLessThan(40_000)
  })
})
