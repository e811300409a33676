export * from './datetime.js';
export * from './pyjson.js';
