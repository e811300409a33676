const t = performance.now();
const h5 = (await import('h5wasm/node')).default;
const t1 = performance.now();
await h5.ready;
const t2 = performance.now();
console.log('import', (t1 - t).toFixed(0), 'ready', (t2 - t1).toFixed(0), 'cpu', process.cpuUsage());
