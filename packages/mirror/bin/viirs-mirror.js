#!/usr/bin/env node
// Segments, background write-back and the HDF5 check share libuv's thread pool: make it larger
// than the default 4 before anything uses it.
process.env.UV_THREADPOOL_SIZE ??= '12';
await import('../dist/cli.js');
