export * from './config.js';
export * from './cli.js';
export * from './logging.js';
export * from './mail.js';
export * from './memory.js';
export * from './progress.js';
export * from './ini.js';
export * from './tle.js';
