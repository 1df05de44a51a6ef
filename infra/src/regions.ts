/**
 * The regions Praxa offers (the product pages: "Dedicated tenant in your region of choice (US, EU, AU)"). A stack's
 * region is a parameter validated against this list — for the shared tier it comes from configuration
 * (PRAXA_SHARED_REGION or the `praxa:sharedRegion` context), for a dedicated tenant from the tenant's choice.
 */
export const PRAXA_REGIONS = {
  us: ["us-east-1", "us-east-2", "us-west-2"],
  eu: ["eu-west-1", "eu-central-1"],
  au: ["ap-southeast-2"],
} as const;

type PraxaGeography = keyof typeof PRAXA_REGIONS;
export type PraxaRegion = (typeof PRAXA_REGIONS)[PraxaGeography][number];

export const ALL_PRAXA_REGIONS: readonly PraxaRegion[] = Object.values(PRAXA_REGIONS).flat();

export class UnsupportedRegionError extends Error {
  readonly code = "INFRA_UNSUPPORTED_REGION";
  constructor(region: string) {
    super(`region "${region}" is not one Praxa offers; one of: ${ALL_PRAXA_REGIONS.join(", ")}`);
    this.name = "UnsupportedRegionError";
  }
}

/** The region, checked; throws UnsupportedRegionError for anything else (including an unresolved token or ""). */
export function validateRegion(region: string | undefined): PraxaRegion {
  if (region === undefined || !(ALL_PRAXA_REGIONS as readonly string[]).includes(region))
    throw new UnsupportedRegionError(String(region));
  return region as PraxaRegion;
}

export function geographyOf(region: PraxaRegion): PraxaGeography {
  for (const [geo, regions] of Object.entries(PRAXA_REGIONS) as [PraxaGeography, readonly string[]][])
    if (regions.includes(region)) return geo;
  throw new UnsupportedRegionError(region);
}
