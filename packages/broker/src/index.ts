export * from './broker.js';
export * from './queue.js';
export * from './granule.js';
export * from './request.js';
export * from './elements.js';
export * from './main.js';
