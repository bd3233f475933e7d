import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import * as dc from '../../lib/builders/index.ts'
import { type Result, render } from '../../lib/command.ts'
import { loadConfig } from '../../lib/config-loader.ts'
import { makeContext } from '../../lib/context.ts'
import { DEADLINE } from '../../lib/deadlines.ts'
import type { DockerApi } from '../../lib/docker-api.ts'
import { ConfigError } from '../../lib/errors.ts'
import { ProcessExecutor } from '../../lib/executor.ts'
import { LOCAL_PSI, psiSourceOf } from '../../lib/swarm/node-pressure.ts'
import { asStackService, knobsFor, parseStack, stackNotes, stackProblems, stepFile } from '../../lib/swarm/stack.ts'
import { swarmStateProblems } from '../../lib/swarm/state.ts'
import {
  nodesReader,
  parseNodes,
  parseServices,
  parseTasks,
  readLocalContainers,
  readNodes,
  readServices,
  readSwarmInfo,
  readTaskContainers,
  readTasks,
  tasksReader,
} from '../../lib/swarm/view.ts'
import { celeryApp, QUIESCE_NODES_PY } from '../../lib/swarm-celery.ts'

const dir = mkdtempSync(join(tmpdir(), 'calmswap-swarm-unit-'))
const file = join(dir, 'stack.yml')
writeFileSync(file, 'version: "3.9"\n')
const c = loadConfig({ env: { CALMSWAP_ENGINE: 'swarm', CALMSWAP_PREFIX: 'shop', CALMSWAP_COMPOSE_FILE: file }, cwd: dir })

/** A stack file as `docker compose config --no-interpolate --no-normalize` prints it: merge keys resolved, `${VAR}`s kept. */
const app = { image: 'app:$' + '{CALMSWAP_RELEASE:-latest}', environment: { DEBUG: 'yes' } }
const STACK_DATA = {
  configs: { conf: { file: './nginx.conf' } },
  networks: { stack: { driver: 'overlay' } },
  services: {
    redis: { image: 'redis:7' },
    proxy: { image: 'nginx', ports: [{ target: 80, published: '80', mode: 'host', protocol: 'tcp' }] },
    web: { ...app, healthcheck: { test: ['CMD', 'curl', '-f', 'http://127.0.0.1:8000/'] }, deploy: { update_config: { monitor: '9s', order: 'stop-first' } } },
    worker: { ...app, deploy: { mode: 'global', update_config: { parallelism: 3, delay: '2s' } } },
    beat: { ...app, deploy: { replicas: 1 } },
  },
  'x-app': app,
}
/** STACK_DATA with some services changed, as JSON. */
type Editable = { services: Record<string, Record<string, unknown>> }
const edited = (f: (d: Editable) => void) => {
  const d = structuredClone(STACK_DATA) as unknown as Editable
  f(d)
  return JSON.stringify(d)
}
const STACK = JSON.stringify(STACK_DATA)
const stack = parseStack(c, file, STACK)
/** A compose interpolation, which the docker CLI (not calmswap) fills in. */
const RELEASE = '$' + '{CALMSWAP_RELEASE:-latest}'

