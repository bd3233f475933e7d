import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { serviceScale, stackDeploy } from '../../lib/builders/index.ts'
import { makeContext } from '../../lib/context.ts'
import { DEADLINE } from '../../lib/deadlines.ts'
import { ConfigError } from '../../lib/errors.ts'
import { DryRunExecutor } from '../../lib/executor.ts'
import { readHistory } from '../../lib/history.ts'
import { SWARM_STEPS, type SwarmStep, swarmDeploy, swarmRollback } from '../../lib/swarm/deploy.ts'
import { swarmDoctor } from '../../lib/swarm/report.ts'
import { readStack, roleOf, stepFile } from '../../lib/swarm/stack.ts'
import { SwarmStore } from '../../lib/swarm/state.ts'
import { RecordingExecutor } from './recording.ts'
import { type SwarmHarness, short, swarmHarness } from './swarm-world.ts'

const swarmJson = (dir: string) => JSON.parse(readFileSync(join(dir, 'swarm.json'), 'utf8'))

/**
 * What a SIGKILL of a deploy of r2 leaves in `step`: beat and worker stood down, the
 * `applied` services deployed, and the journal as the killed run wrote it, with `marked`
 * services journaled for a `stack deploy` that never reached them.
 */
async function killedIn(h: SwarmHarness, step: SwarmStep, applied: readonly string[], marked: readonly string[] = []): Promise<void> {
  const w = h.world
  const store = new SwarmStore(h.config.stateDir)
  store.begin('deploy', 'app', 'r2')
  for (const n of ['beat', 'worker']) store.mark(n, { role: roleOf(h.config, n)!, replicas: 1, nodes: ['node1'], scaledFrom: w.services.get(n)!.version })
  w.respond(serviceScale(h.config, { app_beat: 0, app_worker: 0 }))
  const stack = await readStack(h.ctx)
  for (const n of [...applied, ...marked]) store.mark(n, { role: roleOf(h.config, n)!, deployedFrom: w.services.get(n)!.version, updateBefore: '' })
  for (const n of applied) w.respond(stackDeploy(h.config, stepFile(h.config, stack, [n])))
  for (let i = 0; i < 20; i++) w.tick()
  for (const done of SWARM_STEPS.slice(0, SWARM_STEPS.indexOf(step))) store.markDone(done)
  store.markCurrent(step)
}

