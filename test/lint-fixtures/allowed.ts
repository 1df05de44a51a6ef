// Positive control: config may import core.
import { ConfigError } from '@praxa/core';
export const probe = ConfigError;
