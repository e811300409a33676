export * from './nameserver.js';
export * from './registry.js';
