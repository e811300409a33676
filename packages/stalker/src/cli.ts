/**
 * Entry point of the viirs-stalker bin. V8's optimising compilers are switched off before
 * anything is loaded (set VIIRS_NODE_OPTIMIZE=1 to keep them), as in the nameserver, the relay and
 * the gatherers: the latency tail is about half a millisecond shorter (p99 1.3-2.3 ms against
 * 1.7-2.8 ms over 1000 files, eight runs of each, interleaved), and the stalker still publishes
 * about 4000 files a second (twice the target; with them, about 8000); see packages/stalker/README.md.
 */
import v8 from 'node:v8';

if (!process.env.VIIRS_NODE_OPTIMIZE) v8.setFlagsFromString('--no-opt --no-maglev');
const { run } = await import('./main.js');
run();
