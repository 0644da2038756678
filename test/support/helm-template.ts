import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseAllDocuments, parse as parseYaml, stringify as stringifyYaml } from 'yaml';

/**
 * A stand-in for `helm template` (Helm 3), for the subset of Go templates and Helm functions that
 * deploy/helm/ioc-platform uses — Helm itself cannot be installed on the test machines (no Debian
 * package; no download at install time). What it implements, with Go text/template's semantics:
 *
 * - actions `{{ … }}` with the whitespace trim markers `{{-` and `-}}`, and `{{/* comments *\/}}`;
 * - values: `.`, `$`, field chains (`.Values.a.b`, `$.Files.Get`, `$name.field`), "strings"
 *   (with \" and \\ escapes), integers;
 * - `if PIPELINE` / `else` / `end` (Go truthiness: false, 0, "", nil, empty map or list are false);
 * - `range PIPELINE` and `range $key, $value := PIPELINE` over maps (keys sorted, as Go does) and
 *   lists; `.` is the element inside;
 * - pipelines `a | f b` (the piped value is the last argument);
 * - Helm's functions quote, toYaml, indent, nindent, b64enc, required, default, base, and the
 *   objects .Values, .Release.Name, .Release.Namespace, .Chart.Name/.Version/.AppVersion,
 *   .Files.Get and .Files.Glob ("dir/*.ext" patterns).
 *
 * Anything else (define/include/tpl, other functions, parentheses, variables assigned outside
 * range) throws "not in the stand-in subset", which keeps the chart within what is rendered here.
 * A missing value renders as "" (Helm replaces Go's "<no value>" by an empty string).
 */

/** What a chart is rendered with: values merged over values.yaml, as `helm template --set`/`-f`. */
export interface HelmRenderOptions {
  releaseName: string;
  namespace?: string;
  /** Deep-merged over the chart's values.yaml (maps merge; other values replace). */
  values?: Record<string, unknown>;
}

/** One rendered manifest, with the template file it came from. */
export interface RenderedManifest {
  template: string;
  document: Record<string, unknown>;
}

type Scope = { dot: unknown; root: unknown; vars: Map<string, unknown> };

type Node =
  | { kind: 'text'; text: string }
  | { kind: 'action'; pipeline: string }
  | { kind: 'if'; pipeline: string; then: Node[]; else: Node[] }
  | { kind: 'range'; pipeline: string; keyVar?: string; valueVar?: string; body: Node[] };

class SubsetError extends Error {}

/** Splits a template into text and action tokens, applying the trim markers. */
function tokenize(source: string): Array<{ text: string } | { action: string }> {
  const tokens: Array<{ text: string } | { action: string }> = [];
  let position = 0;
  let trimNext = false;
  while (position < source.length) {
    const open = source.indexOf('{{', position);
    let text = source.slice(position, open === -1 ? source.length : open);
    if (trimNext) text = text.replace(/^\s+/, '');
    trimNext = false;
    if (open === -1) {
      tokens.push({ text });
      break;
    }
    const close = source.indexOf('}}', open);
    if (close === -1) throw new SubsetError(`unclosed action at offset ${open}`);
    let inner = source.slice(open + 2, close);
    if (inner.startsWith('-') && /^-\s/.test(inner)) {
      text = text.replace(/\s+$/, '');
      inner = inner.slice(1);
    }
    if (/\s-$/.test(inner)) {
      trimNext = true;
      inner = inner.slice(0, -1);
    }
    tokens.push({ text });
    tokens.push({ action: inner.trim() });
    position = close + 2;
  }
  return tokens;
}

/** Builds the tree of if/range blocks. */
function parseTemplate(source: string): Node[] {
  const root: Node[] = [];
  const stack: Array<{ nodes: Node[]; block?: Extract<Node, { kind: 'if' | 'range' }>; inElse?: boolean }> = [
    { nodes: root },
  ];
  const current = () => stack[stack.length - 1]!;
  for (const token of tokenize(source)) {
    if ('text' in token) {
      if (token.text !== '') current().nodes.push({ kind: 'text', text: token.text });
      continue;
    }
    const action = token.action;
    if (action.startsWith('/*')) continue;
    const [keyword] = action.split(/\s+/, 1);
    if (keyword === 'if') {
      const node: Node = { kind: 'if', pipeline: action.slice(2).trim(), then: [], else: [] };
      current().nodes.push(node);
      stack.push({ nodes: node.then, block: node });
    } else if (keyword === 'range') {
      const rest = action.slice(5).trim();
      const withVars = /^(\$\w+)\s*,\s*(\$\w*)\s*:=\s*(.+)$/.exec(rest);
      const oneVar = /^(\$\w+)\s*:=\s*(.+)$/.exec(rest);
      const node: Node = withVars
        ? { kind: 'range', keyVar: withVars[1]!, valueVar: withVars[2]!, pipeline: withVars[3]!, body: [] }
        : oneVar
          ? { kind: 'range', valueVar: oneVar[1]!, pipeline: oneVar[2]!, body: [] }
          : { kind: 'range', pipeline: rest, body: [] };
      current().nodes.push(node);
      stack.push({ nodes: node.body, block: node });
    } else if (keyword === 'else') {
      const frame = current();
      if (frame.block?.kind !== 'if' || frame.inElse || action !== 'else')
        throw new SubsetError(`"{{ ${action} }}" is not in the stand-in subset (plain else of an if only)`);
      frame.nodes = frame.block.else;
      frame.inElse = true;
    } else if (keyword === 'end') {
      if (stack.length === 1) throw new SubsetError('{{ end }} without a block');
      stack.pop();
    } else if (['define', 'template', 'block', 'with', 'include', 'tpl'].includes(keyword ?? '')) {
      throw new SubsetError(`"{{ ${action} }}" is not in the stand-in subset`);
    } else {
      current().nodes.push({ kind: 'action', pipeline: action });
    }
  }
  if (stack.length !== 1) throw new SubsetError('a block is not closed with {{ end }}');
  return root;
}

