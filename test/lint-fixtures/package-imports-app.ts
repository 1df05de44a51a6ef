// Packages never import apps.
import { probe as p } from '../../../apps/cli/src/main.js';
export const probe = p;
