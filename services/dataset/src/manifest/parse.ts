import { type DefectClass, DefectClassSchema } from '@vigil/contracts';
import { z } from 'zod';
import { ProblemCollector } from './problems';
import {
  DEFAULT_LABEL_ATTRIBUTE,
  DEFAULT_MASK_ATTRIBUTE,
  GROUND_TRUTH_CLASSIFICATION,
  GROUND_TRUTH_SEGMENTATION,
  MANIFEST_DEFAULTS,
  ManifestProblem,
  type ManifestEntry,
  type ManifestLabel,
  type ManifestMask,
  type ManifestWarning,
  type ParseManifestOptions,
  type ParsedManifest,
} from './types';

type JsonObject = Record<string, unknown>;

const METADATA_SUFFIX = '-metadata';
const SOURCE_REF = 'source-ref';

const ColorMapSchema = z.record(
  z.string(),
  z.object(
    { 'class-name': z.string(), 'hex-color': z.string() },
    { error: 'each entry needs class-name and hex-color' },
  ),
  { error: 'internal-color-map must be an object' },
);

/**
 * Parses a SageMaker Ground Truth / Lookout for Vision manifest (JSON lines). Throws VigilError
 * INVALID_MANIFEST listing every problem found (up to `maxErrors`) so a user can fix the file in one go.
 */
export function parseManifest(text: string, options: ParseManifestOptions = {}): ParsedManifest {
  const maxLines = options.maxLines ?? MANIFEST_DEFAULTS.maxLines;
  const maxLineBytes = options.maxLineBytes ?? MANIFEST_DEFAULTS.maxLineBytes;
  const problems = new ProblemCollector(options.maxErrors ?? MANIFEST_DEFAULTS.maxErrors);
  const warnings: ManifestWarning[] = [];
  const parsed: ManifestEntry[] = [];
  const colors = new ColorRegistry(warnings);

  const lines = stripByteOrderMark(text).split(/\r?\n/);
  let nonBlank = 0;
  for (let index = 0; index < lines.length; index += 1) {
    const content = lines[index] ?? '';
    const line = index + 1;
    if (content.trim() === '') continue;
    nonBlank += 1;
    if (nonBlank > maxLines) {
      // Stop reading: a file this long is refused whatever the rest holds.
      problems.add(line, ManifestProblem.TooManyLines, `the manifest has more than ${maxLines} lines`);
      break;
    }
    const bytes = Buffer.byteLength(content, 'utf8');
    if (bytes > maxLineBytes) {
      problems.add(
        line,
        ManifestProblem.LineTooLong,
        `the line is ${bytes} bytes, more than the limit of ${maxLineBytes}`,
      );
      continue;
    }
    const entry = parseLine(content, line, options, problems, warnings);
    if (entry) {
      colors.check(entry);
      parsed.push(entry);
    }
  }
  if (nonBlank === 0) problems.add(null, ManifestProblem.EmptyManifest, 'the manifest has no entries');
  if (!problems.isEmpty) throw problems.toError();

  return { entries: dropDuplicates(parsed, warnings), warnings: warnings.sort((a, b) => a.line - b.line) };
}

function parseLine(
  content: string,
  line: number,
  options: ParseManifestOptions,
  problems: ProblemCollector,
  warnings: ManifestWarning[],
): ManifestEntry | null {
  let value: unknown;
  try {
    value = JSON.parse(content);
  } catch (error) {
    const reason = error instanceof SyntaxError ? `: ${truncate(error.message, 160)}` : '';
    problems.add(line, ManifestProblem.InvalidJson, `invalid JSON${reason}`);
    return null;
  }
  if (!isObject(value)) {
    problems.add(line, ManifestProblem.NotAnObject, `a manifest line must be a JSON object, got ${describe(value)}`);
    return null;
  }
  const before = problems.total;
  const sourceRef = readSourceRef(value, line, problems);
  const label = readLabel(value, line, options, problems, warnings);
  const mask = readMask(value, line, label, options, problems, warnings);
  if (problems.total > before || sourceRef === null || label === null || mask === null) return null;
  return { line, sourceRef, label, ...(mask === undefined ? {} : { mask }), raw: value };
}

