import { readFileSync } from 'node:fs'
import { describe, expect, test } from 'vitest'
import type { ComposeModel } from '../../lib/compose/contract.ts'
import { loadConfig } from '../../lib/config-loader.ts'
import { guessSettings } from '../../lib/init.ts'

const example = (): ComposeModel => JSON.parse(readFileSync(new URL('../fixtures/example-model.json', import.meta.url), 'utf8'))

describe('calmswap init: roles guessed from the compose file', () => {
  test('the example stack gets the roles its own config gives it, each with a reason', () => {
    const g = guessSettings(example(), 'compose.yml', '/srv/My Shop')
    const c = loadConfig({ env: {} })
    expect(g.settings).toMatchObject({
      composeFile: 'compose.yml',
      prefix: 'my-shop',
      web: c.roles.web,
      workers: c.roles.workers,
      singletons: c.roles.singletons,
      jobs: [],
      core: [],
    })
    expect([...(g.settings.shared as string[])].sort()).toEqual([...c.roles.shared].sort())
    expect(g.settings.proxyService).toBeUndefined()
    expect(g.reasons).toContain('beat → singletons: a scheduler (python3 -m celery -A tasks beat -l warning -s /tmp/celerybeat-schedule): never two at once across colors')
    expect(g.reasons.find((r) => r.startsWith('web → web:'))).toMatch(/publishes port 8000/)
  })

  test('a database image, a migration job, a second server, an unknown service, a proxy of another name', () => {
    const m: ComposeModel = {
      services: {
        db: { image: 'postgres:16' },
        migrate: { build: {}, command: ['python', 'manage.py', 'migrate'] } as never,
        app: { build: {}, command: ['gunicorn', 'x.wsgi'], ports: [{ target: 8000, published: '18001' }] } as never,
        api: { build: {}, command: ['uvicorn', 'api:app'] } as never,
        mailer: { build: {} },
        edge: { image: 'caddy:2' },
      },
    }
    const g = guessSettings(m, 'compose.yml', '/x/app')
    expect(g.settings).toMatchObject({ web: ['app'], core: ['mailer', 'api'], jobs: ['migrate'], shared: ['db', 'edge'], proxyService: 'edge', workers: [], singletons: [] })
    expect(g.reasons).toContain('db → shared: runs postgres:16, which keeps data: one copy for both colors')
  })

  test('no proxy: proxy "none", and a note that says so', () => {
    const g = guessSettings({ services: { web: { build: {}, ports: [{ target: 80 }] } } }, 'compose.yml', '/x/site')
    expect(g.settings.proxy).toBe('none')
    expect(g.notes.join('\n')).toMatch(/no proxy service found/)
  })
})
