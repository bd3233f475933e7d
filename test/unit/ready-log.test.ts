import { describe, expect, it } from 'vitest'
import { firstMatch } from '../../lib/compose/workers.ts'
import { SETTINGS } from '../../lib/config.ts'
import { loadConfig } from '../../lib/config-loader.ts'

const def = SETTINGS.find((s) => s.env === 'CALMSWAP_READY_LOG')!.def
const ready = new RegExp(def)

describe("a worker's ready line in `docker logs --timestamps`", () => {
  const log = [
    '2026-12-04T22:35:07.000000001Z  -------------- celery@4f2a v5.2.6 (dawn-chorus)',
    '2026-12-04T22:35:07.512345678Z [2026-12-04 22:35:07,512: INFO/MainProcess] Connected to redis://redis:6379/0',
    '2026-12-04T22:35:08.123456789Z [2026-12-04 22:35:08,123: INFO/MainProcess] celery@4f2a ready.',
    '2026-12-04T22:35:09.000000000Z [2026-12-04 22:35:09,000: INFO/MainProcess] celery@4f2a ready.',
  ].join('\n')
  it("is Celery's, by default, and its time is the daemon's", () => expect(firstMatch(log, ready)).toBe(Date.parse('2026-12-04T22:35:08.123Z')))
  it("beat's first due task proves beat", () =>
    expect(firstMatch('2026-12-04T22:35:10.5Z [INFO/MainProcess] Scheduler: Sending due task tick (tasks.tick)\n', ready)).toBe(Date.parse('2026-12-04T22:35:10.5Z')))
  it('a worker at -l warning logs none: NaN, the stay-up decides', () => expect(firstMatch(log.split('\n')[0]!, ready)).toBeNaN())
  it("the banner's name is not the ready line", () => expect(firstMatch('2026-12-04T22:35:07Z celery@4f2a v5.2.6 ready to go\n', ready)).toBeNaN())
  it('only the start of a long line is matched', () => expect(firstMatch(`2026-12-04T22:35:07Z ${'x'.repeat(5000)} celery@a ready.\n`, ready)).toBeNaN())
  it('an own pattern replaces it', () => {
    const c = loadConfig({ env: { CALMSWAP_READY_LOG: 'consumer up' }, cwd: process.cwd() })
    expect(firstMatch('2026-12-04T22:35:07Z worker: consumer up\n', new RegExp(c.readyLog))).toBe(Date.parse('2026-12-04T22:35:07Z'))
  })
})