describe('swarm builders', () => {
  it('scale: detached, one argument per service', () =>
    expect(dc.serviceScale(c, { shop_beat: 0, shop_worker: 0 }).argv).toEqual(['docker', 'service', 'scale', '--detach', 'shop_beat=0', 'shop_worker=0']))
  it('scale goes through the API too', () => expect(dc.serviceScale(c, { shop_beat: 1 }).api).toEqual({ op: 'scale', replicas: { shop_beat: 1 } }))
  it('rollback: detached', () => expect(dc.serviceRollback(c, 'shop_web').argv).toEqual(['docker', 'service', 'rollback', '--detach', 'shop_web']))
  it('restart: a forced update, detached', () => expect(dc.serviceRestart(c, 'shop_worker').argv).toEqual(['docker', 'service', 'update', '--detach', '--force', 'shop_worker']))
  it('stack deploy reads the step file on stdin, from the stack file folder', () => {
    const cmd = dc.stackDeploy(c, '{}')
    expect(cmd).toMatchObject({ input: '{}', cwd: dir, mutates: true })
    expect(cmd.argv).toEqual(['docker', 'stack', 'deploy', '--resolve-image', 'always', '--compose-file', '-', 'shop'])
  })
  it('stack deploy hands the release to the interpolation', () =>
    expect(dc.stackDeploy(loadConfig({ env: { CALMSWAP_PREFIX: 'shop', CALMSWAP_COMPOSE_FILE: file, CALMSWAP_RELEASE: 'r9' }, cwd: dir }), '{}').env).toEqual({
      CALMSWAP_PREFIX: 'shop',
      CALMSWAP_RELEASE: 'r9',
    }))
  it('the stack file filled in gets the env its stack deploy gets, and no .env', () => {
    const r9 = loadConfig({ env: { CALMSWAP_PREFIX: 'shop', CALMSWAP_COMPOSE_FILE: file, CALMSWAP_RELEASE: 'r9' }, cwd: dir })
    expect(dc.stackConfigResolved(r9)).toMatchObject({ env: dc.stackDeploy(r9, '{}').env, cwd: dir, mutates: false })
    expect(dc.stackConfigResolved(r9).argv).toEqual([
      'docker',
      'compose',
      '--env-file',
      '/dev/null',
      '-f',
      file,
      'config',
      '--format',
      'json',
      '--no-normalize',
      '--no-path-resolution',
    ])
  })
  it('quiesce through the broker: an exec of the script in a container here, with the app, the deadline and the hosts', () =>
    expect(dc.quiesceNodes(c, 'ctr', 'tasks', 7, ['a1', 'b2'])).toMatchObject({
      argv: ['docker', 'exec', 'ctr', 'python3', '-c', QUIESCE_NODES_PY, 'tasks', '7', 'a1,b2'],
      mutates: true,
      timeoutMs: 7000 + DEADLINE.quiesceBroker,
    }))
  it('or from a one-off container on the stack network, the env from a file, the pull within its deadline', () =>
    expect(dc.quiesceNodesOnce(c, { image: 'app:r1', network: 'net', envFile: '/s/q.env', app: 'tasks', maxS: 7, hosts: ['a1'] })).toMatchObject({
      argv: ['docker', 'run', '--rm', '--network', 'net', '--env-file', '/s/q.env', '--entrypoint', 'python3', 'app:r1', '-c', QUIESCE_NODES_PY, 'tasks', '7', 'a1'],
      timeoutMs: DEADLINE.pull + 7000 + DEADLINE.quiesceBroker,
    }))
  it('service ps as JSON lines, every task', () =>
    expect(dc.serviceTasks(c, ['shop_web']).argv).toEqual(['docker', 'service', 'ps', '--no-trunc', '--format', '{{json .}}', 'shop_web']))
  it('reads do not mutate', () => expect([dc.serviceInspect(c, ['a']), dc.nodeList(c), dc.swarmInfo(c), dc.serviceTasks(c, ['a'])].every((x) => !x.mutates)).toBe(true))
  it('a stack service is <prefix>_<service>', () => expect(dc.serviceName(c, 'web')).toBe('shop_web'))
  it('render shows stdin as a here-document', () => expect(render({ argv: ['docker', 'stack', 'deploy'], input: '{"a":1}\n' })).toBe(`docker stack deploy <<'EOF'\n{"a":1}\nEOF`))
})

describe('swarm settings', () => {
  const bad = (env: Record<string, string>) => () => loadConfig({ env: { CALMSWAP_COMPOSE_FILE: file, ...env }, cwd: dir })
  it('engine is compose or swarm', () => expect(bad({ CALMSWAP_ENGINE: 'k8s' })).toThrow(/CALMSWAP_ENGINE="k8s": must be one of compose, swarm/))
  it('a node PSI template names {node}', () => expect(bad({ CALMSWAP_NODE_PSI: '/sys/fs/cgroup/cpu.pressure' })).toThrow(/must contain \{node\}/))
  it('failure ratio is a percentage, handed to Swarm as a ratio', () =>
    expect(loadConfig({ env: { CALMSWAP_COMPOSE_FILE: file, CALMSWAP_SWARM_FAILURE_RATIO: '25' }, cwd: dir }).swarm.failureRatio).toBe(0.25))
  it('every swarm problem together', () => {
    try {
      bad({ CALMSWAP_SWARM_PARALLELISM: '0', CALMSWAP_SWARM_DEADLINE: 'soon', CALMSWAP_SWARM_RESOLVE_IMAGE: 'maybe' })()
    } catch (e) {
      expect((e as ConfigError).problems).toHaveLength(3)
    }
  })
})

