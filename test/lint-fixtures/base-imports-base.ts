// config sits on core only; it may not reach sideways into observability.
import { createLogger } from '@praxa/observability';
export const probe = createLogger;
