// The console never imports config (service credentials) or crypto.
import { bootConfig } from '@praxa/config';
import * as crypto from '@praxa/crypto';
export const probe = [bootConfig, crypto];
