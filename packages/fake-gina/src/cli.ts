/** Entry point of the viirs-fake-gina bin. */
import { runMain } from '@viirs/common';
import { main } from './main.js';

await runMain('viirs-fake-gina', () => main());
