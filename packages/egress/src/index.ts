export { EgressRefusedError, EgressTimeoutError, EgressTooLargeError, EgressUnavailableError } from "./errors.js";
export {
  classifyAddress,
  judgeAddress,
  parseAllowCidrs,
  type AddressVerdict,
  type AllowList,
} from "./address-policy.js";
export { egressPolicy, EgressSettingsSchema, type EgressPolicy, type EgressSettings } from "./egress-policy.js";
export {
  resolveEgressTarget,
  systemResolver,
  type EgressTarget,
  type ResolvedAddress,
  type Resolver,
} from "./resolve-target.js";
export { egressRequest, type EgressOptions, type EgressRequest, type EgressResponse } from "./egress-request.js";