describe('swarm deploy plan', () => {
  it('first deploy: shared services, then the web alone, then beat, then the worker', async () => {
    const h = swarmHarness()
    await swarmDeploy(h.ctx)
    expect(h.plan()).toEqual(['deploy redis proxy', 'deploy web', 'deploy beat', 'deploy worker'])
    expect(h.world.running('web')).toEqual(['calmswap-example-app:r2'])
    expect(h.world.maxBeats).toBe(1)
    expect(swarmJson(h.config.stateDir)).toMatchObject({ release: 'r2', journal: null, last: { release: 'r2' } })
  })

  it('r1 → r2: beat and worker to 0 before the web update, beat only once none runs, then the worker', async () => {
    const h = swarmHarness({ setup: (w) => w.seedStack() })
    await swarmDeploy(h.ctx)
    expect(h.plan()).toEqual(['quiesce worker', 'scale beat=0 worker=0', 'deploy web', 'deploy beat', 'deploy worker'])
    // The old beat lingered (gossip delay, warm shutdown): the new one was asked for after it was gone.
    expect(h.world.beatsAtBeatStart).toEqual([0])
    expect(h.world.maxBeats).toBe(1)
    for (const s of ['web', 'beat', 'worker']) expect(h.world.running(s)).toEqual(['calmswap-example-app:r2'])
    expect(h.world.image('redis')).toBe('calmswap-example-app:r1')
    // The web is updated once no container of beat or worker runs any more; beat before the worker.
    expect(h.world.deploys).toEqual([
      { services: ['web'], beat: 0, worker: 0 },
      { services: ['beat'], beat: 0, worker: 0 },
      { services: ['worker'], beat: 1, worker: 0 },
    ])
  })

  it('workers on other nodes are quiesced through the broker, from a container of the stack on this node', async () => {
    const h = swarmHarness({ setup: (w) => (w.seedStack(), (w.localServices = new Set(['web', 'redis', 'proxy']))) })
    await swarmDeploy(h.ctx)
    const worker = h.world.tasks.find((t) => t.service === 'app_worker')!.id
    expect(h.plan().slice(0, 2)).toEqual([`quiesce ${worker.padEnd(12, '0')} via web`, 'scale beat=0 worker=0'])
    expect(h.out.join('')).toMatch(/app_worker.1 on node1 \(through the broker, from app_web\): celery@x stopped consuming/)
  })

  it('with no container of the stack on this node, from a one-off container on the stack network, with the worker env in a private file', async () => {
    const h = swarmHarness({ setup: (w) => (w.seedStack(), (w.localServices = new Set())) })
    await swarmDeploy(h.ctx)
    const worker = h.world.tasks.find((t) => t.service === 'app_worker')!.id
    expect(h.plan().slice(0, 2)).toEqual([`quiesce ${worker.padEnd(12, '0')} via one-off net-stack`, 'scale beat=0 worker=0'])
    const run = h.exec.calls.find((c) => c.argv[1] === 'run')!
    expect(run.argv.join(' ')).not.toMatch(/BROKER_URL/)
    expect(existsSync(run.argv[run.argv.indexOf('--env-file') + 1]!)).toBe(false)
    expect(h.out.join('')).toMatch(/app_worker.1 on node1 \(through the broker, from a one-off container on this node\): celery@x stopped consuming/)
  })

  it('the worker env file is private while it exists, and a dead run’s leftover is removed by the next run', async () => {
    const h = swarmHarness({ setup: (w) => (w.seedStack(), (w.localServices = new Set())) })
    mkdirSync(h.config.stateDir, { recursive: true })
    // What a deploy killed during its quiesce (SIGKILL, a power cut) leaves behind.
    const stale = join(h.config.stateDir, 'quiesce-424242.env')
    writeFileSync(stale, 'BROKER_URL=redis://:secret@redis\n', { mode: 0o644 })
    const modes: number[] = []
    h.exec.onRun = (cmd) => {
      if (cmd.argv[1] === 'run') modes.push(statSync(cmd.argv[cmd.argv.indexOf('--env-file') + 1]!).mode & 0o777)
    }
    await swarmDeploy(h.ctx)
    expect(modes).toEqual([0o600])
    expect(readdirSync(h.config.stateDir).filter((f) => f.endsWith('.env'))).toEqual([])
  })

  it('the web update is start-first with failure_action rollback; beat and worker stop-first; the knobs of the file are kept', async () => {
    const h = swarmHarness({ setup: (w) => w.seedStack(), env: { CALMSWAP_SWARM_MONITOR: '7s', CALMSWAP_SWARM_PARALLELISM: '2' } })
    await swarmDeploy(h.ctx)
    const steps = h.exec.calls.filter((c) => c.argv[1] === 'stack').map((c) => JSON.parse(c.input!).services)
    expect(steps[0].web.deploy.update_config).toEqual({ monitor: '3s', parallelism: 2, delay: '0s', max_failure_ratio: 0, order: 'start-first', failure_action: 'rollback' })
    expect(steps[0].web.deploy.rollback_config).toMatchObject({ order: 'start-first', monitor: '7s' })
    expect(steps[1].beat.deploy.update_config).toMatchObject({ order: 'stop-first' })
    expect(steps[2].worker.deploy.rollback_config).toMatchObject({ order: 'stop-first' })
    expect(Object.keys(steps[0])).toEqual(['web'])
  })

  it('a web that fails its healthcheck: Swarm rolls it back, calmswap scales beat then worker back up', async () => {
    const h = swarmHarness({ setup: (w) => w.seedStack() })
    h.world.unhealthy.add('web')
    await expect(swarmDeploy(h.ctx)).rejects.toThrow(/deploy of r2 failed and every service was rolled back/)
    expect(h.plan()).toEqual(['quiesce worker', 'scale beat=0 worker=0', 'deploy web', 'scale beat=1', 'scale worker=1'])
    expect(h.out.join('')).toMatch(/Swarm rolled back the update of web: update rolled back due to failure[^\n]*\n\s+app_web.\d on node1: task: non-zero exit \(143\)/)
    for (const s of ['web', 'beat', 'worker']) expect(h.world.running(s)).toEqual(['calmswap-example-app:r1'])
    expect(h.world.maxBeats).toBe(1)
    expect(swarmJson(h.config.stateDir)).toMatchObject({ journal: null, last: null })
    expect(readHistory(h.config.stateDir).at(-1)).toMatchObject({ op: 'deploy', result: 'rolled-back', release: 'r2' })
  })

  it('a worker that exits as it starts: new worker and beat back to 0 first, then the web, then the old beat, then the old worker', async () => {
    const h = swarmHarness({ setup: (w) => w.seedStack() })
    h.world.crash.add('worker')
    await expect(swarmDeploy(h.ctx)).rejects.toThrow(/every service was rolled back/)
    expect(h.plan()).toEqual([
      'quiesce worker',
      'scale beat=0 worker=0',
      'deploy web',
      'deploy beat',
      'deploy worker',
      'rollback worker',
      'rollback beat',
      'rollback web',
      'scale beat=1',
      'scale worker=1',
    ])
    expect(h.world.beatsAtBeatStart.every((n) => n === 0)).toBe(true)
    expect(h.world.maxBeats).toBe(1)
    for (const s of ['web', 'beat', 'worker']) expect(h.world.running(s)).toEqual(['calmswap-example-app:r1'])
    expect(h.out.join('')).toMatch(/worker: app_worker.1 failed on node1 \(task: non-zero exit \(1\)\)/)
  })

  it('Ctrl-C during the workers step rolls every service back, keeping one beat', async () => {
    const abort = new AbortController()
    const h = swarmHarness({ setup: (w) => w.seedStack(), signal: abort.signal })
    h.world.onTick = (w) => {
      if (w.image('worker') === 'calmswap-example-app:r2') abort.abort('SIGINT')
    }
    await expect(swarmDeploy(h.ctx)).rejects.toThrow(/deploy of r2 was interrupted \(SIGINT\) and every service was rolled back/)
    expect(h.plan().slice(-5)).toEqual(['rollback worker', 'rollback beat', 'rollback web', 'scale beat=1', 'scale worker=1'])
    expect(h.world.maxBeats).toBe(1)
    expect(readHistory(h.config.stateDir).at(-1)).toMatchObject({ result: 'interrupted' })
  })

  it('an update that never ends fails at CALMSWAP_SWARM_DEADLINE and is rolled back', async () => {
    const h = swarmHarness({ setup: (w) => w.seedStack(), env: { CALMSWAP_SWARM_DEADLINE: '1s' } })
    h.world.stuck.add('web')
    await expect(swarmDeploy(h.ctx)).rejects.toThrow(/rolled back/)
    expect(h.out.join('')).toMatch(/gave up after 1.0s \(CALMSWAP_SWARM_DEADLINE\) waiting until the update of web ends/)
    expect(h.plan()).toEqual(['quiesce worker', 'scale beat=0 worker=0', 'deploy web', 'rollback web', 'scale beat=1', 'scale worker=1'])
    expect(h.world.running('web')).toEqual(['calmswap-example-app:r1'])
  })

  it('a global worker is not stood down: updated stop-first, one node at a time, after beat', async () => {
    const h = swarmHarness({ setup: (w) => ((w.nodes = ['node1', 'node2', 'node3']), w.seedStack({ globalWorker: true })) })
    await swarmDeploy(h.ctx)
    expect(h.plan()).toEqual(['scale beat=0', 'deploy web', 'deploy beat', 'deploy worker'])
  })

  it('a second deploy of the same release changes nothing and waits for nothing', async () => {
    const h = swarmHarness({ setup: (w) => w.seedStack() })
    await swarmDeploy(h.ctx)
    const before = h.exec.calls.length
    await swarmDeploy(h.ctx)
    expect(h.exec.calls.slice(before).map(short).filter(Boolean)).toEqual(['quiesce worker', 'scale beat=0 worker=0', 'deploy web', 'deploy beat', 'deploy worker'])
    expect(h.out.join('')).toMatch(/web: unchanged, nothing to roll out/)
  })

  it('rollback after a finished deploy: every service back, in the order that keeps one beat', async () => {
    const h = swarmHarness({ setup: (w) => w.seedStack() })
    await swarmDeploy(h.ctx)
    const before = h.exec.calls.length
    await swarmRollback(h.ctx)
    expect(h.exec.calls.slice(before).map(short).filter(Boolean)).toEqual(['rollback worker', 'rollback beat', 'rollback web', 'scale beat=1', 'scale worker=1'])
    for (const s of ['web', 'beat', 'worker']) expect(h.world.running(s)).toEqual(['calmswap-example-app:r1'])
    expect(h.world.maxBeats).toBe(1)
    await expect(swarmRollback(h.ctx)).rejects.toThrow(/nothing to roll back/)
  })

  it('a deploy killed after its web update continues from the journal without updating the web twice', async () => {
    const h = swarmHarness({ setup: (w) => w.seedStack() })
    const w = h.world
    await killedIn(h, 'web', ['web'])
    await swarmDeploy(h.ctx)
    expect(h.plan()).toEqual(['deploy beat', 'deploy worker'])
    expect(h.out.join('')).toMatch(/an earlier deploy of r2 .* was interrupted after step "stand-down" \(during "web"\); continuing from there/)
    expect(h.out.join('')).toMatch(/web: deployed by the interrupted run; waiting for it/)
    for (const s of ['web', 'beat', 'worker']) expect(w.running(s)).toEqual(['calmswap-example-app:r2'])
    // Its rollback still knows every service's way back.
    await swarmRollback(h.ctx)
    for (const s of ['web', 'beat', 'worker']) expect(w.running(s)).toEqual(['calmswap-example-app:r1'])
    expect(w.maxBeats).toBe(1)
  })

  it('a dry run prints every change in order and changes nothing', async () => {
    const h = swarmHarness({ setup: (w) => w.seedStack() })
    const printed: string[] = []
    const reads = new RecordingExecutor(h.world.respond)
    const ctx = makeContext({ config: h.config, exec: new DryRunExecutor(reads, (l) => printed.push(l)), ui: h.ctx.ui })
    await swarmDeploy(ctx)
    expect(reads.calls.filter((c) => c.mutates)).toEqual([])
    const changes = printed.filter((l) => l.startsWith('docker ') || l.startsWith('CALMSWAP_')).map((l) => l.split('\n')[0]!.replace(/ python3 -c .*/s, ' python3 -c …'))
    expect(changes).toEqual([
      expect.stringMatching(/^docker exec c-worker-t\d+ python3 -c …$/),
      'docker service scale --detach app_beat=0 app_worker=0',
      "CALMSWAP_PREFIX=app CALMSWAP_RELEASE=r2 docker stack deploy --resolve-image always --compose-file - app <<'EOF'",
      "CALMSWAP_PREFIX=app CALMSWAP_RELEASE=r2 docker stack deploy --resolve-image always --compose-file - app <<'EOF'",
      "CALMSWAP_PREFIX=app CALMSWAP_RELEASE=r2 docker stack deploy --resolve-image always --compose-file - app <<'EOF'",
    ])
    expect(
      h.out
        .join('')
        .split('\n')
        .filter((l) => l.startsWith('# then wait')),
    ).toEqual([
      '# then wait until no task of beat, worker runs',
      '# then wait until the update of web ends',
      '# then wait until no task of beat runs',
      '# then wait until 1 task of beat runs',
      '# then wait until 1 task of worker runs',
    ])
    expect(h.world.image('web')).toBe('calmswap-example-app:r1')
    expect(() => readFileSync(join(h.config.stateDir, 'swarm.json'))).toThrow()
  })

  it('a stack file without a web healthcheck is refused before anything changes', async () => {
    const h = swarmHarness({ setup: (w) => w.seedStack(), env: { CALMSWAP_WEB: 'redis', CALMSWAP_SHARED: 'web,proxy' } })
    await expect(swarmDeploy(h.ctx)).rejects.toBeInstanceOf(ConfigError)
    expect(h.plan()).toEqual([])
  })
})

