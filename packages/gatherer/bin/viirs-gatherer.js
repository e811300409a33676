#!/usr/bin/env -S node --max-semi-space-size=1
// V8's optimising compilers are switched off before anything is loaded (VIIRS_NODE_OPTIMIZE=1
// keeps them): the gatherer's latency tail and resident size are smaller without them, and it
// still gathers hundreds of granules a second (see packages/gatherer/README.md, Performance).
import v8 from "node:v8";

if (!process.env.VIIRS_NODE_OPTIMIZE) v8.setFlagsFromString("--no-opt --no-maglev");
await import("../dist/cli.js");
