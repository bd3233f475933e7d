// Issue 21, `calmswap proxy` with the nginx example: a changed config is validated and
// reloaded gracefully, and a new proxy container replaces the old one beside it (the example
// listens with `reuseport`), under load, counting failed requests and failed kept-alive POSTs.
// The Caddy case is in caddy.test.ts. The counts printed are the ones README's Proxy section quotes.

import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { delayingRelay } from '../../bench/keepalive.ts'
import { describeLoad, ROOT, type Stack, sleep, useStack } from './harness.ts'
import { expectOnlyReloadResets, keepAlivePosts } from './keepalive.ts'

let stack: Stack

useStack(import.meta.url, (s) => (stack = s), { stack: { env: () => ({ CALMSWAP_RELEASE: 'e2e-proxy' }) } })

async function underLoad(args: string[]) {
  // 50/s each, from a second before to a second after: the operation itself lasts well under a second.
  const load = stack.load({ rps: 50 })
  const posts = keepAlivePosts(stack.proxyUrl, 50, 8)
  await sleep(1000)
  const t0 = Date.now()
  const r = await stack.run('proxy', [...args, '--json'])
  const ms = Date.now() - t0
  await sleep(1000)
  const stats = await load.stop()
  const p = await posts.stop()
  console.log(
    `nginx, proxy ${args.join(' ')} (${ms} ms): GETs ${describeLoad(stats)}; kept-alive POSTs sent ${p.sent}, failed ${p.failed} ${JSON.stringify(p.errors)}, ${p.connects} connections opened for 8`,
  )
  return { r, stats, p }
}

describe.sequential('calmswap proxy (nginx)', () => {
  test('the config again: validated, reloaded, the same container; no 5xx', async () => {
    const before = (await stack.containers('shared')).filter((c) => c.service === 'proxy').map((c) => c.name)
    const pids = await stack.proxyPids()
    const { r, stats, p } = await underLoad([])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toMatch(/nginx -t passed; the proxy reloaded its config gracefully/)
    expect((await stack.containers('shared')).filter((c) => c.service === 'proxy').map((c) => c.name)).toEqual(before)
    // A reload replaces nginx's workers.
    expect(await stack.proxyPids()).not.toEqual(pids)
    expectOnlyReloadResets(stats, p)
  })

  test('--replace: a new nginx container beside the old one, then the old one gone; no 5xx', async () => {
    const before = (await stack.containers('shared')).filter((c) => c.service === 'proxy').map((c) => c.name)
    const { r, stats, p } = await underLoad(['--replace'])
    expect(r.code, r.stderr).toBe(0)
    const after = (await stack.containers('shared')).filter((c) => c.service === 'proxy')
    expect(after.map((c) => c.state)).toEqual(['running'])
    expect(before).not.toContain(after[0]!.name)
    expectOnlyReloadResets(stats, p)
    expect(await stack.servingColor()).toBe('blue')
  })

  test('--replace with a proxy that cannot share the port: the shortest hand-over, its gap said and measured', async () => {
    // The same nginx.conf without `reuseport`: the new container's bind fails beside the old one.
    const conf = join(stack.stateDir, 'nginx-no-reuseport.conf')
    writeFileSync(conf, readFileSync(join(ROOT, 'example/nginx/nginx.conf'), 'utf8').replace(' reuseport;', ';'))
    const load = stack.load({ rps: 50 })
    await sleep(1000)
    const r = await stack.run('proxy', ['--replace', '--json'], { NGINX_CONF: conf })
    await sleep(1000)
    const stats = await load.stop()
    expect(r.code, r.stderr).toBe(0)
    const gap = /, (\d+) ms with neither listening/.exec(r.stderr)
    expect(gap, r.stderr).not.toBeNull()
    console.log(`nginx without reuseport, proxy --replace: ${gap![1]} ms with neither listening; GETs ${describeLoad(stats)}`)
    expect((await stack.containers('shared')).filter((c) => c.service === 'proxy').map((c) => c.state)).toEqual(['running'])
    expect(await stack.servingColor()).toBe('blue')
  })

  test("nginx's flag switch: a rollback and a deploy close no kept-alive connection, 0 POSTs fail through a 50 ms round trip", async () => {
    const flag = { CALMSWAP_NGINX_SWITCH: 'flag' }
    // The first switch with the flag loads the per-color groups: one reload, before the load starts.
    const first = await stack.run('deploy', ['--json'], flag)
    expect(first.code, first.stderr).toBe(0)
    const relay = await delayingRelay(Number(new URL(stack.proxyUrl).port), 25)
    const posts = keepAlivePosts(relay.url, 80, 32)
    await sleep(1000)
    for (const op of ['rollback', 'deploy']) {
      const r = await stack.run(op, ['--json'], flag)
      expect(r.code, r.stderr).toBe(0)
    }
    await sleep(1000)
    const p = await posts.stop()
    relay.close()
    console.log(`nginx flag switch, a rollback and a deploy at a 50 ms round trip: kept-alive POSTs sent ${p.sent}, failed ${p.failed}, ${p.connects} connections opened for 32`)
    expect({ failed: p.failed, connects: p.connects }).toEqual({ failed: 0, connects: 32 })
  })
})
