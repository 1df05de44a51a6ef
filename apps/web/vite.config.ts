/**
 * The console's build: static files only (index.html and hashed assets), served by the api from the same origin
 * (apps/api/src/console.ts). No inline script (the CSP forbids it), no CDN: every asset is in dist/.
 */
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "/",
  plugins: [react()],
  // The api's client from its TypeScript source: the console builds on a fresh clone (lint runs before any tsc build).
  resolve: {
    alias: {
      "@praxa/api-client": fileURLToPath(new URL("../../packages/api-client/src/index.ts", import.meta.url)),
    },
  },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // No data: URLs for small assets — the CSP allows only 'self'.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
  },
});