describe('swarm rollback after Swarm rolled a service back by itself', () => {
  /** Three nodes, a global worker whose new tasks exit as they start: Swarm rolls its update back (failure_action rollback). */
  const crashingGlobalWorker = () => {
    const h = swarmHarness({ setup: (w) => ((w.nodes = ['node1', 'node2', 'node3']), w.seedStack({ globalWorker: true })) })
    h.world.crash.add('worker')
    return h
  }

  it('the worker is left to Swarm: only beat and the web are rolled back', async () => {
    const h = crashingGlobalWorker()
    await expect(swarmDeploy(h.ctx)).rejects.toThrow(/every service was rolled back/)
    expect(h.plan()).toEqual(['scale beat=0', 'deploy web', 'deploy beat', 'deploy worker', 'rollback beat', 'rollback web', 'scale beat=1'])
  })

  it('a rollback of it journaled by an earlier undo, which Swarm refused, is not asked for again', async () => {
    const h = crashingGlobalWorker()
    // A daemon hiccup on the rollback of beat leaves the undo to be run again.
    let hiccup = true
    h.world.failOn = (a) => (a[2] === 'rollback' && a.at(-1) === 'app_beat' && hiccup ? ((hiccup = false), 1) : undefined)
    await expect(swarmDeploy(h.ctx)).rejects.toThrow(/the deploy failed and so did its rollback/)
    // What an undo that asked for the worker's rollback left: its version journaled, its call refused ("no previous spec").
    new SwarmStore(h.config.stateDir).mark('worker', { undoFrom: h.world.services.get('worker')!.version })
    const before = h.plan().length
    await swarmRollback(h.ctx)
    expect(h.plan().slice(before)).toEqual(['rollback beat', 'rollback web', 'scale beat=1'])
  })
})

