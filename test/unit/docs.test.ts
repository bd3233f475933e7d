import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { loadConfig } from '../../lib/config-loader.ts'

// README.md and docs/ are what people copy commands and settings from: every setting, Make
// target and link they name must exist, or the page sends a newcomer nowhere.
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const SKIP = new Set(['node_modules', '.git', 'dist', 'out'])

function markdownFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    if (SKIP.has(e.name)) return []
    const path = join(dir, e.name)
    return e.isDirectory() ? markdownFiles(path) : e.name.endsWith('.md') ? [path] : []
  })
}

/** Every markdown file of the repository, by its path from the root. */
const ALL = markdownFiles(ROOT).map((p) => relative(ROOT, p))
/** The pages the project's own documentation is made of: README, the changelog and docs/. */
const PAGES = ALL.filter((p) => p === 'README.md' || p === 'CHANGELOG.md' || p.startsWith('docs/'))
const read = (p: string) => readFileSync(join(ROOT, p), 'utf8')

/** The text outside fenced code blocks, and the text inside them. */
function split(text: string): { prose: string; code: string } {
  const prose: string[] = []
  const code: string[] = []
  let fenced = false
  for (const line of text.split('\n')) {
    if (/^\s*```/.test(line)) fenced = !fenced
    else (fenced ? code : prose).push(line)
  }
  return { prose: prose.join('\n'), code: code.join('\n') }
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchors(text: string): Set<string> {
  const out = new Set<string>()
  const seen = new Map<string, number>()
  for (const m of split(text).prose.matchAll(/^#{1,6}\s+(.+?)\s*#*$/gm)) {
    const slug = (m[1] ?? '')
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-')
    const n = seen.get(slug) ?? 0
    seen.set(slug, n + 1)
    out.add(n ? `${slug}-${n}` : slug)
  }
  return out
}

/** Every link target of a page's prose (inline links and images), web addresses left out. */
function links(text: string): string[] {
  return [...split(text).prose.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\)/g)].map((m) => m[1] ?? '').filter((t) => !/^[a-z][a-z0-9+.-]*:/i.test(t))
}

/** Why a link from `from` does not lead anywhere, or undefined when it does. */
function brokenLink(from: string, target: string, readPage: (p: string) => string | undefined): string | undefined {
  const [path, anchor] = target.split('#', 2)
  const file = path ? relative(ROOT, resolve(ROOT, dirname(from), decodeURI(path))) : from
  if (file.startsWith('..')) return `${target} leaves the repository`
  const text = readPage(file)
  if (text === undefined) return `${target}: no file ${file}`
  if (anchor !== undefined && file.endsWith('.md') && !anchors(text).has(anchor)) return `${target}: no heading #${anchor} in ${file}`
  return undefined
}

// A link to a folder (an example stack) leads somewhere too; it has no headings to check.
const readIfThere = (p: string) => (!existsSync(join(ROOT, p)) ? undefined : statSync(join(ROOT, p)).isDirectory() ? '' : read(p))

describe('links between the pages', () => {
  it.each(ALL)('every relative link of %s leads to a file and a heading', (page) => {
    const broken = links(read(page))
      .map((t) => brokenLink(page, t, readIfThere))
      .filter(Boolean)
    expect(broken).toEqual([])
  })

  it('a link to a missing heading or file is caught', () => {
    const pages: Record<string, string> = { 'README.md': '# calmswap\n## Quickstart\n', 'docs/a.md': '# A page\n## The stop path: quiesce, then SIGTERM\n' }
    const get = (p: string) => pages[p]
    expect(brokenLink('README.md', 'docs/a.md#the-stop-path-quiesce-then-sigterm', get)).toBeUndefined()
    expect(brokenLink('docs/a.md', '../README.md#quickstart', get)).toBeUndefined()
    expect(brokenLink('docs/a.md', '#a-page', get)).toBeUndefined()
    expect(brokenLink('README.md', 'docs/a.md#the-stop-path', get)).toMatch(/no heading #the-stop-path/)
    expect(brokenLink('README.md', 'docs/b.md', get)).toMatch(/no file docs\/b\.md/)
    expect(brokenLink('README.md', '#stop-or-pause', get)).toMatch(/no heading/)
  })

  it('anchors follow GitHub: punctuation dropped, each space a hyphen, repeats numbered', () => {
    expect([
      ...anchors('## Adopting calmswap in an existing Django + Celery repo\n## Three nodes (make swarm-lab-bench)\n## Quickstart\n### Quickstart\n```\n# not a heading\n```'),
    ]).toEqual(['adopting-calmswap-in-an-existing-django--celery-repo', 'three-nodes-make-swarm-lab-bench', 'quickstart', 'quickstart-1'])
  })
})

/** The `make` targets a page names in its code: inline code spans and fenced blocks. */
function makeTargets(text: string): string[] {
  const { prose, code } = split(text)
  const spans = [...prose.matchAll(/`([^`\n]+)`/g)].map((m) => m[1])
  return [...[code, ...spans].join('\n').matchAll(/(?:^|[\s;&|(])make ([a-z][a-z0-9_-]*)/gm)].map((m) => m[1] ?? '')
}

const MAKEFILE_TARGETS = new Set([...read('Makefile').matchAll(/^([a-zA-Z0-9_.-]+):/gm)].map((m) => m[1] ?? ''))

describe('make targets the pages name', () => {
  it.each(PAGES)('%s names only targets of the Makefile', (page) => {
    const targets = makeTargets(read(page))
    expect(targets.filter((t) => !MAKEFILE_TARGETS.has(t))).toEqual([])
  })

  it('finds targets in code and ignores the word in prose', () => {
    expect(makeTargets('run `make deploy ARGS=--dry-run`; it cannot make the box bigger\n```sh\nmake status   # x\nCALMSWAP_RELEASE=r2 make swarm-deploy\n```').sort()).toEqual([
      'deploy',
      'status',
      'swarm-deploy',
    ])
    expect(makeTargets('`make nosuchtarget`').filter((t) => !MAKEFILE_TARGETS.has(t))).toEqual(['nosuchtarget'])
  })
})