describe('the stack file', () => {
  it('the service as Compose printed it', () => expect(stack.services.get('web')!.raw).toMatchObject({ image: `app:${RELEASE}`, environment: { DEBUG: 'yes' } }))
  it('roles, modes, replicas', () => {
    expect(stack.services.get('worker')).toMatchObject({ role: 'worker', global: true, replicas: null })
    expect(stack.services.get('beat')).toMatchObject({ role: 'singleton', global: false, replicas: 1 })
  })
  it('the example is deployable', () => expect(stackProblems(c, stack)).toEqual([]))
  it('a web without a healthcheck is refused', () =>
    expect(
      stackProblems(
        c,
        parseStack(
          c,
          file,
          edited((d) => delete d.services.web!.healthcheck),
        ),
      ),
    ).toEqual([expect.stringMatching(/web service "web" has no healthcheck/)]))
  it('a web or core service publishing a host-mode port is refused (start-first would wait forever)', () => {
    const proxyIsCore = loadConfig({ env: { CALMSWAP_COMPOSE_FILE: file, CALMSWAP_SHARED: 'redis', CALMSWAP_CORE: 'proxy', CALMSWAP_PROXY: 'none' }, cwd: dir })
    expect(stackProblems(proxyIsCore, parseStack(proxyIsCore, file, STACK))).toEqual([expect.stringMatching(/core service "proxy" publishes a port in mode: host/)])
  })
  it('a beat with two replicas is refused', () =>
    expect(
      stackProblems(
        c,
        parseStack(
          c,
          file,
          edited((d) => (d.services.beat!.deploy = { replicas: 2 })),
        ),
      ),
    ).toEqual([expect.stringMatching(/singleton "beat" must run once/)]))
  it('a service without a role is refused', () =>
    expect(
      stackProblems(
        c,
        parseStack(
          c,
          file,
          edited((d) => ((d.services.cache = d.services.redis!), delete d.services.redis)),
        ),
      ),
    ).toEqual([expect.stringMatching(/shared service "redis" is not in/), expect.stringMatching(/service "cache" has no role/)]))
  it('output that is not JSON is a config error', () => expect(() => parseStack(c, file, 'services: [')).toThrow(ConfigError))
  it('mode, replicas and stop grace as the file fills them in', () => {
    const written = edited((d) => (d.services.beat = { ...app, stop_grace_period: '$' + '{GRACE}', deploy: { mode: '$' + '{MODE}', replicas: '$' + '{N}' } }))
    const filled = edited((d) => (d.services.beat = { ...app, stop_grace_period: '1m30s', deploy: { mode: 'replicated', replicas: 3 } }))
    expect(parseStack(c, file, written, filled).services.get('beat')).toMatchObject({ global: false, replicas: 3, stopGraceMs: 90_000 })
  })
  it('a value filled in that is not what the stack deploy takes is a problem', () =>
    expect(
      stackProblems(
        c,
        parseStack(
          c,
          file,
          STACK,
          edited((d) => (d.services.beat!.deploy = { replicas: 'two' })),
        ),
      ),
    ).toEqual([expect.stringMatching(/service "beat": deploy.replicas is 1, "two" filled in: not a number of replicas/)]))
})

