// Request URIs, hosts and users are the users' data: the state folder and the proxy's log
// folder are not world-readable, and neither the log folder nor its file sits in the state
// folder, which the proxy's container must never be able to write into.
import { chmodSync, mkdirSync, mkdtempSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, relative } from 'node:path'
import { describe, expect, it } from 'vitest'
import { composeEnv } from '../../lib/builders/compose.ts'
import { stateChecks } from '../../lib/checks.ts'
import { proxyLogDir } from '../../lib/config.ts'
import { loadConfig } from '../../lib/config-loader.ts'
import { appendLine, PRIVATE, probeWritable, SHARED, writeFileAtomic } from '../../lib/files.ts'
import { historyFile } from '../../lib/history.ts'
import { acquireLock } from '../../lib/lock.ts'

const mode = (p: string) => statSync(p).mode & 0o777
const tmp = () => mkdtempSync(join(tmpdir(), 'calmswap-private-'))

describe('the state folder is private', () => {
  it('made by the lock: 0700', async () => {
    const stateDir = join(tmp(), '.calmswap')
    const lock = await acquireLock(stateDir, 'deploy')
    lock.release()
    expect(mode(stateDir)).toBe(0o700)
  })

  it('one an older calmswap made 0755 is 0700 after the next lock', async () => {
    const stateDir = join(tmp(), '.calmswap')
    mkdirSync(stateDir)
    chmodSync(stateDir, 0o755)
    const lock = await acquireLock(stateDir, 'deploy')
    lock.release()
    expect(mode(stateDir)).toBe(0o700)
  })

  it('doctor only reads: it leaves the mode as it is', () => {
    const stateDir = join(tmp(), '.calmswap')
    mkdirSync(stateDir)
    chmodSync(stateDir, 0o755)
    expect(stateChecks(stateDir, 'deploy')[0]).toMatchObject({ name: 'state folder', ok: true })
    expect(mode(stateDir)).toBe(0o755)
  })

  it('folders made for private files are 0700, for files nginx reads 0755; the files 0600 and 0644', () => {
    const d = join(tmp(), 'state')
    appendLine(historyFile(d), '{}')
    writeFileAtomic(join(d, 'sub', 'state.json'), '{}', PRIVATE)
    writeFileAtomic(join(d, 'nginx', 'upstream.conf'), 'x', SHARED)
    expect([mode(d), mode(historyFile(d)), mode(join(d, 'sub')), mode(join(d, 'sub', 'state.json')), mode(join(d, 'nginx')), mode(join(d, 'nginx', 'upstream.conf'))]).toEqual([
      0o700, 0o600, 0o700, 0o600, 0o755, 0o644,
    ])
  })

  it('probeWritable makes a missing folder 0700', () => {
    const d = join(tmp(), 'a', 'b')
    probeWritable(d)
    expect([mode(d), mode(dirname(d))]).toEqual([0o700, 0o700])
  })
})

describe("the proxy's log folder is not in the state folder", () => {
  const project = tmp()
  writeFileSync(join(project, 'compose.yml'), 'services: {}\n')
  it.each([
    ['the default', {}],
    ['a state folder of its own', { CALMSWAP_STATE_DIR: '/var/lib/calmswap' }],
    ['a relative one', { CALMSWAP_STATE_DIR: 'deploy/state' }],
  ])('%s', (_, env) => {
    const c = loadConfig({ env, cwd: project })
    const rel = relative(c.stateDir, c.watch.log)
    expect(rel.startsWith('..'), `${c.watch.log} is outside ${c.stateDir}`).toBe(true)
    expect(c.watch.log).toBe(join(proxyLogDir(c.stateDir), 'access.jsonl'))
    expect(c.watch.logOwned).toBe(true)
    // What the compose file mounts into the proxy's container.
    expect(composeEnv(c, 'shared').CALMSWAP_PROXY_LOG_DIR).toBe(dirname(c.watch.log))
  })
  it('beside the state folder, named after it', () => expect(proxyLogDir('/srv/app/.calmswap')).toBe('/srv/app/.calmswap-proxy-log'))
  it('CALMSWAP_PROXY_LOG is still read where it is, never emptied', () => {
    const c = loadConfig({ env: { CALMSWAP_PROXY_LOG: '/var/log/nginx/app.jsonl' }, cwd: project })
    expect(c.watch).toMatchObject({ log: '/var/log/nginx/app.jsonl', logOwned: false })
  })
})
