// core imports nothing of ours.
import { loadConfig } from '@praxa/config';
export const probe = loadConfig;