describe('update knobs per role', () => {
  it('web: start-first, rollback on failure, the file monitor kept', () =>
    expect(knobsFor(c, stack.services.get('web')!)).toEqual({
      update_config: { monitor: '9s', order: 'start-first', parallelism: 1, delay: '0s', max_failure_ratio: 0, failure_action: 'rollback' },
      rollback_config: { parallelism: 1, delay: '0s', monitor: '5s', max_failure_ratio: 0, order: 'start-first' },
    }))
  it('a global worker: one node at a time, stop-first, its delay kept', () =>
    expect(knobsFor(c, stack.services.get('worker')!).update_config).toMatchObject({ parallelism: 1, delay: '2s', order: 'stop-first', failure_action: 'rollback' }))
  it('beat: stop-first both ways', () => {
    const k = knobsFor(c, stack.services.get('beat')!)
    expect([k.update_config.order, k.rollback_config.order]).toEqual(['stop-first', 'stop-first'])
  })
  it('the defaults come from the settings', () =>
    expect(
      knobsFor(loadConfig({ env: { CALMSWAP_COMPOSE_FILE: file, CALMSWAP_SWARM_MONITOR: '12s', CALMSWAP_SWARM_DELAY: '1500ms' }, cwd: dir }), stack.services.get('beat')!)
        .update_config,
    ).toMatchObject({ monitor: '12s', delay: '1500ms' }))
  it('what calmswap overrides is said', () =>
    expect(stackNotes(c, stack)).toEqual([
      "web: update_config.order stop-first in the file, start-first in calmswap's steps",
      "worker: update_config.parallelism 3 in the file, 1 in calmswap's steps",
    ]))
})

describe('step files', () => {
  const step = JSON.parse(stepFile(c, stack, ['web']))
  it('only the services of the step', () => expect(Object.keys(step.services)).toEqual(['web']))
  it('networks and configs kept, extension fields dropped', () => expect(Object.keys(step)).toEqual(['version', 'configs', 'networks', 'services']))
  it('a version the Debian docker CLI reads', () => expect(step.version).toBe('3.9'))
  it('interpolation left to the docker CLI', () => expect(step.services.web.image).toBe(`app:${RELEASE}`))
  it('the knobs in the service', () => expect(step.services.web.deploy.update_config.order).toBe('start-first'))
  it('shared services as written, ports back in the schema of stack deploy', () =>
    expect(JSON.parse(stepFile(c, stack, ['proxy'])).services.proxy).toEqual({ image: 'nginx', ports: [{ target: 80, published: 80, mode: 'host', protocol: 'tcp' }] }))
})

describe('from what Compose prints to what stack deploy takes', () => {
  it('depends_on conditions back to a list', () => expect(asStackService({ depends_on: { db: { condition: 'service_started', required: true } } })).toEqual({ depends_on: ['db'] }))
  it('a published port as a number', () => expect(asStackService({ ports: [{ target: 80, published: '8080' }] }).ports).toEqual([{ target: 80, published: 8080 }]))
  it('a published range left for the CLI to judge', () =>
    expect(asStackService({ ports: [{ target: 80, published: '8080-8081' }] }).ports).toEqual([{ target: 80, published: '8080-8081' }]))
  it('the bind option only Compose knows dropped', () =>
    expect(asStackService({ volumes: [{ type: 'bind', source: './d', target: '/d', bind: { create_host_path: true } }] }).volumes).toEqual([
      { type: 'bind', source: './d', target: '/d' },
    ]))
  it('other bind options kept', () =>
    expect(asStackService({ volumes: [{ type: 'bind', source: './d', target: '/d', bind: { propagation: 'rshared', create_host_path: true } }] }).volumes).toEqual([
      { type: 'bind', source: './d', target: '/d', bind: { propagation: 'rshared' } },
    ]))
  it('the service itself untouched', () => {
    const raw = { depends_on: { db: {} }, ports: [{ target: 80, published: '80' }] }
    asStackService(raw)
    expect(raw).toEqual({ depends_on: { db: {} }, ports: [{ target: 80, published: '80' }] })
  })
})

