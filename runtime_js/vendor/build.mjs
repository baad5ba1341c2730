// Bundles each vendored npm package into one CommonJS factory body in dist/ (run by build.sh,
// inside a temporary directory where `npm ci` installed package-lock.json's exact versions).
// dist/modules.json maps each module name to its file. The runtime compiles a body as
// function (module, exports, require) the first time an action requires that module
// (runtime_js/42_node_builtins.js, which gets the text from the host: sandbox/isolate.py).
// Other built-ins stay external: the bundle's require() resolves them through requireBuiltin.
import { build } from "esbuild";
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const [modulesDir, outDir, ownDir, licenseDir, versionsFile] = process.argv.slice(2);

// name as actions require it -> [package, entry file inside node_modules]
const MODULES = {
  "internal/buffer_npm": ["buffer", "buffer/index.js"],
  "internal/events_npm": ["events", "events/events.js"],
  string_decoder: ["string_decoder", "string_decoder/lib/string_decoder.js"],
  punycode: ["punycode", "punycode/punycode.js"],
  path: ["path-browserify", "path-browserify/index.js"],
  "internal/querystring_es3": ["querystring-es3", "querystring-es3/index.js"],
  querystring: [null, "own/querystring.js"],
  "internal/url_legacy": ["url", "url/url.js"],
  // readable-stream's fallback while the runtime has no AbortController global
  "internal/abort_controller": ["abort-controller", "abort-controller/dist/abort-controller.js"],
  stream: ["readable-stream", "readable-stream/lib/ours/browser.js"],
  // actionhost's own implementations (own/), where no npm package has Node's current behaviour
  buffer: [null, "own/buffer.js"],
  events: [null, "own/events.js"],
  process: [null, "own/process.js"],
  util: [null, "own/util.js"],
  "internal/deep_equal": [null, "own/deep_equal.js"],
  assert: [null, "own/assert.js"],
  os: [null, "own/os.js"],
  timers: [null, "own/timers.js"],
  perf_hooks: [null, "own/perf_hooks.js"],
  url: [null, "own/url.js"],
  diagnostics_channel: [null, "own/diagnostics_channel.js"],
  // require(esm): ES module source as CommonJS (sucrase), loaded only when an action's package
  // tree has an ES module that is required (runtime_js/lazy/cjs.js)
  "internal/esm_to_cjs": [null, "own/esm_to_cjs.js"],
  // the WHATWG stream globals and Node's stream/web (web-streams-polyfill's ponyfill)
  "stream/web": [null, "own/stream_web.js"],
  // the structuredClone global (42_node_builtins.js)
  "internal/structured_clone": [null, "own/structured_clone.js"],
};

// resolved by the runtime's require for vendored code, never bundled
const EXTERNAL = ["buffer", "buffer/", "events", "events/", "string_decoder", "string_decoder/", "punycode",
  "punycode/", "querystring", "process", "process/", "abort-controller", "util", "stream", "url", "path", "internal/*"];

// Small source patches to vendored packages where Node 22 behaves otherwise (listed in VERSIONS):
// [file inside node_modules, text found exactly once, replacement]
const PATCHES = [
  ["events/events.js", "if (console && console.warn) console.warn(warning);", "process.emitWarning(warning);"],
  ["events/events.js", "'added. Use emitter.setMaxListeners() to ' +",
    "'added to [' + ((target.constructor && target.constructor.name) || 'EventEmitter') + ']. MaxListeners is ' + m + '. Use emitter.setMaxListeners() to ' +"],
  ["events/events.js", "var err = new Error('Unhandled error.' + (er ? ' (' + er.message + ')' : ''));",
    "var err = new Error('Unhandled error. (' + require('util').inspect(er) + ')'); err.code = 'ERR_UNHANDLED_ERROR';"],
];
const patchPlugin = {
  name: "patches",
  setup(b) {
    b.onLoad({ filter: /\.js$/ }, (args) => {
      const mine = PATCHES.filter(([file]) => args.path.endsWith("/node_modules/" + file));
      if (mine.length === 0) return undefined;
      let text = readFileSync(args.path, "utf8");
      for (const [file, from, to] of mine) {
        if (text.split(from).length !== 2) throw new Error(`patch for ${file} does not apply: ${from}`);
        text = text.replace(from, () => to);
      }
      return { contents: text, loader: "js" };
    });
  },
};

