export * from './config.js';
export * from './segments.js';
export * from './status.js';
export * from './parsers.js';
export * from './state.js';
export * from './gatherer.js';
export * from './service.js';
