import { run } from './tool.js';

run();
