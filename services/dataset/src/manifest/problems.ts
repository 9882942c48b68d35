import { errors, type VigilError } from '@vigil/contracts';
import { type ManifestLineError, type ManifestProblem } from './types';

/** How many problems the summary message spells out before pointing at details.errors. */
const PROBLEMS_IN_MESSAGE = 3;

/**
 * Collects every problem of a manifest so the user can fix the file in one go, keeping at most `cap`
 * of them (the total is still counted) so a garbage upload cannot produce a huge error payload.
 */
export class ProblemCollector {
  readonly kept: ManifestLineError[] = [];
  total = 0;

  constructor(private readonly cap: number) {}

  add(line: number | null, problem: ManifestProblem, description: string): void {
    this.total += 1;
    if (this.kept.length < this.cap) {
      this.kept.push({ line, problem, message: line === null ? description : `line ${line}: ${description}` });
    }
  }

  get isEmpty(): boolean {
    return this.total === 0;
  }

  toError(): VigilError {
    return invalidManifestError(this.kept, this.total);
  }
}

export function invalidManifestError(problems: readonly ManifestLineError[], total = problems.length): VigilError {
  const shown = problems.slice(0, PROBLEMS_IN_MESSAGE).map((p) => p.message);
  const more = total - shown.length;
  const head = total === 1 ? 'Invalid manifest' : `Invalid manifest: ${total} problems`;
  const tail = more > 0 ? ` (and ${more} more; see details.errors)` : '';
  return errors.invalidManifest(`${head}: ${shown.join('; ')}${tail}`, {
    errors: problems,
    errorCount: total,
    truncated: total > problems.length,
  });
}
