export {
  PraxaSharedStack,
  PraxaDedicatedTenantStack,
  InvalidTenantIdError,
  CertificateRegionError,
  TENANT_ID_PATTERN,
  type PraxaStackProps,
} from "./stacks.js";
export { PraxaTier, KEY_ADMIN_ACTIONS, type PraxaTierProps } from "./tier.js";
export {
  APP_NAMES,
  APP_PERMISSIONS,
  COMMON_ACTIONS,
  FORBIDDEN_ACTIONS,
  QUEUE_DEPTH_METRIC,
  appsUsing,
  renderRoleTable,
  type AppName,
  type AppPermissions,
} from "./permissions.js";
export {
  PRAXA_REGIONS,
  ALL_PRAXA_REGIONS,
  UnsupportedRegionError,
  validateRegion,
  geographyOf,
  type PraxaRegion,
} from "./regions.js";
export { buildApp, type BuildOptions } from "./app.js";
