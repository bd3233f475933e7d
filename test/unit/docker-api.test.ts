// The Engine API side of the builders, against a fake socket: a read answers the Engine's
// JSON as data, never as text, and its Reader makes of it what it makes of the argv's stdout.
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import * as dc from '../../lib/builders/index.ts'
import { answer, type Cmd } from '../../lib/command.ts'
import { loadConfig } from '../../lib/config-loader.ts'
import { callApi, cgroupCpuReader, composePlugin, type DockerApi, type DockerApiResponse, demux, dockerSocket } from '../../lib/docker-api.ts'
import { ProcessExecutor } from '../../lib/executor.ts'
import { containerList, healthStatusOf, imagesByName, runStates, volumesByName } from '../../lib/inventory.ts'

/** The command's API call, answered by `e`. */
const api = (cmd: Cmd, e: DockerApi) => callApi(e, cmd.api!)

const dir = mkdtempSync(join(tmpdir(), 'calmswap-engine-'))
writeFileSync(join(dir, 'compose.yml'), 'services: {}\n')
const c = loadConfig({ env: {}, cwd: dir })

type Route = (method: string, path: string, body: unknown) => { status?: number; json?: unknown; raw?: Buffer } | undefined

class FakeDockerApi implements DockerApi {
  readonly host = 'unix:///fake.sock'
  readonly calls: string[] = []
  constructor(private readonly route: Route) {}
  async call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<DockerApiResponse> {
    this.calls.push(`${method} ${path}`)
    const r = this.route(method, path, body) ?? { status: 404, json: { message: `No such container: ${path}` } }
    return { status: r.status ?? 200, body: r.raw ?? Buffer.from(r.json === undefined ? '' : JSON.stringify(r.json)) }
  }
}

const frame = (stream: 1 | 2, text: string) => {
  const head = Buffer.alloc(8)
  head[0] = stream
  head.writeUInt32BE(Buffer.byteLength(text), 4)
  return Buffer.concat([head, Buffer.from(text)])
}

const container = {
  Id: 'f00d',
  Names: ['/shop-blue-web-1'],
  Image: 'shop:abc',
  State: 'running',
  Status: 'Up 2 minutes (healthy)',
  Labels: { 'com.docker.compose.project': 'shop-blue', 'com.docker.compose.service': 'web', 'com.docker.compose.project.working_dir': '/srv/shop' },
}

/** A read's answer through the API: data, and no text for a parser to read. */
const viaApi = async (cmd: Cmd, e: DockerApi) => {
  const r = await api(cmd, e)
  expect(r.stdout).toBe('')
  expect(r.data).toBeDefined()
  return r
}

