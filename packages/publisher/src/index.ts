export * from './relay.js';
export * from './validate.js';