function readSourceRef(value: JsonObject, line: number, problems: ProblemCollector): string | null {
  const ref = value[SOURCE_REF];
  if (ref === undefined || ref === null) {
    problems.add(line, ManifestProblem.MissingSourceRef, `missing "${SOURCE_REF}"`);
    return null;
  }
  if (typeof ref !== 'string' || ref.trim() === '') {
    problems.add(
      line,
      ManifestProblem.MissingSourceRef,
      `"${SOURCE_REF}" must be a non-empty string, got ${describe(ref)}`,
    );
    return null;
  }
  return ref;
}

function readLabel(
  value: JsonObject,
  line: number,
  options: ParseManifestOptions,
  problems: ProblemCollector,
  warnings: ManifestWarning[],
): ManifestLabel | null {
  const attribute = pickAttribute(value, GROUND_TRUTH_CLASSIFICATION, options.labelAttribute, DEFAULT_LABEL_ATTRIBUTE);
  if (attribute.kind === 'none') {
    const hint =
      options.labelAttribute ?? (DEFAULT_LABEL_ATTRIBUTE in value ? DEFAULT_LABEL_ATTRIBUTE : undefined) ?? null;
    problems.add(
      line,
      ManifestProblem.MissingLabel,
      hint === null
        ? `missing label: no attribute has a "<name>${METADATA_SUFFIX}" sibling of type ${GROUND_TRUTH_CLASSIFICATION} (e.g. "${DEFAULT_LABEL_ATTRIBUTE}")`
        : `missing label: "${hint}" needs a "${hint}${METADATA_SUFFIX}" sibling of type ${GROUND_TRUTH_CLASSIFICATION}`,
    );
    return null;
  }
  if (attribute.kind === 'many') {
    problems.add(
      line,
      ManifestProblem.AmbiguousLabel,
      `more than one classification label (${attribute.names.map((n) => `"${n}"`).join(', ')}); pass labelAttribute to choose`,
    );
    return null;
  }
  const name = attribute.name;
  const number = value[name];
  if (number === undefined || number === null) {
    problems.add(
      line,
      ManifestProblem.MissingLabel,
      `missing label: "${name}${METADATA_SUFFIX}" is present but "${name}" is not`,
    );
    return null;
  }
  if (typeof number !== 'number' || !Number.isInteger(number)) {
    problems.add(line, ManifestProblem.InvalidLabel, `"${name}" must be the number 0 or 1, got ${describe(number)}`);
    return null;
  }
  if (number !== 0 && number !== 1) {
    problems.add(
      line,
      ManifestProblem.UnknownLabelValue,
      `unknown label value ${number} in "${name}": Lookout labels are 1 (anomaly) or 0 (normal)`,
    );
    return null;
  }
  const valueMeans: ManifestLabel = number === 1 ? 'anomaly' : 'normal';
  const metadata = value[`${name}${METADATA_SUFFIX}`] as JsonObject;
  const className = metadata['class-name'];
  if (typeof className !== 'string') return valueMeans;

  const named = labelFromClassName(className);
  if (named === null) {
    warnings.push({
      code: 'unrecognised-class-name',
      line,
      attribute: name,
      className,
      message: `line ${line}: class-name "${className}" is not normal, good or anomaly; using "${name}": ${number} (${valueMeans})`,
    });
    return valueMeans;
  }
  if (named !== valueMeans) {
    warnings.push({
      code: 'label-conflict',
      line,
      attribute: name,
      value: number,
      valueMeans,
      className,
      label: named,
      message: `line ${line}: "${name}": ${number} means ${valueMeans} but class-name says "${className}"; using ${named}`,
    });
  }
  return named;
}

