import { describe, expect, it } from 'vitest'
import { firstMatch, taskSpans, workerGap } from '../../lib/compose/workers.ts'
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

describe('the gap in task processing, with the old workers seen running tasks after their thaw', () => {
  const up = (at: number, oldRan: [number, number][], by: 'task' | 'ready-log' | 'start' = 'task') => ({ at, by, oldRan })
  it('nothing seen: the freeze to the first new task', () => expect(workerGap(1000, up(8000, []))).toEqual({ ms: 7000, to: 'task' }))
  it('the longest stretch, each bounded by when an answer was asked and answered', () =>
    expect(
      workerGap(
        1000,
        up(8000, [
          [2000, 2500],
          [2800, 3000],
          [3300, 3400],
        ]),
      ),
    ).toEqual({ ms: 7000, to: 'task', noTaskMs: 4700 }))
  it('freeze to the first answer, when that is the longest', () => expect(workerGap(0, up(3000, [[2000, 2600]]))).toEqual({ ms: 3000, to: 'task', noTaskMs: 2600 }))
  it('answers outside the gap do not count', () =>
    expect(
      workerGap(
        1000,
        up(8000, [
          [100, 900],
          [9000, 9100],
        ]),
      ),
    ).toEqual({ ms: 7000, to: 'task' }))
  it('between two answers, from when the first was asked to when the next was answered', () =>
    expect(
      workerGap(
        0,
        up(6000, [
          [1000, 1100],
          [4000, 4200],
          [5000, 5100],
        ]),
      ),
    ).toEqual({ ms: 6000, to: 'task', noTaskMs: 3200 }))
  it('two workers’ answers interleaved, in any order', () =>
    expect(
      workerGap(
        0,
        up(5000, [
          [3000, 3100],
          [1000, 1050],
          [2900, 2950],
          [1200, 1300],
        ]),
      ),
    ).toEqual({ ms: 5000, to: 'task', noTaskMs: 2000 }))
  it('not when the gap ends at the workers’ start: its end is not known', () => expect(workerGap(1000, up(8000, [[2000, 2500]], 'start'))).toEqual({ ms: 7000, to: 'start' }))
  it('nor at a ready line: the first new task comes later', () => expect(workerGap(1000, up(8000, [[2000, 2500]], 'ready-log'))).toEqual({ ms: 7000, to: 'ready-log' }))
  it('what a quiesce printed, in epoch ms', () =>
    expect(taskSpans('x\nquiesce-active 1796459917.213,1796459917.5 1796459918,1796459918.25\n')).toEqual([
      [1796459917213, 1796459917500],
      [1796459918000, 1796459918250],
    ]))
  it('a quiesce that printed none, or nonsense', () => expect([taskSpans(''), taskSpans('quiesce-active a,b 5,4')]).toEqual([[], []]))
})
