/**
 * @viirs/stalker — trollstalker replacement: inotify (close-write, moved-to) → posttroll `file`
 * messages with exactly trollstalker's data.
 */
export { Stalker, type StalkerOptions, type StalkerStats } from './stalker.js';
export { InotifyWatcher, openForWriting, findExecutable, nativeInotify, resolveInotifySource, INOTIFY_SOURCES, type InotifySourceKind, type WatcherOptions, type WatcherStats, type Origin } from './watcher.js';
export { FileInfoBuilder, alignTime, type FileInfo, type BuildResult } from './fileinfo.js';
export {
  resolveSettings,
  readSection,
  parseAliases,
  parseVars,
  parseEventNames,
  DEFAULT_CONFIG_FILE,
  DEFAULT_SECTION,
  DEFAULT_EVENTS,
  type StalkerSettings,
  type StalkerOverrides,
  type ResolveInput,
  type WatchEvent,
} from './config.js';
export { resolveCli, main, type StalkerArgs, type ResolvedCli } from './main.js';
