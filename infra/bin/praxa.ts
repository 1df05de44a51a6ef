#!/usr/bin/env node
// `cdk synth` entry (cdk.json): the shared tier and the dedicated tenants from context/environment, offline.
import { buildApp } from "../src/app.js";

// Under the CDK CLI, CDK_OUTDIR is set; run directly (`pnpm --filter @praxa/infra synth`), it writes cdk.out/.
buildApp({ env: process.env, outdir: process.env.CDK_OUTDIR ?? "cdk.out" }).app.synth();