const index = {};
const bundled = {}; // npm package -> the modules whose bundle holds it
for (const [name, [pkg, entry]] of Object.entries(MODULES)) {
  const version = pkg === null ? "" : JSON.parse(readFileSync(join(modulesDir, pkg, "package.json"), "utf8")).version;
  const result = await build({
    entryPoints: [pkg === null ? join(ownDir, entry.slice(4)) : join(modulesDir, entry)],
    bundle: true,
    write: false,
    format: "cjs",
    platform: "neutral",
    mainFields: ["main"],
    target: "es2022",
    charset: "ascii",
    legalComments: "none",
    minifyWhitespace: true,
    minifySyntax: true,
    minifyIdentifiers: false,
    keepNames: true,
    external: EXTERNAL,
    nodePaths: [modulesDir], // own/ code bundles npm packages too (own/esm_to_cjs.js: sucrase)
    logLevel: "warning",
    metafile: true,
    plugins: [patchPlugin],
  });
  for (const input of Object.keys(result.metafile.inputs)) {
    const match = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input);
    if (match) (bundled[match[1]] ??= new Set()).add(name);
  }
  const code = result.outputFiles[0].text.trimEnd();
  // the runtime decodes bundles as ASCII (42_node_builtins.js asciiText)
  if (/[^\x00-\x7f]/.test(code)) throw new Error(`${name}: the bundle is not ASCII`);
  const file = name.replaceAll("/", "_") + ".js";
  writeFileSync(join(outDir, file),
    (pkg === null
      ? `// Node's "${name}": actionhost's own ${entry} (see ../VERSIONS), bundled by runtime_js/vendor/build.sh; do not edit.\n`
      : `// Node's "${name}": ${pkg} ${version} (see ../VERSIONS), bundled by runtime_js/vendor/build.sh; do not edit.\n`) +
    `${code}\n`);
  index[name] = file;
  console.log(`${file}: ${pkg ?? entry} ${version}, ${code.length} bytes`);
}
writeFileSync(join(outDir, "modules.json"), JSON.stringify(index, null, 1) + "\n");

// VERSIONS and the licence text of every npm package that ended up in a bundle
rmSync(licenseDir, { recursive: true, force: true });
mkdirSync(licenseDir);
const lines = ["# npm packages bundled into runtime_js/vendor/dist/ by build.sh (versions from package-lock.json)",
  "# package\tversion\tlicence\tsource\tin modules"];
for (const pkg of Object.keys(bundled).sort()) {
  const meta = JSON.parse(readFileSync(join(modulesDir, pkg, "package.json"), "utf8"));
  const license = readdirSync(join(modulesDir, pkg)).find((f) => /^licen[cs]e/i.test(f));
  if (license === undefined) throw new Error(`no licence file in ${pkg}`);
  copyFileSync(join(modulesDir, pkg, license), join(licenseDir, `${pkg.replace("/", "__")}-${meta.version}.txt`));
  const spdx = meta.license ?? (pkg === "querystring-es3" ? "MIT" : "see licence file");
  lines.push([pkg, meta.version, spdx, `npm:${pkg}@${meta.version}`, [...bundled[pkg]].join(",")].join("\t"));
}
for (const [file, from] of PATCHES) lines.push(`# patched: ${file}: ${from}`);
lines.push("# actionhost's own library code (own/), same licence as actionhost:");
for (const [name, [pkg, entry]] of Object.entries(MODULES)) if (pkg === null) lines.push(`# ${name}\t${entry}`);
writeFileSync(versionsFile, lines.join("\n") + "\n");
