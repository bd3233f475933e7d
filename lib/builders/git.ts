// git: where the release label comes from.
import type { Cmd } from '../command.ts'
import { DEADLINE } from '../deadlines.ts'

export const gitRevision = (dir: string): Cmd => ({ argv: ['git', '-C', dir, 'rev-parse', '--short', 'HEAD'], mutates: false, timeoutMs: DEADLINE.git })