/** The mask of the line, undefined when there is none, null when it is broken (already reported). */
function readMask(
  value: JsonObject,
  line: number,
  label: ManifestLabel | null,
  options: ParseManifestOptions,
  problems: ProblemCollector,
  warnings: ManifestWarning[],
): ManifestMask | undefined | null {
  const attribute = pickAttribute(value, GROUND_TRUTH_SEGMENTATION, options.maskAttribute, DEFAULT_MASK_ATTRIBUTE);
  if (attribute.kind === 'none') return undefined;
  if (attribute.kind === 'many') {
    problems.add(
      line,
      ManifestProblem.AmbiguousMask,
      `more than one segmentation mask (${attribute.names.map((n) => `"${n}"`).join(', ')}); pass maskAttribute to choose`,
    );
    return null;
  }
  const name = attribute.name;
  const ref = value[name];
  if (typeof ref !== 'string' || ref.trim() === '') {
    problems.add(
      line,
      ManifestProblem.InvalidMask,
      ref === undefined
        ? `"${name}${METADATA_SUFFIX}" is present but "${name}" is not`
        : `"${name}" must be a non-empty string, got ${describe(ref)}`,
    );
    return null;
  }
  const metadata = value[`${name}${METADATA_SUFFIX}`] as JsonObject;
  const classes = readColorMap(metadata['internal-color-map'], name, line, problems);
  if (classes === null) return null;
  if (label === 'anomaly' && classes.length === 0) {
    problems.add(
      line,
      ManifestProblem.InvalidMask,
      `the colour map of "${name}" has no defect class besides BACKGROUND`,
    );
    return null;
  }
  if (label === 'normal') {
    warnings.push({
      code: 'mask-on-normal',
      line,
      message: `line ${line}: a normal image has a mask ("${name}"); kept`,
    });
  }
  return { ref, classes };
}

function readColorMap(
  value: unknown,
  attribute: string,
  line: number,
  problems: ProblemCollector,
): DefectClass[] | null {
  const where = `"${attribute}${METADATA_SUFFIX}".internal-color-map`;
  if (value === undefined) {
    problems.add(line, ManifestProblem.InvalidMask, `${where} is missing`);
    return null;
  }
  const map = ColorMapSchema.safeParse(value);
  if (!map.success) {
    const issue = map.error.issues[0];
    const [key, ...field] = issue?.path.map(String) ?? [];
    const at = key === undefined ? '' : ` entry "${key}"${field.length > 0 ? ` ${field.join('.')}` : ''}`;
    problems.add(line, ManifestProblem.InvalidMask, `${where}${at}: ${issue?.message ?? 'invalid'}`);
    return null;
  }
  const classes: DefectClass[] = [];
  const seenNames = new Set<string>();
  const seenColors = new Set<string>();
  let broken = false;
  for (const key of Object.keys(map.data).sort(compareColorMapKeys)) {
    const raw = map.data[key];
    if (!raw || isBackground(raw['class-name'])) continue;
    const parsed = DefectClassSchema.safeParse({ name: raw['class-name'], color: raw['hex-color'] });
    if (!parsed.success) {
      problems.add(
        line,
        ManifestProblem.InvalidMask,
        `${where} entry "${key}": ${parsed.error.issues[0]?.message ?? 'invalid'}`,
      );
      broken = true;
      continue;
    }
    const nameKey = parsed.data.name.toLowerCase();
    const colorKey = parsed.data.color.toLowerCase();
    if (seenNames.has(nameKey) || seenColors.has(colorKey)) {
      const what = seenNames.has(nameKey) ? `class "${parsed.data.name}"` : `colour ${parsed.data.color}`;
      problems.add(line, ManifestProblem.InvalidMask, `${where} entry "${key}": ${what} appears twice`);
      broken = true;
      continue;
    }
    seenNames.add(nameKey);
    seenColors.add(colorKey);
    classes.push(parsed.data);
  }
  return broken ? null : classes;
}

type AttributeChoice = { kind: 'none' } | { kind: 'one'; name: string } | { kind: 'many'; names: string[] };

/**
 * Ground Truth names label attributes after the labelling job, so the attribute is found through its
 * `<name>-metadata` sibling's `type`. The metadata may exist without the attribute; that is reported later.
 */
