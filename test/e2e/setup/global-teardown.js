import { teardownAfterRun } from './cluster-lifecycle.js';

export default teardownAfterRun;
