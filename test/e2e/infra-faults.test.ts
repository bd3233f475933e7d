// Faults outside the release: a docker call that breaks halfway, an upstream nginx rejects,
// an unreachable Docker daemon, a state folder that cannot take a write.
import { execFileSync } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { describeLoad, events, type Stack, stepResults, useStack } from './harness.ts'

let stack: Stack
let scratch: string

useStack(import.meta.url, (s) => (stack = s), {
  ready: (s) => {
    scratch = mkdtempSync(join(tmpdir(), `${s.prefix}-scratch-`))
    s.onTeardown(() => rmSync(scratch, { recursive: true, force: true }))
  },
})

/** Everything a refused deploy must not have changed. */
async function hostPicture() {
  return {
    containers: await stack.snapshot(),
    state: readFileSync(stack.stateFile(), 'utf8'),
    upstream: readFileSync(stack.upstreamFile(), 'utf8'),
    proxyPids: await stack.proxyPids(),
  }
}

const readAll = (dir: string) =>
  Object.fromEntries(
    readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((d) => d.isFile())
      .map((d) => [join(d.parentPath, d.name).slice(dir.length + 1), readFileSync(join(d.parentPath, d.name))]),
  )

/**
 * Mounts a small tmpfs over the state folder, holding a copy of what is there, for the
 * length of `f`. The proxy container keeps its own bind mount of the folder underneath.
 */
async function withTmpfsStateDir<T>(prepare: (dir: string) => void, f: () => Promise<T>): Promise<T> {
  const dir = stack.stateDir
  const files = readAll(dir)
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k,mode=0755', `${stack.prefix}-state`, dir])
  let mounted = true
  const unmount = () => {
    if (mounted) execFileSync('umount', [dir])
    mounted = false
  }
  stack.onTeardown(unmount)
  try {
    for (const [rel, data] of Object.entries(files)) {
      mkdirSync(join(dir, rel, '..'), { recursive: true })
      writeFileSync(join(dir, rel), data)
    }
    prepare(dir)
    return await f()
  } finally {
    unmount()
  }
}

