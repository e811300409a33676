export * from './nameserver.js';
export * from './registry.js';
export * from './ratelimit.js';
