// Image tags and ids: how a release's images are kept (lib/compose/images.ts).
import type { Cmd } from '../command.ts'
import type { Config } from '../config.ts'
import { DEADLINE } from '../deadlines.ts'

/** The image id a reference names now: one line, "sha256:...". */
export const imageId = (c: Config, ref: string): Cmd => ({
  argv: [c.docker, 'image', 'inspect', '--format', '{{.Id}}', ref],
  mutates: false,
  timeoutMs: DEADLINE.image,
  api: { op: 'image', ref },
})

/** Gives the image `source` names one more name, `ref`; the image itself does not change. */
export const tagImage = (c: Config, source: string, ref: string): Cmd => ({
  argv: [c.docker, 'tag', source, ref],
  mutates: true,
  timeoutMs: DEADLINE.image,
  api: { op: 'tag', id: source, ref },
})

/**
 * Removes one name of an image, and the image with its layers once no name and no container
 * is left. Never forced: an image a container still uses is refused, and stays.
 */
export const untagImage = (c: Config, ref: string): Cmd => ({
  argv: [c.docker, 'rmi', ref],
  mutates: true,
  timeoutMs: DEADLINE.image,
  api: { op: 'rmi', ref },
})
