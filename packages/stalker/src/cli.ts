/** Entry point of the viirs-stalker bin. */
import { run } from './main.js';

run();
