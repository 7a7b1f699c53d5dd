import { setup } from './cluster-lifecycle.js';

export default setup;
