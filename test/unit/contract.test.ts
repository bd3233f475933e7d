import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { type ComposeModel, checkContract, servicesWithBuild } from '../../lib/compose/contract.ts'
import { loadConfig } from '../../lib/config-loader.ts'

const dir = mkdtempSync(join(tmpdir(), 'calmswap-contract-'))
writeFileSync(join(dir, 'compose.yml'), 'services: {}\n')
const c = loadConfig({ env: {}, cwd: dir })
const example = (): ComposeModel => JSON.parse(readFileSync(new URL('../fixtures/example-model.json', import.meta.url), 'utf8'))
const withService = (name: string, svc: object, extra: Partial<ComposeModel> = {}): ComposeModel => {
  const m = example()
  m.services[name] = svc as never
  return { ...m, ...extra }
}
const check = (m: ComposeModel, env: Record<string, string> = {}) => checkContract(loadConfig({ env, cwd: dir }), m)

describe('compose contract', () => {
  it('the example stack passes', () => expect(checkContract(c, example())).toEqual([]))
  it('finds the services to build', () => expect(servicesWithBuild(example(), ['web', 'worker', 'beat'])).toEqual(['web', 'worker', 'beat']))
  it('a role naming a missing service', () => expect(check(example(), { CALMSWAP_WORKERS: 'celery' })[0]).toMatch(/workers service "celery" is not in/))
  it('a service with no role', () => expect(check(withService('flower', { image: 'flower' }))[0]).toMatch(/"flower" has no role/))
  it('web not publishing the port variable', () => {
    const m = example()
    m.services.web!.ports = [{ published: '8000', target: 8000 }]
    expect(check(m)[0]).toMatch(/does not publish \$\{WEB_PORT\}/)
  })
  it('container_name on a colored service', () => {
    const m = example()
    m.services.web!.container_name = 'web'
    expect(check(m)[0]).toMatch(/container_name/)
  })
})

describe('stateful-service guard', () => {
  it.each(['postgres:16', 'library/mysql:8', 'redis:7-alpine', 'mariadb', 'mongo@sha256:abc'])('refuses %s among colored services', (image) =>
    expect(check(withService('db', { image }), { CALMSWAP_CORE: 'db' }).join('\n')).toMatch(/keeps data: each color would get its own copy. Move "db" to CALMSWAP_SHARED/),
  )
  it('does not mistake a look-alike name', () => expect(check(withService('db', { image: 'acme/postgresql-exporter' }), { CALMSWAP_CORE: 'db' })).toEqual([]))
  it('allows a database that is shared', () => expect(check(withService('db', { image: 'postgres:16' }), { CALMSWAP_SHARED: 'redis,proxy,db' })).toEqual([]))
  it('refuses a per-project named volume on a colored service', () => {
    const m = example()
    m.services.worker!.volumes = [{ type: 'volume', source: 'pgdata', target: '/data' }]
    m.volumes = { pgdata: { name: 'calmswap-blue_pgdata' } }
    expect(check(m)[0]).toMatch(/calmswap-blue_pgdata and calmswap-green_pgdata/)
  })
  it('allows a named volume with a fixed name', () => {
    const m = example()
    m.services.worker!.volumes = [{ type: 'volume', source: 'media', target: '/media' }]
    m.volumes = { media: { name: 'shop_media' } }
    expect(check(m)).toEqual([])
  })
  it('allows an external volume', () => {
    const m = example()
    m.services.worker!.volumes = [{ type: 'volume', source: 'media', target: '/media' }]
    m.volumes = { media: { name: 'media', external: true } }
    expect(check(m)).toEqual([])
  })
  it('allows bind mounts', () => {
    const m = example()
    m.services.worker!.volumes = [{ type: 'bind', source: '/srv/media', target: '/media' }]
    expect(check(m)).toEqual([])
  })
})