describe('swarm usage situations exit 2, as in compose mode', () => {
  it('a deploy while a rollback is unfinished names the command to run', async () => {
    const h = swarmHarness({ setup: (w) => w.seedStack() })
    new SwarmStore(h.config.stateDir).begin('rollback', 'app', 'r2')
    await expect(swarmDeploy(h.ctx)).rejects.toMatchObject({ exitCode: 2, message: 'run rollback to finish it first' })
  })

  it('a rollback with no deploy recorded', async () => {
    const h = swarmHarness({ setup: (w) => w.seedStack() })
    await expect(swarmRollback(h.ctx)).rejects.toMatchObject({ exitCode: 2, message: expect.stringMatching(/^nothing to roll back/) })
  })
})

describe('swarm first deploy', () => {
  it('a rollback after it finished is refused (exit 2), and removes nothing', async () => {
    const h = swarmHarness()
    await swarmDeploy(h.ctx)
    const before = h.plan().length
    await expect(swarmRollback(h.ctx)).rejects.toMatchObject({ exitCode: 2, message: expect.stringMatching(/^nothing to roll back to: r2 was the first deploy of stack app/) })
    expect(h.plan().slice(before)).toEqual([])
  })

  it('a removal of its services cut short is asked for again by the rollback that continues it', async () => {
    const h = swarmHarness()
    h.world.crash.add('worker')
    // The daemon fails the first removal: as a crash between its journal mark and the call would leave it.
    let hiccup = true
    h.world.failOn = (a) => (a[2] === 'rm' && hiccup ? ((hiccup = false), 1) : undefined)
    await expect(swarmDeploy(h.ctx)).rejects.toThrow(/the deploy failed and so did its rollback/)
    await swarmRollback(h.ctx)
    expect([...h.world.services.keys()]).toEqual(['redis', 'proxy'])
  })

  it('one that fails says its services were removed, not that a release before serves', async () => {
    const h = swarmHarness()
    h.world.crash.add('worker')
    await expect(swarmDeploy(h.ctx)).rejects.toThrow('deploy of r2 failed; nothing of stack app ran before it, so every service it created was removed (shared services are kept)')
  })
})