/** Splits a pipeline into commands and each command into operands, respecting "strings". */
function splitPipeline(pipeline: string): string[][] {
  if (/[()]/.test(pipeline.replace(/"(?:[^"\\]|\\.)*"/g, '""')))
    throw new SubsetError(`parentheses are not in the stand-in subset: ${pipeline}`);
  const commands: string[][] = [[]];
  const pattern = /"(?:[^"\\]|\\.)*"|\||[^\s|]+/g;
  for (const match of pipeline.matchAll(pattern)) {
    if (match[0] === '|') commands.push([]);
    else commands[commands.length - 1]!.push(match[0]);
  }
  if (commands.some((command) => command.length === 0))
    throw new SubsetError(`empty command in "${pipeline}"`);
  return commands;
}

function truthy(value: unknown): boolean {
  if (value === undefined || value === null || value === false || value === 0 || value === '') return false;
  if (Array.isArray(value)) return value.length > 0;
  if (typeof value === 'object') return Object.keys(value as object).length > 0;
  return true;
}

/** Go's fmt.Sprint of the value types the chart prints (a missing value prints as ""). */
function print(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean')
    return String(value);
  throw new SubsetError(`cannot print a ${Array.isArray(value) ? 'list' : 'map'} (use toYaml)`);
}

const indentLines = (spaces: number, text: string): string =>
  text
    .split('\n')
    .map((line) => ' '.repeat(spaces) + line)
    .join('\n');

const FUNCTIONS: Record<string, (...args: unknown[]) => unknown> = {
  quote: (...args) => args.map((value) => JSON.stringify(print(value))).join(' '),
  toYaml: (value) => stringifyYaml(value ?? null).replace(/\n$/, ''),
  indent: (spaces, text) => indentLines(Number(spaces), print(text)),
  nindent: (spaces, text) => `\n${indentLines(Number(spaces), print(text))}`,
  b64enc: (text) => Buffer.from(print(text), 'utf8').toString('base64'),
  required: (message, value) => {
    if (value === undefined || value === null || value === '') throw new Error(`required: ${print(message)}`);
    return value;
  },
  default: (fallback, value) => (truthy(value) ? value : fallback),
  base: (path) => basename(print(path)),
};

function resolveChain(start: unknown, fields: string[], text: string): unknown {
  let value = start;
  for (const field of fields) {
    if (field === '') continue;
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'object') throw new SubsetError(`"${text}": .${field} of a ${typeof value}`);
    value = (value as Record<string, unknown>)[field];
  }
  return value;
}

function evaluateOperand(operand: string, scope: Scope): unknown {
  if (operand.startsWith('"')) return JSON.parse(operand) as string;
  if (/^-?\d+$/.test(operand)) return Number(operand);
  if (operand === 'true' || operand === 'false') return operand === 'true';
  if (operand === '.') return scope.dot;
  if (operand.startsWith('.')) return resolveChain(scope.dot, operand.slice(1).split('.'), operand);
  if (operand.startsWith('$')) {
    const [name, ...fields] = operand.split('.');
    const base = name === '$' ? scope.root : scope.vars.get(name!);
    if (name !== '$' && !scope.vars.has(name!)) throw new SubsetError(`undefined variable ${name}`);
    return resolveChain(base, fields, operand);
  }
  throw new SubsetError(`"${operand}" is not a value in the stand-in subset`);
}

