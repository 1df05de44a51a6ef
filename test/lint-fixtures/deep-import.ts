// No deep imports across packages: only the entry point.
import { newId } from '@praxa/core/src/ids.js';
export const probe = newId;
