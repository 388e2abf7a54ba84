import { afterAll } from '@jest/globals';
import { ServiceProcess } from '../support/service-process.js';

// A service process a failed test left running must not outlive its test file: see ServiceProcess.running.
afterAll(() => ServiceProcess.killAll());