describe('reading swarm answers', () => {
  const svc = (spec: object, prev?: object, update?: object) =>
    JSON.stringify([
      {
        ID: 'x',
        Version: { Index: 7 },
        Spec: { Name: 'shop_web', ...spec },
        ...(prev ? { PreviousSpec: { Name: 'shop_web', ...prev } } : {}),
        ...(update ? { UpdateStatus: update } : {}),
      },
    ])
  const tpl = (image: string) => ({ TaskTemplate: { ContainerSpec: { Image: image, StopGracePeriod: 5e9 } }, Mode: { Replicated: { Replicas: 1 } } })
  it('a new image is a template change', () =>
    expect(parseServices(svc(tpl('a:2'), tpl('a:1')))[0]).toMatchObject({ templateChanged: true, replicasChanged: false, stopGraceMs: 5000 }))
  it('a scale is not', () =>
    expect(parseServices(svc(tpl('a:1'), { ...tpl('a:1'), Mode: { Replicated: { Replicas: 0 } } }))[0]).toMatchObject({
      templateChanged: false,
      replicasChanged: true,
      previousReplicas: 0,
    }))
  it('update status', () =>
    expect(parseServices(svc(tpl('a:1'), undefined, { State: 'rollback_completed', StartedAt: 't', Message: 'rollback completed' }))[0]!.update).toEqual({
      state: 'rollback_completed',
      startedAt: 't',
      completedAt: '',
      message: 'rollback completed',
    }))
  it('a task state is the first word of CurrentState', () =>
    expect(parseTasks('{"ID":"t1","Name":" \\\\_ shop_web.1","Image":"a","Node":"n1","DesiredState":"Shutdown","CurrentState":"Running 2 seconds ago","Error":""}\n')).toEqual([
      { id: 't1', service: 'shop_web', name: 'shop_web.1', image: 'a', node: 'n1', desired: 'shutdown', state: 'running', error: '' },
    ]))
  it('nodes', () =>
    expect(parseNodes('{"ID":"n1","Hostname":"pi1","Status":"Ready","Availability":"Active","ManagerStatus":"Leader","Self":true,"EngineVersion":"20.10"}')).toEqual([
      { id: 'n1', hostname: 'pi1', status: 'ready', availability: 'active', manager: 'leader', self: true, engine: '20.10' },
    ]))
  const apiTask = { ID: 't', ServiceID: 's', Slot: 2, NodeID: 'n', DesiredState: 'running', Spec: { ContainerSpec: { Image: 'a:1' } }, Status: { State: 'starting' } }
  const apiService = { ID: 's', Version: { Index: 3 }, Spec: { Name: 'shop_web', Mode: { Replicated: { Replicas: 1 } } } }
  const apiNode = {
    ID: 'n',
    Description: { Hostname: 'pi2', Engine: { EngineVersion: '20.10' } },
    Spec: { Availability: 'drain' },
    Status: { State: 'down' },
    ManagerStatus: { Reachability: 'reachable' },
  }
  it('a task reads the same from the API as from the CLI', () => {
    const fromApi = tasksReader.api({ tasks: [apiTask], services: [apiService], nodes: [apiNode] })
    expect(fromApi).toEqual([{ id: 't', service: 'shop_web', name: 'shop_web.2', image: 'a:1', node: 'pi2', desired: 'running', state: 'starting', error: '' }])
    expect(tasksReader.cli('{"ID":"t","Name":"shop_web.2","Image":"a:1","Node":"pi2","DesiredState":"Running","CurrentState":"Starting 3 seconds ago","Error":""}\n')).toEqual(
      fromApi,
    )
  })
  it("a global service's task is named by its node", () =>
    expect(tasksReader.api({ tasks: [{ ...apiTask, Slot: undefined }], services: [apiService], nodes: [] })[0]).toMatchObject({ name: 'shop_web.n', node: 'n' }))
  it('a node reads the same from the API as from the CLI', () => {
    const fromApi = nodesReader.api({ nodes: [apiNode, { ID: 'm', ManagerStatus: { Leader: true } }], self: 'm' })
    expect(fromApi[0]).toEqual({ id: 'n', hostname: 'pi2', status: 'down', availability: 'drain', manager: 'reachable', self: false, engine: '20.10' })
    expect(fromApi[1]).toMatchObject({ manager: 'leader', self: true })
    expect(nodesReader.cli('{"ID":"n","Hostname":"pi2","Status":"Down","Availability":"Drain","ManagerStatus":"Reachable","Self":false,"EngineVersion":"20.10"}')).toEqual([
      fromApi[0],
    ])
  })
  it("the stack's reads through the Engine API: data, never text", async () => {
    const answers: Record<string, unknown> = {
      '/info': { Swarm: { LocalNodeState: 'active', ControlAvailable: true, NodeID: 'n', Nodes: 1, Managers: 1 } },
      '/nodes': [apiNode],
      '/services/shop_web': apiService,
      '/tasks/t': { ...apiTask, Status: { ContainerStatus: { ContainerID: 'c1' } } },
      '/tasks/u': { ...apiTask, ID: 'u', Status: {} },
    }
    const engine: DockerApi = {
      host: 'unix:///fake.sock',
      async call(_m, path) {
        const json = path.startsWith('/tasks?')
          ? [apiTask]
          : path.startsWith('/containers/json?')
            ? [{ Id: 'c1', Names: ['/x'], Image: 'a', State: 'running', Status: 'Up', Labels: { 'com.docker.swarm.service.name': 'shop_web', 'com.docker.swarm.task.id': 't' } }]
            : answers[path]
        return json === undefined ? { status: 404, body: Buffer.from('{"message":"service not found"}') } : { status: 200, body: Buffer.from(JSON.stringify(json)) }
      },
    }
    const results: Result[] = []
    const exec = new ProcessExecutor(engine)
    const run = exec.run.bind(exec)
    exec.run = async (cmd, signal) => {
      const r = await run(cmd, signal)
      results.push(r)
      return r
    }
    const ctx = makeContext({ config: c, exec })
    expect(await readSwarmInfo(ctx)).toEqual({ state: 'active', manager: true, nodeId: 'n', nodes: 1, managers: 1, error: '' })
    expect((await readNodes(ctx)).map((n) => n.hostname)).toEqual(['pi2'])
    expect([...(await readServices(ctx, ['web', 'gone'])).keys()]).toEqual(['web'])
    expect(await readTasks(ctx, ['web', 'gone'])).toEqual([
      { id: 't', service: 'shop_web', name: 'shop_web.2', image: 'a:1', node: 'pi2', desired: 'running', state: 'starting', error: '' },
    ])
    expect(await readLocalContainers(ctx)).toEqual([{ id: 'c1', service: 'shop_web', task: 't', state: 'running' }])
    expect(await readTaskContainers(ctx, ['t', 'u'])).toEqual(new Map([['t', 'c1']]))
    expect(results.map((r) => r.stdout)).toEqual(results.map(() => ''))
    expect(results.filter((r) => r.data === undefined)).toEqual([results[3]]) // the first `service ps`, refused for the missing service
  })
})

