import { defineConfig } from 'tsdown';

// Two entries, each as ESM and CommonJS with its own declarations; code the
// entries share lands in one chunk, so a service that loads both still has a
// single client implementation. OpenFeature stays external: an optional peer.
// The protocol (@rollcall/protocol, a workspace package the SDK shares with the
// server) is bundled, code and declarations: the SDK installs with no dependency.
export default defineConfig({
  entry: { index: 'src/index.ts', openfeature: 'src/openfeature.ts' },
  format: ['esm', 'cjs'],
  platform: 'node',
  target: 'node18',
  dts: { eager: true },
  outDir: 'dist',
  clean: true,
  sourcemap: false,
  deps: { neverBundle: ['@openfeature/server-sdk'], alwaysBundle: ['@rollcall/protocol'] },
  tsconfig: 'tsconfig.build.json',
  // One licence for the repository; the package carries a copy made at build time.
  copy: [{ from: '../LICENSE', to: '.' }],
  // The declarations carry the doc comments for editors; the JavaScript need not
  // carry them a second and third time (once per format): a smaller tarball. For
  // the same reason whitespace goes and the code is compressed, and names local to
  // a function are shortened; top-level names stay (stack traces name the module's
  // functions and classes), and every function keeps its `name`.
  outputOptions: {
    comments: { jsdoc: false, legal: true, annotation: true },
    minify: { compress: true, mangle: { toplevel: false, keepNames: true }, codegen: { removeWhitespace: true } },
  },
  // `npm test` and `npm run bench` build first: say what was built, not how long each plugin took.
  checks: { pluginTimings: false },
});