describe('API answers read like the CLI', () => {
  const listed = {
    id: 'f00d',
    project: 'shop-blue',
    service: 'web',
    state: 'running',
    status: 'Up 2 minutes (healthy)',
    health: 'healthy',
    name: 'shop-blue-web-1',
    image: 'shop:abc',
    workingDir: '/srv/shop',
  }
  it('the inventory, from the API', async () => {
    const e = new FakeDockerApi((_m, p) => (p.startsWith('/containers/json?all=1&filters=') ? { json: [container] } : undefined))
    expect(answer(await viaApi(dc.listContainers(c), e), containerList)).toEqual([listed])
    expect(decodeURIComponent(e.calls[0]!)).toContain('{"label":["com.docker.compose.project"]}')
  })
  it('the inventory, from the CLI', () =>
    expect(answer({ code: 0, stdout: 'f00d\tshop-blue\tweb\trunning\tUp 2 minutes (healthy)\tshop-blue-web-1\tshop:abc\t/srv/shop\n', stderr: '' }, containerList)).toEqual([
      listed,
    ]))
  it('link aliases are not names', () => expect(containerList.api([{ ...container, Names: ['/a', '/b/alias'] }])[0]!.name).toBe('a'))
  it('a reader given data never parses text', () => expect(answer({ code: 0, stdout: 'not\tthe\tanswer\n', stderr: '', data: [] }, containerList)).toEqual([]))
  it('version through the API', async () =>
    expect((await api(dc.dockerVersion(c), new FakeDockerApi((_m, p) => (p === '/version' ? { json: { Version: '20.10.24' } } : undefined)))).stdout).toBe('20.10.24'))
  it('no healthcheck reads as none', async () =>
    expect(answer(await viaApi(dc.healthStatus(c, 'x'), new FakeDockerApi(() => ({ json: { Name: '/x', Image: 'i', State: {} } }))), healthStatusOf)).toBe(''))
  it('health status', async () =>
    expect(
      answer(await viaApi(dc.healthStatus(c, 'x'), new FakeDockerApi(() => ({ json: { Name: '/x', Image: 'i', State: { Health: { Status: 'starting' } } } }))), healthStatusOf),
    ).toBe('starting'))
  it('image ids, from either source', async () => {
    const fromApi = answer(await viaApi(dc.imageIds(c, ['x']), new FakeDockerApi(() => ({ json: { Name: '/x', Image: 'sha256:1', State: {} } }))), imagesByName)
    expect(fromApi).toEqual(new Map([['x', 'sha256:1']]))
    expect(answer({ code: 0, stdout: '/x sha256:1\n', stderr: '' }, imagesByName)).toEqual(fromApi)
  })
  it('named volumes, from either source', async () => {
    const Mounts = [
      { Type: 'volume', Name: 'shop_pg', Destination: '/var/lib/postgresql/data' },
      { Type: 'bind', Destination: '/etc/app' },
    ]
    const fromApi = answer(await viaApi(dc.volumeMounts(c, ['db']), new FakeDockerApi(() => ({ json: { Name: '/db', Image: 'i', Mounts, State: {} } }))), volumesByName)
    expect(fromApi).toEqual(new Map([['db', new Map([['/var/lib/postgresql/data', 'shop_pg']])]]))
    expect(answer({ code: 0, stdout: '/db shop_pg:/var/lib/postgresql/data,\n', stderr: '' }, volumesByName)).toEqual(fromApi)
  })
  it('run state, from either source', async () => {
    const State = { Status: 'running', StartedAt: '2024-01-01T00:00:00Z', ExitCode: 0 }
    const fromApi = answer(await viaApi(dc.runState(c, ['w']), new FakeDockerApi(() => ({ json: { Name: '/w', Image: 'i', RestartCount: 2, State } }))), runStates)
    expect(fromApi).toEqual([{ name: 'w', status: 'running', restarts: 2, startedAt: '2024-01-01T00:00:00Z', exitCode: 0 }])
    expect(answer({ code: 0, stdout: '/w running 2 2024-01-01T00:00:00Z 0\n', stderr: '' }, runStates)).toEqual(fromApi)
  })
  it('wait succeeds for each container', async () =>
    expect(await api(dc.waitExit(c, ['a', 'b'], 1000), new FakeDockerApi(() => ({ json: { StatusCode: 0 } })))).toMatchObject({ code: 0 }))
  it('a missing container fails like the CLI', async () =>
    expect(await api(dc.healthStatus(c, 'gone'), new FakeDockerApi(() => undefined))).toMatchObject({ code: 1, stderr: expect.stringContaining('No such container') }))
  it("a refused read fails like the CLI, in the daemon's words", async () =>
    expect(await api(dc.dockerVersion(c), new FakeDockerApi(() => ({ status: 500, json: { message: 'boom' } })))).toEqual({
      code: 1,
      stdout: '',
      stderr: 'Error response from daemon: boom',
    }))
})

describe('signals through the API', () => {
  it('one POST per container, with the signal', async () => {
    const e = new FakeDockerApi((m) => (m === 'POST' ? { status: 204 } : undefined))
    expect(await api(dc.kill(c, ['a', 'b'], 'SIGKILL'), e)).toMatchObject({ code: 0 })
    expect(e.calls).toEqual(['POST /containers/a/kill?signal=SIGKILL', 'POST /containers/b/kill?signal=SIGKILL'])
  })
  it('one failure still signals the rest, and fails', async () => {
    const e = new FakeDockerApi((_m, p) => (p.includes('/a/') ? { status: 409, json: { message: 'Container a is not running' } } : { status: 204 }))
    expect(await api(dc.kill(c, ['a', 'b']), e)).toMatchObject({ code: 1, stderr: 'Error response from daemon: Container a is not running' })
    expect(e.calls).toHaveLength(2)
  })
  it('pause', async () => {
    const e = new FakeDockerApi(() => ({ status: 204 }))
    await api(dc.pauseContainers(c, ['w']), e)
    expect(e.calls).toEqual(['POST /containers/w/pause'])
  })
  it('unpause', async () => {
    const e = new FakeDockerApi(() => ({ status: 204 }))
    await api(dc.unpauseContainers(c, ['w', 'v']), e)
    expect(e.calls).toEqual(['POST /containers/w/unpause', 'POST /containers/v/unpause'])
  })
})

