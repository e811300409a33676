#!/usr/bin/env -S node --max-semi-space-size=1 --expose-gc
import "../dist/cli.js";
