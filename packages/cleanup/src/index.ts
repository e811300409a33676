export * from './cleanup.js';
export * from './daemon.js';