describe.sequential('infrastructure faults', () => {
  test('an unreachable Docker daemon stops the deploy with a clear message and nothing changed', async () => {
    const before = await hostPicture()
    const history = readFileSync(join(stack.stateDir, 'history.jsonl'), 'utf8')
    const r = await stack.run('deploy', [], { DOCKER_HOST: 'unix:///nonexistent.sock' })
    expect(r.code, r.stderr).toBe(1)
    expect(r.stderr).toMatch(/cannot reach the Docker daemon .*Nothing was changed/)
    expect(await hostPicture()).toEqual(before)
    expect(readFileSync(join(stack.stateDir, 'history.jsonl'), 'utf8')).toBe(history)
    expect(existsSync(stack.lockFile())).toBe(false)
    expect(await stack.servingColor()).toBe('blue')
  })

  test('a full disk under the state folder refuses the deploy before anything is touched', async () => {
    const before = await hostPicture()
    const r = await withTmpfsStateDir(
      (dir) => {
        // Fill the tmpfs to the last byte.
        const chunk = Buffer.alloc(64 * 1024, 1)
        try {
          for (let i = 0; i < 64; i++) writeFileSync(join(dir, 'filler'), chunk, { flag: 'a' })
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e
        }
        try {
          for (let i = 0; i < 4096; i++) writeFileSync(join(dir, 'filler'), Buffer.alloc(1, 1), { flag: 'a' })
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e
        }
      },
      async () => {
        const state = readFileSync(stack.stateFile(), 'utf8')
        const r = await stack.run('deploy')
        expect(readFileSync(stack.stateFile(), 'utf8')).toBe(state)
        expect(readdirSync(stack.stateDir).sort(), 'no lock or temp file left behind').toEqual(['filler', 'history.jsonl', 'nginx', 'pins', 'state.json'])
        return r
      },
    )
    expect(r.code, r.stderr).toBe(1)
    expect(r.stderr).toMatch(/disk is full/)
    expect(r.stderr).toMatch(/Nothing was changed/)
    expect(await hostPicture()).toEqual(before)
    expect(await stack.servingColor()).toBe('blue')
  })

  test('a read-only state folder refuses the deploy before anything is touched', async () => {
    const before = await hostPicture()
    const r = await withTmpfsStateDir(
      (dir) => execFileSync('mount', ['-o', 'remount,ro', dir]),
      async () => stack.run('deploy'),
    )
    expect(r.code, r.stderr).toBe(1)
    expect(r.stderr).toMatch(/not writable/)
    expect(r.stderr).toMatch(/Nothing was changed/)
    expect(await hostPicture()).toEqual(before)
    expect(await stack.servingColor()).toBe('blue')
  })

  test('nginx -t rejecting the new upstream: exit 1, no reload, upstream file unchanged, blue serves', async () => {
    const template = join(scratch, 'broken-upstream.conf')
    writeFileSync(
      template,
      'upstream {{name}} {\n  server 127.0.0.1:{{port}};\n  {{backup}}\n  this_is_not_an_nginx_directive on;\n}\nmap $host $calmswap_color { default "{{color}}"; }\n',
    )
    const before = await hostPicture()
    const load = stack.load({ rps: 20 })
    const r = await stack.run('deploy', ['--json'], { CALMSWAP_UPSTREAM_TEMPLATE: template })
    const stats = await load.stop()

    expect(r.code, r.stderr).toBe(1)
    expect(stepResults(r)).toMatchObject({ health: true, switch: false })
    expect(r.stderr).toMatch(/nginx -t rejected the new upstream/)
    expect(r.stderr).toMatch(/this_is_not_an_nginx_directive/)
    expect(await stack.proxyPids(), 'nginx was not reloaded').toEqual(before.proxyPids)
    expect(readFileSync(stack.upstreamFile(), 'utf8')).toBe(before.upstream)
    expect(readdirSync(join(stack.stateDir, 'nginx'))).toEqual(['upstream.conf'])

    expect(stats.failed, describeLoad(stats)).toBe(0)
    expect(Object.keys(stats.colors)).toEqual(['blue'])
    expect(await stack.servingColor()).toBe('blue')
    expect(await stack.states('blue')).toEqual({ web: 'running', worker: 'running', beat: 'running' })
    expect((await stack.containers('green')).filter((c) => c.state === 'running')).toEqual([])
    expect(stack.state()).toMatchObject({ live: 'blue', journal: null, upstream: { color: 'blue', backup: null } })
  })

  test('a switch command that hangs is ended at CALMSWAP_SWITCH_TIMEOUT with its children, and the deploy rolls back', async () => {
    // A unique sleep time is the marker that tells whether anything of the command is left.
    const marker = `600.${process.pid}${Date.now() % 10000}`
    const script = join(scratch, 'flip.sh')
    writeFileSync(script, `#!/bin/sh\nsleep ${marker} &\nsleep ${marker}\n`)
    chmodSync(script, 0o755)
    const before = await hostPicture()
    const t0 = Date.now()
    const r = await stack.run('deploy', [], { CALMSWAP_PROXY: 'command', CALMSWAP_SWITCH_COMMAND: script, CALMSWAP_SWITCH_TIMEOUT: '2s' })
    expect(r.code, r.stderr).toBe(1)
    expect(r.stderr).toMatch(/timed out after 2000ms/)
    expect(r.stderr).toMatch(/rolled back; blue serves as before/)
    expect(Date.now() - t0, 'not the 10 minutes of the command').toBeLessThan(90_000)
    const left = (() => {
      try {
        return execFileSync('pgrep', ['-f', `sleep ${marker}`], { encoding: 'utf8' }).trim()
      } catch {
        return ''
      }
    })()
    expect(left, 'no orphan of the switch command').toBe('')
    expect(readFileSync(stack.upstreamFile(), 'utf8')).toBe(before.upstream)
    expect(await stack.servingColor()).toBe('blue')
    expect(await stack.states('blue')).toEqual({ web: 'running', worker: 'running', beat: 'running' })
  })

  test('a docker call failing halfway (start of the new worker) rolls back and blue serves', async () => {
    const realDocker = execFileSync('sh', ['-c', 'command -v docker'], { encoding: 'utf8' }).trim()
    const wrapper = join(scratch, 'docker-fails-start-worker')
    writeFileSync(
      wrapper,
      `#!/bin/sh
# The real docker, except that \`docker start ...-green-worker-1\` fails: after the switch, with
# the new beat already started. (CALMSWAP_DOCKER set: every call goes through this CLI.)
start=0 worker=0
for a in "$@"; do
  case "$a" in start) start=1 ;; *-green-worker-1) worker=1 ;; esac
done
if [ $start = 1 ] && [ $worker = 1 ]; then
  echo "injected failure: docker $*" >&2
  exit 1
fi
exec ${realDocker} "$@"
`,
    )
    chmodSync(wrapper, 0o755)
    const load = stack.load({ rps: 20 })
    const r = await stack.run('deploy', ['--json'], { CALMSWAP_DOCKER: wrapper })
    const stats = await load.stop()

    expect(r.code, r.stderr).toBe(1)
    expect(stepResults(r)).toMatchObject({ switch: true, 'up-rest': false })
    expect(r.stderr).toMatch(/injected failure: docker start \S+-green-worker-1/)
    expect(r.stderr).toMatch(/rolled back; blue serves as before/)
    expect(events(r).find((e) => e.type === 'op-end')).toMatchObject({ result: 'rolled-back' })

    expect(stats.failed, describeLoad(stats)).toBe(0)
    expect(await stack.servingColor()).toBe('blue')
    expect(await stack.states('blue')).toEqual({ web: 'running', worker: 'running', beat: 'running' })
    expect((await stack.containers('green')).filter((c) => c.state === 'running')).toEqual([])
    expect(await stack.runningBeats()).toEqual([stack.project('blue')])
    expect(stack.state()).toMatchObject({ live: 'blue', previous: 'green', journal: null, upstream: { color: 'blue', backup: null } })
  })
})