describe('CPU pressure per node', () => {
  const withTemplate = loadConfig({ env: { CALMSWAP_COMPOSE_FILE: file, CALMSWAP_NODE_PSI: '/sys/fs/cgroup/unified/{node}/cpu.pressure' }, cwd: dir })
  it("a node's own file, from the template", () =>
    expect(psiSourceOf(withTemplate, 'cs-node2', 'vm', () => true)).toEqual({ file: '/sys/fs/cgroup/unified/cs-node2/cpu.pressure', source: 'node' }))
  it('the node calmswap runs on: /proc/pressure/cpu', () => expect(psiSourceOf(c, 'vm', 'vm', () => true)).toEqual({ file: LOCAL_PSI, source: 'local' }))
  it('any other node: unreadable, never guessed', () => expect(psiSourceOf(withTemplate, 'pi3', 'vm', (f) => f === LOCAL_PSI)).toBeNull())
})

describe('swarm.json', () => {
  it('a record calmswap wrote', () =>
    expect(swarmStateProblems({ version: 1, release: 'r1', journal: null, last: { release: 'r1', services: { web: { role: 'web', deployedFrom: 3 } } } })).toEqual([]))
  it('anything else is refused, each problem named', () =>
    expect(swarmStateProblems({ version: 2, journal: { op: 'drop', release: 1, pid: 'x', done: 'all', services: { web: { role: 'boss', replicas: 1.5 } } } })).toHaveLength(6))
})

describe('the Celery app of a worker', () => {
  it.each([
    [['celery', '-A', 'proj', 'worker'], 'proj'],
    [['celery', '--app=proj.celery', 'worker'], 'proj.celery'],
    [['celery', '-Aproj', 'worker'], 'proj'],
    [['celery', 'worker'], null],
  ])('%j → %s', (argv, app) => expect(celeryApp(argv)).toBe(app))
})

describe('stdin', () => {
  it('a command gets its input on stdin', async () =>
    expect((await new ProcessExecutor().run({ argv: ['cat'], input: 'hello', mutates: false, timeoutMs: 5000 })).stdout).toBe('hello'))
})