describe('swarm stand-down cut short', () => {
  /**
   * The CLI scales one service after the other: beat goes to 0, then the daemon fails the
   * worker's scale. `then` runs at that moment.
   */
  const scaleFailsAfterBeat = (then: (h: SwarmHarness) => void = () => {}) => {
    const h = swarmHarness({ setup: (w) => w.seedStack(), env: { CALMSWAP_SWARM_DEADLINE: '1s' } })
    let hiccup = true
    h.world.failOn = (a) => {
      if (a[2] !== 'scale' || !hiccup) return undefined
      hiccup = false
      h.world.respond({ argv: ['docker', 'service', 'scale', '--detach', 'app_beat=0'], mutates: true, timeoutMs: 1 })
      then(h)
      return 1
    }
    return h
  }

  it('what was scaled to 0 is scaled back, the quiesced worker never scaled is restarted, nothing is rolled back', async () => {
    const h = scaleFailsAfterBeat()
    await expect(swarmDeploy(h.ctx)).rejects.toThrow(/every service was rolled back/)
    expect(h.plan()).toEqual(['quiesce worker', 'scale beat=0 worker=0', 'scale beat=1', 'restart worker'])
  })

  it('a restart of the quiesced worker that cannot complete fails the rollback, saying so', async () => {
    // Its fresh tasks will not start: the restart's update cannot complete.
    const h = scaleFailsAfterBeat((h) => h.world.crash.add('worker'))
    await expect(swarmDeploy(h.ctx)).rejects.toThrow(/so did its rollback[\s\S]*the restart of worker, to take tasks again, (was paused|ended as)/)
  })
})