function evaluatePipeline(pipeline: string, scope: Scope): unknown {
  let piped: { value: unknown } | undefined;
  for (const [head, ...rest] of splitPipeline(pipeline)) {
    const args = rest.map((operand) => evaluateOperand(operand, scope));
    if (piped) args.push(piped.value);
    let result: unknown;
    if (/^[A-Za-z]\w*$/.test(head!)) {
      const fn = FUNCTIONS[head!];
      if (!fn) throw new SubsetError(`function "${head}" is not in the stand-in subset`);
      result = fn(...args);
    } else {
      const value = evaluateOperand(head!, scope);
      if (typeof value === 'function') result = (value as (...a: unknown[]) => unknown)(...args);
      else if (args.length > 0) throw new SubsetError(`"${head}" is not a function: ${pipeline}`);
      else result = value;
    }
    piped = { value: result };
  }
  return piped?.value;
}

function renderNodes(nodes: Node[], scope: Scope): string {
  let out = '';
  for (const node of nodes) {
    switch (node.kind) {
      case 'text':
        out += node.text;
        break;
      case 'action':
        out += print(evaluatePipeline(node.pipeline, scope));
        break;
      case 'if':
        out += renderNodes(truthy(evaluatePipeline(node.pipeline, scope)) ? node.then : node.else, scope);
        break;
      case 'range': {
        const collection = evaluatePipeline(node.pipeline, scope);
        if (collection === undefined || collection === null) break;
        const entries: Array<[unknown, unknown]> = Array.isArray(collection)
          ? collection.map((value, index) => [index, value])
          : typeof collection === 'object'
            ? Object.keys(collection as object)
                .sort()
                .map((key) => [key, (collection as Record<string, unknown>)[key]])
            : (() => {
                throw new SubsetError(`range over a ${typeof collection}`);
              })();
        for (const [key, value] of entries) {
          const vars = new Map(scope.vars);
          if (node.keyVar) vars.set(node.keyVar, key);
          if (node.valueVar && node.valueVar !== '$_') vars.set(node.valueVar, value);
          if (node.valueVar === '$_') vars.set('$_', value);
          out += renderNodes(node.body, { dot: value, root: scope.root, vars });
        }
        break;
      }
    }
  }
  return out;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const existing = merged[key];
    merged[key] = isPlainObject(existing) && isPlainObject(value) ? deepMerge(existing, value) : value;
  }
  return merged;
}

/**
 * Renders every `templates/*.yaml` of the chart at `chartDir` (files starting with `_` and
 * NOTES.txt are skipped, as Helm does) and parses the YAML documents; empty documents are left
 * out, as `helm template` leaves them out.
 *
 * @throws Error "required: …" when a `required` value is missing (as `helm template` fails);
 *   SubsetError when a template uses something outside the subset; YAML errors when the output
 *   is not YAML.
 */
export function renderHelmChart(chartDir: string, options: HelmRenderOptions): RenderedManifest[] {
  const chart = parseYaml(readFileSync(join(chartDir, 'Chart.yaml'), 'utf8')) as Record<string, string>;
  const defaults = (parseYaml(readFileSync(join(chartDir, 'values.yaml'), 'utf8')) ?? {}) as Record<
    string,
    unknown
  >;
  const files = {
    Get: (path: unknown) => readFileSync(join(chartDir, print(path)), 'utf8'),
    Glob: (pattern: unknown) => {
      const match = /^([\w./-]+)\/\*(\.\w+)$/.exec(print(pattern));
      if (!match) throw new SubsetError(`.Files.Glob "${print(pattern)}": only "dir/*.ext" patterns`);
      const [, dir, extension] = match;
      return Object.fromEntries(
        readdirSync(join(chartDir, dir!))
          .filter((name) => name.endsWith(extension!))
          .sort()
          .map((name) => [`${dir}/${name}`, true]),
      );
    },
  };
  const root = {
    Values: deepMerge(defaults, options.values ?? {}),
    Release: { Name: options.releaseName, Namespace: options.namespace ?? 'default', Service: 'Helm' },
    Chart: { Name: chart['name'], Version: chart['version'], AppVersion: chart['appVersion'] },
    Files: files,
  };
  const manifests: RenderedManifest[] = [];
  const templatesDir = join(chartDir, 'templates');
  for (const name of readdirSync(templatesDir).sort()) {
    if (name.startsWith('_') || !/\.ya?ml$/.test(name)) continue;
    const text = renderNodes(parseTemplate(readFileSync(join(templatesDir, name), 'utf8')), {
      dot: root,
      root,
      vars: new Map(),
    });
    for (const document of parseAllDocuments(text)) {
      if (document.errors.length > 0) throw new Error(`templates/${name}: ${document.errors[0]!.message}`);
      const value = document.toJS() as unknown;
      if (value === null || value === undefined) continue;
      if (!isPlainObject(value)) throw new Error(`templates/${name}: a document is not a mapping`);
      manifests.push({ template: `templates/${name}`, document: value });
    }
  }
  return manifests;
}
