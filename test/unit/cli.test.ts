import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { secondSignalMessage } from '../../lib/cli.ts'
import { loadConfig } from '../../lib/config-loader.ts'
import { ENGINES } from '../../lib/engines.ts'

const config = (engine: string) => loadConfig({ env: { CALMSWAP_ENGINE: engine, CALMSWAP_COMPOSE_FILE: 'package.json', CALMSWAP_STATE_DIR: '/srv/state' } })

describe('the second Ctrl-C', () => {
  it('names the file that journals a swarm operation, and what a deploy run again does', () =>
    expect(secondSignalMessage('SIGINT', 'deploy', config('swarm'), ENGINES.swarm)).toBe(
      `SIGINT again: exiting now. ${join('/srv/state', 'swarm.json')} records how far it got: deploy run again continues from there, or names the command that does.`,
    ))
  it('names the state file in compose mode', () => expect(secondSignalMessage('SIGINT', 'rollback', config('compose'))).toMatch(/\/srv\/state\/state.json records how far it got/))
})