describe('swarm deploy continued after a kill', () => {
  it('the web step deploys only what the killed run had not: not the web a second time', async () => {
    // redis as a core service: deployed with the web, in the same step.
    const h = swarmHarness({ setup: (w) => w.seedStack(), env: { CALMSWAP_CORE: 'redis', CALMSWAP_SHARED: 'proxy' } })
    await killedIn(h, 'web', ['web'], ['redis'])
    await swarmDeploy(h.ctx)
    expect(h.plan()).toEqual(['deploy redis', 'deploy beat', 'deploy worker'])
  })

  it('the singletons step does not wait for the new beat the killed run deployed to go', async () => {
    const h = swarmHarness({ setup: (w) => w.seedStack(), env: { CALMSWAP_SWARM_DEADLINE: '1s' } })
    await killedIn(h, 'singletons', ['web', 'beat'])
    await swarmDeploy(h.ctx)
    expect(h.plan()).toEqual(['deploy worker'])
  })
})

describe('swarm deploy that finished', () => {
  it('a Ctrl-C once every step is done keeps it a success', async () => {
    const abort = new AbortController()
    const h = swarmHarness({ setup: (w) => w.seedStack(), signal: abort.signal })
    const store = new SwarmStore(h.config.stateDir)
    h.world.onTick = () => (store.load().journal?.done.includes('verify') ? abort.abort('SIGINT') : undefined)
    // A read still running when the signal comes is cut short, as the executor ends it.
    h.world.delayOn = () => (abort.signal.aborted ? 20 : undefined)
    await expect(swarmDeploy(h.ctx)).resolves.toMatchObject({ release: 'r2' })
  })
})

