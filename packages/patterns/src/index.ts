/**
 * @viirs/patterns — trollsift-compatible file-name patterns.
 *
 * - `new Parser(pattern)`: `.parse(s)`, `.tryParse(s)`, `.validate(s)`, `.compose(values)`,
 *   `.globify(values)`, `.keys`, `.regex` (compiled once per Parser).
 * - Function forms `parse`, `tryParse`, `validate`, `compose`, `globify` (cached parsers).
 * - `strftime(dt, fmt)`, `strptime(s, fmt)`: Python datetime formatting on PyDateTime.
 * - `pyFormat(value, spec)`: Python `format()`.
 * - Errors: `PatternError` (invalid pattern), `NoMatchError` (string does not match),
 *   `ComposeError` (missing or unformattable value); all extend `PatternsError`.
 */
export { Parser, getParser, parse, tryParse, validate, compose, globify, pyInt, pyFloat } from './parser.js';
export type { FieldValue, ParseResult, Values, ParseOptions, ComposeOptions, PartialDateTime } from './parser.js';
export { PatternsError, PatternError, NoMatchError, ComposeError } from './errors.js';
export { strftime, strptime, compileStrptime, StrptimeError, StrptimeFormatError } from './strftime.js';
export { pyFormat, pyStr, pyRepr, tokenize, parseSpec } from './format.js';
export type { Token, FieldToken, LiteralToken, FormatSpec } from './format.js';
