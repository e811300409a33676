#!/usr/bin/env -S node --max-semi-space-size=1 --optimize-for-size --expose-gc
// V8's optimising compilers are switched off before anything is loaded (VIIRS_NODE_OPTIMIZE=1
// keeps them): the gatherer's latency tail and resident size are smaller without them, and it
// still gathers hundreds of granules a second (see packages/gatherer/README.md, Performance).
// --optimize-for-size: V8 grows the heap less in a burst (RSS a second after 1000 granules
// 64 MB instead of 70), at no measurable cost in throughput or latency here.
// --expose-gc: when it goes quiet after work, the gatherer compacts its heap before it hands freed
// memory back (packages/common/src/memory.ts, startMallocTrim); and after a file message that
// completes no granule it collects its young generation if that is more than half full
// (youngCollector), so the scavenge does not fall on the message that completes one.
import v8 from "node:v8";

if (!process.env.VIIRS_NODE_OPTIMIZE) v8.setFlagsFromString("--no-opt --no-maglev");
await import("../dist/cli.js");