describe('exec through the API', () => {
  const engine = (exit: number) =>
    new FakeDockerApi((_m, p) => {
      if (p === '/containers/proxy/exec') return { status: 201, json: { Id: 'e1' } }
      if (p === '/exec/e1/start') return { raw: Buffer.concat([frame(1, 'out\n'), frame(2, 'syntax ok\n')]) }
      if (p === '/exec/e1/json') return { json: { ExitCode: exit } }
    })
  it('stdout, stderr and the exit code', async () =>
    expect(await api(dc.dockerExec(c, 'proxy', ['nginx', '-t'], true), engine(0))).toEqual({ code: 0, stdout: 'out\n', stderr: 'syntax ok\n' }))
  it('a failing command fails', async () => expect((await api(dc.dockerExec(c, 'proxy', ['nginx', '-t'], true), engine(1))).code).toBe(1))
  it('demux keeps order within a stream', () => expect(demux(Buffer.concat([frame(1, 'a'), frame(2, 'x'), frame(1, 'b')]))).toEqual({ stdout: 'ab', stderr: 'x' }))
})

describe('container CPU', () => {
  it('% of one CPU over the window', async () => {
    let n = 0
    // Pid 0: no cgroup to read from here, so the stats API answers.
    const e = new FakeDockerApi((_m, p) =>
      p.endsWith('/json') ? { json: { State: { Pid: 0 } } } : { json: { cpu_stats: { cpu_usage: { total_usage: n++ === 0 ? 0 : 50_000_000 } } } },
    )
    const cpu = answer(await viaApi(dc.containerCpu(c, ['0123456789abcdef'], 100), e), dc.maxCpu)
    // 50 ms of CPU over a window of ~100 ms (a timer may fire a millisecond early) or more.
    expect(cpu).toBeGreaterThan(20)
    expect(cpu).toBeLessThan(52)
  })
  const tree = (cgroup: string, file: string, content: string) => {
    const root = mkdtempSync(join(tmpdir(), 'calmswap-cg-'))
    mkdirSync(join(root, 'proc/42'), { recursive: true })
    writeFileSync(join(root, 'proc/42/cgroup'), cgroup)
    mkdirSync(join(root, 'sys', file, '..'), { recursive: true })
    writeFileSync(join(root, 'sys', file), content)
    return cgroupCpuReader(42, join(root, 'proc'), join(root, 'sys'))
  }
  it('cgroup v1 cpuacct', () => expect(tree('2:cpuacct:/docker/abc\n1:cpu:/docker/abc\n', 'cpuacct/docker/abc/cpuacct.usage', '123456789\n')?.()).toBe(123456789))
  it('cgroup v1 cpu,cpuacct', () => expect(tree('4:cpu,cpuacct:/docker/abc\n', 'cpu,cpuacct/docker/abc/cpuacct.usage', '5\n')?.()).toBe(5))
  it('cgroup v2 usage_usec', () => expect(tree('0::/system.slice/docker-abc.scope\n', 'system.slice/docker-abc.scope/cpu.stat', 'usage_usec 7\nuser_usec 5\n')?.()).toBe(7000))
  it('no cgroup visible', () => expect(cgroupCpuReader(42, '/nonexistent')).toBeNull())
  it('reads the CLI format too', () => expect(dc.maxCpu.cli('aaa\t1.50%\nbbb\t97.25%\n')).toBe(97.25))
  it('nothing running is calm', () => expect([dc.maxCpu.cli(''), dc.maxCpu.api([])]).toEqual([0, 0]))
})

