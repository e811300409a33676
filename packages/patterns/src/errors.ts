/** Errors of the pattern library. All extend `PatternsError`, so one `instanceof` catches them all. */

export class PatternsError extends Error {
  override name = 'PatternsError';
}

/** The pattern itself is invalid (bad braces, bad field name, unsupported format spec …). */
export class PatternError extends PatternsError {
  override name = 'PatternError';
  constructor(
    message: string,
    readonly pattern: string,
  ) {
    super(`${message} (pattern ${JSON.stringify(pattern)})`);
  }
}

/** A string does not match a pattern (Python's trollsift raises ValueError). */
export class NoMatchError extends PatternsError {
  override name = 'NoMatchError';
  constructor(
    readonly pattern: string,
    readonly input: string,
    /** Why: the regex did not match, or a field did not convert (e.g. "unconverted data remains: 4567"). */
    readonly reason: string,
  ) {
    super(`${JSON.stringify(input)} does not match pattern ${JSON.stringify(pattern)}: ${reason}`);
  }
}

/** A value cannot be formatted (missing key, wrong type for the spec, bad spec for the type). */
export class ComposeError extends PatternsError {
  override name = 'ComposeError';
}
