/** Entry point of the viirs-mirror bin. */
import { run } from './main.js';

run();