describe('when the socket is used', () => {
  const cfgDir = (ctx: string) => {
    const d = mkdtempSync(join(tmpdir(), 'calmswap-dockercfg-'))
    writeFileSync(join(d, 'config.json'), JSON.stringify({ currentContext: ctx }))
    return d
  }
  const none = mkdtempSync(join(tmpdir(), 'calmswap-nocfg-'))
  it('default socket', () => expect(dockerSocket({ DOCKER_CONFIG: none }, 'docker', 'auto')).toBe('/var/run/docker.sock'))
  it('DOCKER_HOST unix', () => expect(dockerSocket({ DOCKER_HOST: 'unix:///run/user/1000/docker.sock' }, 'docker', 'auto')).toBe('/run/user/1000/docker.sock'))
  it('DOCKER_HOST tcp: CLI', () => expect(dockerSocket({ DOCKER_HOST: 'tcp://10.0.0.2:2376' }, 'docker', 'auto')).toBeNull())
  it('DOCKER_HOST ssh: CLI', () => expect(dockerSocket({ DOCKER_HOST: 'ssh://pi@box' }, 'docker', 'auto')).toBeNull())
  it('a wrapper binary: CLI', () => expect(dockerSocket({ DOCKER_CONFIG: none }, '/usr/local/bin/sudo-docker', 'auto')).toBeNull())
  it('off: CLI', () => expect(dockerSocket({ DOCKER_CONFIG: none }, 'docker', 'off')).toBeNull())
  it('DOCKER_CONTEXT: CLI', () => expect(dockerSocket({ DOCKER_CONTEXT: 'pi', DOCKER_CONFIG: none }, 'docker', 'auto')).toBeNull())
  it('a current context in config.json: CLI', () => expect(dockerSocket({ DOCKER_CONFIG: cfgDir('remote') }, 'docker', 'auto')).toBeNull())
  it('the default context: socket', () => expect(dockerSocket({ DOCKER_CONFIG: cfgDir('default') }, 'docker', 'auto')).toBe('/var/run/docker.sock'))
})

describe('the executor', () => {
  it('takes the API when it has an engine', async () => {
    const e = new FakeDockerApi(() => ({ json: { Version: '1' } }))
    const x = new ProcessExecutor(e)
    const via: string[] = []
    x.onRun = (_cmd, _planned, v) => via.push(v!)
    expect((await x.run(dc.dockerVersion(c))).stdout).toBe('1')
    expect(via).toEqual(['api'])
  })
  it('a dead socket reads like the CLI', async () => {
    const e: DockerApi = { host: 'unix:///nonexistent.sock', call: async () => Promise.reject(Object.assign(new Error('connect ENOENT'), { code: 'ENOENT' })) }
    expect(await new ProcessExecutor(e).run(dc.dockerVersion(c))).toEqual({
      code: 1,
      stdout: '',
      stderr: 'Cannot connect to the Docker daemon at unix:///nonexistent.sock. Is the docker daemon running?',
    })
  })
})

describe('docker compose without the docker CLI in front', () => {
  const fakePlugin = () => {
    const d = mkdtempSync(join(tmpdir(), 'calmswap-plugins-'))
    mkdirSync(join(d, 'cli-plugins'))
    const bin = join(d, 'cli-plugins', 'docker-compose')
    writeFileSync(bin, '#!/bin/sh\necho "$@"\n')
    chmodSync(bin, 0o755)
    return { dir: d, bin }
  }
  it('found where the docker CLI looks first', () => {
    const p = fakePlugin()
    expect(composePlugin({ DOCKER_CONFIG: p.dir })).toBe(p.bin)
  })
  it('a non-executable file is not a plugin', () => {
    const d = mkdtempSync(join(tmpdir(), 'calmswap-plugins-'))
    mkdirSync(join(d, 'cli-plugins'))
    writeFileSync(join(d, 'cli-plugins', 'docker-compose'), '')
    expect(composePlugin({ DOCKER_CONFIG: d })).not.toBe(join(d, 'cli-plugins', 'docker-compose'))
  })
  it('the executor runs the plugin with the same arguments, minus "docker compose"', async () => {
    const p = fakePlugin()
    const r = await new ProcessExecutor(null, p.bin).run(dc.composeConfig(c))
    expect(r.stdout.trim()).toBe(dc.composeConfig(c).argv.slice(2).join(' '))
  })
  it('other docker calls are left alone', async () => {
    const p = fakePlugin()
    const r = await new ProcessExecutor(null, p.bin).run({ argv: ['echo', 'compose', 'x'], mutates: false, timeoutMs: 5000 })
    expect(r.stdout.trim()).toBe('compose x')
  })
})