function pickAttribute(
  value: JsonObject,
  type: string,
  explicit: string | undefined,
  preferred: string,
): AttributeChoice {
  const hasType = (name: string): boolean => metadataType(value[`${name}${METADATA_SUFFIX}`]) === type;
  if (explicit !== undefined) return hasType(explicit) ? { kind: 'one', name: explicit } : { kind: 'none' };
  const names = Object.keys(value)
    .filter((key) => key.endsWith(METADATA_SUFFIX) && key.length > METADATA_SUFFIX.length)
    .map((key) => key.slice(0, -METADATA_SUFFIX.length))
    .filter(hasType);
  const [only] = names;
  if (only === undefined) return { kind: 'none' };
  if (names.length === 1) return { kind: 'one', name: only };
  return names.includes(preferred) ? { kind: 'one', name: preferred } : { kind: 'many', names };
}

function metadataType(value: unknown): string | null {
  if (!isObject(value) || typeof value.type !== 'string') return null;
  return value.type.trim().toLowerCase();
}

export function labelFromClassName(className: string): ManifestLabel | null {
  const name = className.trim().toLowerCase();
  if (name === 'normal' || name === 'good') return 'normal';
  if (name === 'anomaly') return 'anomaly';
  return null;
}

export function isBackground(className: string): boolean {
  return className.trim().toLowerCase() === 'background';
}

/** Colour map keys are class indices ("0", "1", …); order them numerically, anything else after, by text. */
function compareColorMapKeys(a: string, b: string): number {
  const na = /^\d+$/.test(a) ? Number(a) : Number.POSITIVE_INFINITY;
  const nb = /^\d+$/.test(b) ? Number(b) : Number.POSITIVE_INFINITY;
  if (na !== nb) return na - nb;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Remembers the first colour of each defect class so a class painted differently later is flagged once. */
class ColorRegistry {
  private readonly first = new Map<string, { color: string; line: number }>();
  private readonly flagged = new Set<string>();

  constructor(private readonly warnings: ManifestWarning[]) {}

  check(entry: ManifestEntry): void {
    for (const cls of entry.mask?.classes ?? []) {
      const name = cls.name.toLowerCase();
      const seen = this.first.get(name);
      if (!seen) {
        this.first.set(name, { color: cls.color, line: entry.line });
        continue;
      }
      const pair = `${name}\u0000${cls.color.toLowerCase()}`;
      if (seen.color.toLowerCase() === cls.color.toLowerCase() || this.flagged.has(pair)) continue;
      this.flagged.add(pair);
      this.warnings.push({
        code: 'inconsistent-class-color',
        line: entry.line,
        className: cls.name,
        color: cls.color,
        firstColor: seen.color,
        firstLine: seen.line,
        message: `line ${entry.line}: class "${cls.name}" is ${cls.color} here but ${seen.color} on line ${seen.line}`,
      });
    }
  }
}

/** Last line wins: a later line for the same image is taken to be a correction appended to the file. */
function dropDuplicates(entries: ManifestEntry[], warnings: ManifestWarning[]): ManifestEntry[] {
  const lastIndex = new Map<string, number>();
  entries.forEach((entry, index) => lastIndex.set(entry.sourceRef, index));
  if (lastIndex.size === entries.length) return entries;

  const kept: ManifestEntry[] = [];
  const previousLine = new Map<string, number>();
  const duplicates: ManifestWarning[] = [];
  entries.forEach((entry, index) => {
    const earlier = previousLine.get(entry.sourceRef);
    if (earlier !== undefined) {
      duplicates.push({
        code: 'duplicate-source-ref',
        line: entry.line,
        sourceRef: entry.sourceRef,
        droppedLine: earlier,
        message: `line ${entry.line}: "${entry.sourceRef}" already appeared on line ${earlier}; line ${entry.line} wins`,
      });
    }
    previousLine.set(entry.sourceRef, entry.line);
    if (lastIndex.get(entry.sourceRef) === index) kept.push(entry);
  });
  warnings.push(...duplicates);
  return kept;
}

function stripByteOrderMark(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `"${truncate(value, 40)}"`;
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${truncate(String(value), 40)}`;
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