describe('swarm stack file values filled in as the stack deploy fills them', () => {
  it('a singleton whose replicas interpolate to 2 is refused before anything changes', async () => {
    const h = swarmHarness({
      stack: (s) => (s.beat!.deploy.replicas = '$' + '{BEAT_REPLICAS:-1}'),
      setup: (w) => (w.seedStack(), (w.env = { BEAT_REPLICAS: '2' })),
    })
    await expect(swarmDeploy(h.ctx)).rejects.toThrow(/singleton "beat" must run once/)
  })

  it('replicas that cannot be filled in are refused (exit 2), saying why', async () => {
    const h = swarmHarness({ setup: (w) => (w.seedStack(), (w.env = { WORKER_REPLICAS: 'many' })), env: { CALMSWAP_SWARM_DEADLINE: '1s' } })
    await expect(swarmDeploy(h.ctx)).rejects.toMatchObject({
      exitCode: 2,
      message: expect.stringMatching(/cannot fill in the variables of the stack file .* as docker stack deploy would .*replicas.*"many"/s),
    })
  })

  it('a first deploy waits for as many workers as the file asks for once filled in', async () => {
    const h = swarmHarness({ setup: (w) => (w.env = { WORKER_REPLICAS: '3' }) })
    const ctx = makeContext({ config: h.config, exec: new DryRunExecutor(new RecordingExecutor(h.world.respond), () => {}), ui: h.ctx.ui })
    await swarmDeploy(ctx)
    expect(h.out.join('')).toMatch(/# then wait until 3 tasks of worker run/)
  })
})

describe('swarm mode and compose-mode settings', () => {
  it('CALMSWAP_JOBS is a config problem, reported with the others', () => {
    let problems: readonly string[] = []
    try {
      swarmHarness({ env: { CALMSWAP_JOBS: 'migrate', CALMSWAP_SWARM_PARALLELISM: '0' } })
    } catch (e) {
      problems = (e as ConfigError).problems
    }
    expect(problems).toEqual([expect.stringMatching(/^CALMSWAP_SWARM_PARALLELISM/), expect.stringMatching(/^CALMSWAP_JOBS \(migrate\): release jobs are a step of compose mode/)])
  })

  it('--rerun-jobs is a usage error', async () => {
    const h = swarmHarness({ setup: (w) => w.seedStack() })
    await expect(swarmDeploy(h.ctx, { rerunJobs: true })).rejects.toMatchObject({ exitCode: 2, message: expect.stringMatching(/^--rerun-jobs .* swarm mode runs no release jobs/) })
  })

  it("a worker's quiesce gets what its stop_grace_period in the stack file leaves, not CALMSWAP_STOP_GRACE's", async () => {
    const h = swarmHarness({ stack: (s) => (s.worker!.stop_grace_period = '12s'), setup: (w) => w.seedStack() })
    await swarmDeploy(h.ctx)
    // The grace, less the margin the warm shutdown keeps.
    expect(h.exec.calls.find((c) => c.argv[1] === 'exec')!.argv.at(-1)).toBe(String(12 - DEADLINE.quiesceMargin / 1000))
  })
})

describe('swarm doctor and status read the stack file as its deploy would', () => {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: Compose's own interpolation, for docker compose config to fill in
  const needsRelease = (s: Record<string, Record<string, any>>) => (s.web!.image = 'app:${CALMSWAP_RELEASE:?the release}')
  it('with no CALMSWAP_RELEASE of their own, the file that needs one reads', async () => {
    const h = swarmHarness({ env: { CALMSWAP_RELEASE: '' }, stack: needsRelease })
    const checks = await swarmDoctor(h.ctx)
    expect(checks.filter((c) => /cannot fill in/.test(c.detail))).toEqual([])
  })
})