// Names the pages show on purpose as what calmswap refuses.
const WRONG_ON_PURPOSE = ['CALMSWAP_HEALTH_PAHT']
const cwd = mkdtempSync(join(tmpdir(), 'calmswap-docs-'))

/** Whether loadConfig reports the variable as an unknown setting: its own lists decide. */
function unknownToConfig(name: string): boolean {
  try {
    loadConfig({ env: { [name]: '1' }, cwd })
    return false
  } catch (e) {
    return String((e as Error).message).includes(`unknown setting ${JSON.stringify(name)}`)
  }
}

describe('settings the pages name', () => {
  const named = [...new Set(PAGES.flatMap((p) => [...read(p).matchAll(/\bCALMSWAP_[A-Z0-9_]*[A-Z0-9]\b/g)].map((m) => m[0])))].sort()

  it('the pages name settings at all', () => expect(named.length).toBeGreaterThan(50))

  it.each(named.filter((n) => !WRONG_ON_PURPOSE.includes(n)))('%s is a setting or a variable calmswap knows', (name) => expect(unknownToConfig(name)).toBe(false))

  it.each(WRONG_ON_PURPOSE)('%s, shown as a typo, is refused', (name) => expect(unknownToConfig(name)).toBe(true))
})

describe('README', () => {
  // test/e2e/copy.test.ts installs what this block says; the e2e tier is not run on every change.
  it('docs/your-own-repo.md holds the install line a copied script needs', () =>
    expect(read('docs/your-own-repo.md')).toMatch(/<!-- copy-install -->\s*\n\s*```sh\n\s*npm install [^\n]+\n\s*```/))

  it('is read in ten minutes: at most 400 lines', () => expect(read('README.md').split('\n').length).toBeLessThanOrEqual(400))

  // A long page opens with a list of its sections, and the list follows the headings.
  it.each(PAGES.filter((p) => p.startsWith('docs/') && read(p).split('\n').length > 80))('%s links each of its sections from its contents', (page) => {
    const text = read(page)
    const sections = [...split(text).prose.matchAll(/^## (.+)$/gm)].map((m) => [...anchors(`## ${m[1]}`)][0] ?? '')
    const linked = new Set(
      links(text)
        .filter((t) => t.startsWith('#'))
        .map((t) => t.slice(1)),
    )
    expect(sections.filter((s) => !linked.has(s))).toEqual([])
  })
})
