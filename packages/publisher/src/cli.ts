/**
 * Entry point of the viirs-publisher bin. V8's optimising compilers are switched off before
 * anything is loaded (set VIIRS_NODE_OPTIMIZE=1 to keep them): the relay stays about 6 MB
 * smaller and flat, and still relays far more than the suite ever sends (see bench/relay.bench.ts).
 */
import v8 from 'node:v8';

if (!process.env.VIIRS_NODE_OPTIMIZE) v8.setFlagsFromString('--no-opt --no-maglev --optimize-for-size');
const { run } = await import('./main.js');
run();
