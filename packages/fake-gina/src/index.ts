export { FakeGina, parseRange, validateFaultRule, productFromJson } from './server.js';
export type { FakeGinaOptions, RangeResult } from './server.js';
export type { Product, FaultRule, FaultMode, FaultMatch, FaultParams, RequestLogEntry, Stats } from './types.js';
export { FAULT_MODES } from './types.js';
export {
  makeSdrFile,
  makeSdrFileSync,
  writeSdrFile,
  writeSdrFileSync,
  cachedSdrFile,
  defaultCacheDir,
  hdf5Ready,
  hdf5TopLevel,
  hasHdf5Signature,
  notHdf5Bytes,
  HDF5_SIGNATURE,
} from './hdf5.js';
export {
  realisticPasses,
  sdrProduct,
  granuleNames,
  orbitAt,
  platformOf,
  fixtures,
  FIXTURE_NAMES,
  GRANULE_SECONDS,
  ORBIT_SECONDS,
} from './passes.js';
export type { PassesOptions, ProductOptions, GranuleSpec, FixtureSet } from './passes.js';
export { parseSdrName, formatSdrName, formatPassDir, parsePassDir, collectionName, DEFAULT_CHANNELS, PLATFORM_IDS, SATELLITES } from './names.js';
export type { SdrName } from './names.js';
export { parseCatalogQuery, parseQueryPairs, parseDateBound, matchesQuery, productTime, formDecode } from './query.js';
export type { CatalogQuery } from './query.js';
export { startLiveFeed } from './live.js';
export type { LiveFeed, LiveFeedOptions } from './live.js';
export { syntheticTle } from './elements.js';
