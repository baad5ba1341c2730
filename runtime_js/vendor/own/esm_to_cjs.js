// ES module source as CommonJS, for require(esm) as Node 22.12+ has it: sucrase's "imports"
// transform (import/export to require/exports, with live bindings read through the required
// module, `import()` as a promise of a require), nothing else rewritten, lines kept. `import.meta`
// becomes `__actionhost_import_meta`, which the loader defines for each module.
// actionhost's own code, run as library code.
"use strict";

const { transform } = require("sucrase");

module.exports = function esmToCjs(code, filename) {
  const source = code.replace(/\bimport\s*\.\s*meta\b/g, "__actionhost_import_meta");
  return transform(source, {
    transforms: ["imports"],
    disableESTransforms: true,
    keepUnusedImports: true,
    preserveDynamicImport: false,
    filePath: filename,
  }).code;
};
